"""Supervised fine-tuning (SFT): the baseline of every distillation method.

    L(θ) = - (1/N) Σ_{(x, y)} Σ_t log q_θ(y_t | y_<t, x)          (N = target tokens of the step)

The targets are gold responses; SeqKD (``labkit.methods.seqkd``) is the same objective on the
teacher's responses. See docs/methods.md §1.
"""

from __future__ import annotations

from dataclasses import dataclass

from labkit import losses
from labkit import sequences as S
from labkit.loop import History, TrainConfig, prepare_model, run_loop
from labkit.methods.base import RolloutObjective, response_tokens, rollout_lengths

NAME = "sft"


@dataclass
class SFTSettings:
    """SFT has no settings of its own (the optimisation is in labkit.loop.TrainConfig)."""


Settings = SFTSettings


class SFTObjective(RolloutObjective):
    """Cross-entropy on the response tokens of fixed rollouts."""

    name = NAME

    def __init__(self, student, tokenizer, config: TrainConfig, rollouts: list[dict]):
        super().__init__(student, None, tokenizer, config)
        self.rollouts = rollouts
        self.meta = {"n_examples": len(rollouts)}

    def lengths(self):
        return rollout_lengths(self.rollouts)

    def prepare(self, indices):
        self.current = {i: self.rollouts[i] for i in indices}
        return {"ce": response_tokens(self.rollouts, indices)}

    def loss(self, indices, totals):
        b = self.batch(indices)
        labels = b["response"].masked_fill(~b["response_mask"], losses.IGNORE_INDEX)
        ce = losses.token_cross_entropy(S.response_logits(self.student, b).float(), labels, reduction="sum")
        ce = ce / max(totals["ce"], 1)
        return ce, {"ce": float(ce.detach())}


def train(
    student,
    tokenizer,
    prompts: list[str] | None = None,
    targets: list[str] | None = None,
    *,
    config: TrainConfig | None = None,
    rollouts: list[dict] | None = None,
    on_step=None,
) -> History:
    """Fine-tune `student` on prompt -> target texts (or ready ``rollouts``); returns the History
    ("loss", "loss/ce": mean per target token). on_step: see ``labkit.loop.run_loop``."""
    config = config or TrainConfig()
    student = prepare_model(student, config)
    data = rollouts if rollouts is not None else S.encode_rollouts(tokenizer, prompts, targets, config.max_len)
    return run_loop(student, config, SFTObjective(student, tokenizer, config, data), on_step)
