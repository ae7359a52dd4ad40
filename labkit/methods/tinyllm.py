"""TinyLLM (Tian et al., WSDM 2025, arXiv 2402.04616, "TinyLLM: Learning a small student from multiple
large language models").

M teachers T_1..T_M each write a rationale R_i^m for question Q_i with options O_i, *knowing* the
gold answer A_i (teacher-forced chain of thought) and with k in-context examples P_i
(labkit.prompts, labkit.rationales). The student learns the answer and every teacher's rationale,
each task with its own prefix p_A, p_m:

    L = L_A + Σ_m α_m L_{T_m},
    L_A = CE(S(Q, O, p_A), A),      L_{T_m} = CE(S(Q, O, p_m), R^m)

α_m per teacher; the paper searches α in {0.01, 0.1, 0.5, 1, 2, 3}. Label-only fine-tuning is
``alphas={}``; the ablation "w/o T_m" drops teacher m. See docs/methods.md §3.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from labkit.loop import History, TrainConfig
from labkit.methods.base import need, settings_of, train_multitask

NAME = "tinyllm"


@dataclass
class TinyLLMSettings:
    """Args:
    alphas: {teacher: α_m >= 0}, the weight of each teacher's rationale loss ({} = label only).
    answer_weight: the weight of L_A (1 in the paper).
    label_source: "gold" answers (the paper), or a teacher's labels.
    """

    alphas: dict[str, float] = field(default_factory=dict)
    answer_weight: float = 1.0
    label_source: str = "gold"

    def __post_init__(self):
        need(
            self,
            "alphas",
            isinstance(self.alphas, dict)
            and all(isinstance(t, str) and isinstance(a, (int, float)) and a >= 0 for t, a in self.alphas.items()),
            "a dict {teacher name: α >= 0}",
        )
        need(
            self,
            "answer_weight",
            isinstance(self.answer_weight, (int, float)) and self.answer_weight >= 0,
            "a number >= 0",
        )

    def weights(self) -> dict[str, float]:
        return {"answer": self.answer_weight, **{f"rationale:{t}": a for t, a in self.alphas.items()}}


Settings = TinyLLMSettings


def train(student, tokenizer, records, *, config: TrainConfig | None = None, on_step=None, **settings) -> History:
    """TinyLLM on `records` (their .rationales hold each teacher's rationale); returns the History with
    "loss", "loss/answer", "loss/rationale:<teacher>". settings: see ``TinyLLMSettings``."""
    s = settings_of(TinyLLMSettings, settings)
    history = train_multitask(
        student, tokenizer, records, s.weights(), label_source=s.label_source, config=config, name=NAME, on_step=on_step
    )
    history.meta.update(alphas=dict(s.alphas), answer_weight=s.answer_weight)
    return history
