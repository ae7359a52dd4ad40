"""Distilling step-by-step (Hsieh et al., Findings of ACL 2023, "Distilling step-by-step! Outperforming
larger language models with less training data and smaller model sizes").

Black-box: only the teacher's text is used. A teacher LLM gives each training question a rationale
r and a label ŷ (few-shot chain of thought). The student learns both as two tasks with prefixes,

    [label] x -> y        [rationale] x -> r
    L = α · L_label + (1 - α) · L_rationale                 (the paper's code, α = 0.5)

(the paper writes L_label + λ L_rationale; α = 1/(1+λ) has the same minimiser). At test time only
the label task runs: no rationale is needed at inference. The paper's baselines are the same loop
with other settings: standard fine-tuning (gold labels, no rationale: ``teacher=None``) and standard
distillation (the teacher's labels: ``label_source=<teacher>``, no rationale). See docs/methods.md §2.
"""

from __future__ import annotations

from dataclasses import dataclass

from labkit.loop import History, TrainConfig
from labkit.methods.base import is_unit, need, settings_of, train_multitask

NAME = "dss"


@dataclass
class DSSSettings:
    """Args:
    teacher: whose rationales are the second task (None: no rationale task = plain fine-tuning).
    alpha: α, the weight of the label loss, in [0, 1] (1 - α goes to the rationale loss).
    label_source: "gold" labels, or a teacher's labels (standard distillation).
    lam: λ of the paper's form L_label + λ · L_rationale (the label loss at weight 1); when given it replaces
        alpha (the same minimiser as α = 1/(1+λ), a loss 1 + λ times larger).
    """

    teacher: str | None = None
    alpha: float = 0.5
    label_source: str = "gold"
    lam: float | None = None

    def __post_init__(self):
        need(
            self,
            "teacher",
            self.teacher is None or (isinstance(self.teacher, str) and self.teacher),
            "None or a teacher name",
        )
        need(self, "alpha", is_unit(self.alpha), "a number in [0, 1]")
        need(self, "label_source", isinstance(self.label_source, str) and self.label_source, "'gold' or a teacher name")
        need(
            self,
            "lam",
            self.lam is None
            or (isinstance(self.lam, (int, float)) and not isinstance(self.lam, bool) and self.lam >= 0),
            "None or a number >= 0",
        )

    def weights(self) -> dict[str, float]:
        """{task: weight}: α on the label, 1 - α on the rationale (all on the label without a teacher); with lam,
        1 on the label and λ on the rationale."""
        if self.teacher is None:
            return {"answer": 1.0}
        if self.lam is not None:
            return {"answer": 1.0, f"rationale:{self.teacher}": float(self.lam)}
        return {"answer": self.alpha, f"rationale:{self.teacher}": 1.0 - self.alpha}


Settings = DSSSettings


def train(student, tokenizer, records, *, config: TrainConfig | None = None, on_step=None, **settings) -> History:
    """Distilling step-by-step (or its baselines) on `records`; returns the History with "loss",
    "loss/answer", "loss/rationale:<teacher>". settings: see ``DSSSettings``."""
    s = settings_of(DSSSettings, settings)
    history = train_multitask(
        student, tokenizer, records, s.weights(), label_source=s.label_source, config=config, name=NAME, on_step=on_step
    )
    history.meta.update(vars(s))
    return history
