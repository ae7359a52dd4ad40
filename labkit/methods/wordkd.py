"""Word-level (token-level) KD: match the teacher's next-token distribution on fixed sequences.

    kd_t = D(p(·|y_<t, x) ‖ q_θ(·|y_<t, x))        any divergence of labkit.losses (docs/methods.md §1)
    loss = (1 - kd_ratio) · CE + kd_ratio · KD      each a mean over the step's target tokens

with kd_ratio = 1 - ce_weight. With the forward KL this is the classic white-box KD of
Hinton et al. (2015) applied per token (Kim & Rush, 2016, "word-level KD"); MiniLLM uses it as a
baseline. The sequences are the gold targets (teacher-forced), never the student's samples:
for those see labkit.methods.gkd.
"""

from __future__ import annotations

from dataclasses import dataclass

from labkit import losses
from labkit import sequences as S
from labkit.loop import History, TrainConfig, prepare_model, run_loop
from labkit.methods.base import (
    RolloutObjective,
    check_store,
    is_unit,
    need,
    response_tokens,
    rollout_lengths,
    settings_of,
    stored_divergence,
)

NAME = "wordkd"


@dataclass
class WordKDSettings:
    """Args:
    kind: the divergence (labkit.losses.KINDS), default forward KL(p‖q).
    beta: β of "jsd" (0 = forward KL, 1 = reverse KL).
    skew: α of the skew kinds.
    temperature: τ dividing both logits.
    ce_weight: weight of the cross-entropy on the targets, in [0, 1] (kd_ratio = 1 - ce_weight).
    """

    kind: str = "forward_kl"
    beta: float = 0.5
    skew: float = 0.1
    temperature: float = 1.0
    ce_weight: float = 0.0

    def __post_init__(self):
        need(self, "kind", self.kind in losses.KINDS, f"one of {', '.join(losses.KINDS)}")
        need(self, "beta", is_unit(self.beta), "a number in [0, 1]")
        need(self, "skew", is_unit(self.skew), "a number in [0, 1]")
        need(self, "temperature", isinstance(self.temperature, (int, float)) and self.temperature > 0, "a number > 0")
        need(self, "ce_weight", is_unit(self.ce_weight), "a number in [0, 1]")


Settings = WordKDSettings


class WordKDObjective(RolloutObjective):
    name = NAME

    def __init__(
        self,
        student,
        teacher,
        tokenizer,
        config,
        rollouts,
        settings: WordKDSettings,
        vocab_padding_ok=False,
        teacher_signals=None,
        estimator: str = "topk",
    ):
        super().__init__(student, teacher, tokenizer, config, vocab_padding_ok=vocab_padding_ok)
        self.rollouts, self.s, self.vocab_padding_ok = rollouts, settings, vocab_padding_ok
        check_store(teacher_signals, rollouts)
        self.store, self.estimator = teacher_signals, estimator
        self.name = f"kd:{settings.kind}"
        self.meta = {"n_examples": len(rollouts), **vars(settings)}

    def lengths(self):
        return rollout_lengths(self.rollouts)

    def prepare(self, indices):
        self.current = {i: self.rollouts[i] for i in indices}
        return {"kd": response_tokens(self.rollouts, indices)}

    def loss(self, indices, totals):
        s, b = self.s, self.batch(indices)
        n = max(totals["kd"], 1)
        student_logits = S.response_logits(self.student, b)  # (B, R, V)
        if self.store is not None:  # captured once, no teacher here
            kd = (
                stored_divergence(
                    student_logits,
                    b["response_mask"],
                    self.store,
                    indices,
                    kind=s.kind,
                    beta=s.beta,
                    temperature=s.temperature,
                    estimator=self.estimator,
                )
                / n
            )
        else:
            teacher_logits = S.teacher_logits(self.teacher, b)  # (B, R, V), no grad
            kd = (
                losses.divergence(
                    student_logits,
                    teacher_logits,
                    kind=s.kind,
                    beta=s.beta,
                    skew=s.skew,
                    temperature=s.temperature,
                    mask=b["response_mask"],
                    reduction="sum",
                    vocab_padding_ok=self.vocab_padding_ok,
                )
                / n
            )
        labels = b["response"].masked_fill(~b["response_mask"], losses.IGNORE_INDEX)
        ce = losses.token_cross_entropy(student_logits.float(), labels, reduction="sum") / n
        kd_ratio = 1.0 - s.ce_weight
        loss = (1 - kd_ratio) * ce + kd_ratio * kd
        return loss, {"kd": float(kd.detach()), "ce": float(ce.detach())}


def train(
    student,
    teacher,
    tokenizer,
    prompts: list[str] | None = None,
    targets: list[str] | None = None,
    *,
    config: TrainConfig | None = None,
    rollouts: list[dict] | None = None,
    vocab_padding_ok: bool = False,
    teacher_signals=None,
    estimator: str = "topk",
    **settings,
) -> History:
    """Word-level KD of `teacher` into `student` on prompt -> target texts (or ``rollouts``).

    teacher_signals: a labkit.signals.SignalStore captured on these rollouts: the KD term reads it (top-k + tail,
    or estimator="sampled") and the teacher is never run (it may be None).
    settings: see ``WordKDSettings`` (kind, beta, skew, temperature, ce_weight).
    Returns: History with "loss", "loss/kd", "loss/ce".
    """
    config, s = config or TrainConfig(), settings_of(WordKDSettings, settings)
    student = prepare_model(student, config)
    data = rollouts if rollouts is not None else S.encode_rollouts(tokenizer, prompts, targets, config.max_len)
    return run_loop(
        student,
        config,
        WordKDObjective(student, teacher, tokenizer, config, data, s, vocab_padding_ok, teacher_signals, estimator),
    )
