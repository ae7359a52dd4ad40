"""Generalized knowledge distillation, GKD (Agarwal et al., ICLR 2024, "On-policy distillation of
language models: learning from self-generated mistakes").

Per optimiser step, with probability λ the step trains on the student's own samples y ~ q_θ(·|x)
(on-policy, no gradient through the sampling); otherwise on fixed data (the targets, or the
teacher's outputs). The token-level loss on those sequences is the generalized JSD:

    L(θ) = E_{(x, y)} (1/|y|) Σ_t JSD_β( p(·|y_<t, x) ‖ q_θ(·|y_<t, x) )
    JSD_β(p ‖ q) = β KL(p ‖ M) + (1 - β) KL(q ‖ M),   M = β p + (1 - β) q

with the lab's convention (as TRL and Liger): β = 0 is exactly forward KL(p‖q), β = 1 exactly
reverse KL(q‖p) (docs/methods.md §1, §5). λ = 0, β = 0 is supervised forward KD
(labkit.methods.wordkd with kind="forward_kl"): a test checks the two gradients agree.
"""

from __future__ import annotations

from dataclasses import dataclass

from labkit import losses
from labkit import sequences as S
from labkit.errors import LabkitError
from labkit.loop import History, TrainConfig, prepare_model, run_loop
from labkit.methods.base import (
    RolloutObjective,
    check_store,
    is_unit,
    need,
    prompt_rollouts,
    response_tokens,
    settings_of,
    stored_divergence,
    teacher_outputs,
)

NAME = "gkd"


@dataclass
class GKDSettings:
    """Args:
    lmbda: λ, the probability that a step trains on the student's own samples, in [0, 1].
    beta: β of the generalized JSD, in [0, 1] (0 = forward KL, 1 = reverse KL).
    temperature: τ, for the divergence and the student's sampling.
    max_new_tokens: length limit of samples (student and teacher).
    """

    lmbda: float = 0.5
    beta: float = 0.5
    temperature: float = 1.0
    max_new_tokens: int = 64

    def __post_init__(self):
        need(self, "lmbda", is_unit(self.lmbda), "a number in [0, 1]")
        need(self, "beta", is_unit(self.beta), "a number in [0, 1]")
        need(self, "temperature", isinstance(self.temperature, (int, float)) and self.temperature > 0, "a number > 0")
        need(
            self, "max_new_tokens", isinstance(self.max_new_tokens, int) and self.max_new_tokens >= 1, "an integer >= 1"
        )


Settings = GKDSettings


class GKDObjective(RolloutObjective):
    """Each step: on-policy with probability λ (student samples), else the fixed rollouts; JSD_β loss."""

    name = NAME

    def __init__(
        self,
        student,
        teacher,
        tokenizer,
        config,
        prompts,
        fixed,
        settings: GKDSettings,
        vocab_padding_ok=False,
        teacher_signals=None,
    ):
        super().__init__(student, teacher, tokenizer, config, vocab_padding_ok=vocab_padding_ok)
        self.s, self.vocab_padding_ok = settings, vocab_padding_ok
        self.prompt_only = prompt_rollouts(tokenizer, prompts, config.max_len)
        self.fixed = fixed if fixed is not None else [None] * len(prompts)  # None: teacher output, made on use
        if teacher_signals is not None:
            if fixed is None:
                raise LabkitError(
                    "teacher_signals need the off-policy sequences up front: pass targets (or the "
                    "teacher's outputs as targets) that the signals were captured on"
                )
            check_store(teacher_signals, fixed)
        if teacher is None and (teacher_signals is None or settings.lmbda > 0):
            raise LabkitError(
                "GKD needs a live teacher unless λ = 0 and teacher_signals are given (on-policy "
                "sequences are the student's own: no stored signal covers them)"
            )
        self.store, self.on_policy = teacher_signals, False
        self.name = f"gkd λ={settings.lmbda} β={settings.beta}"
        self.meta = {"n_examples": len(prompts), **vars(settings)}

    def lengths(self):
        return [len(p["prompt"]) + self.s.max_new_tokens for p in self.prompt_only]

    def scores_with_teacher(self):
        return self.on_policy or self.store is None  # an off-policy step with captured signals runs no teacher

    def prepare(self, indices):
        on_policy = self.on_policy = self.coin.random() < self.s.lmbda
        if on_policy:
            self.current = self.sample(
                indices, self.prompt_only, max_new_tokens=self.s.max_new_tokens, temperature=self.s.temperature
            )
        else:
            missing = [i for i in indices if self.fixed[i] is None]
            if missing:
                made = teacher_outputs(
                    self.teacher,
                    self.tokenizer,
                    [self.prompt_only[i]["prompt"] for i in missing],
                    self.config,
                    max_new_tokens=self.s.max_new_tokens,
                )
                for i, r in zip(missing, made):
                    self.fixed[i] = r
            self.current = {i: self.fixed[i] for i in indices}
        n = response_tokens(self.current, indices)
        self.log(on_policy=float(on_policy), gen_len=n / len(indices))
        return {"jsd": n}

    def loss(self, indices, totals):
        b = self.batch(indices)
        student_logits = S.response_logits(self.student, b)
        if self.store is not None and not self.on_policy:  # off-policy step: the captured signals
            jsd = stored_divergence(
                student_logits,
                b["response_mask"],
                self.store,
                indices,
                kind="jsd",
                beta=self.s.beta,
                temperature=self.s.temperature,
                estimator="topk",
            )
        else:
            jsd = losses.divergence(
                student_logits,
                S.teacher_logits(self.teacher, b),
                kind="jsd",
                beta=self.s.beta,
                temperature=self.s.temperature,
                mask=b["response_mask"],
                reduction="sum",
                vocab_padding_ok=self.vocab_padding_ok,
            )
        jsd = jsd / max(totals["jsd"], 1)
        return jsd, {"jsd": float(jsd.detach())}


def train(
    student,
    teacher,
    tokenizer,
    prompts: list[str],
    targets: list[str] | None = None,
    *,
    config: TrainConfig | None = None,
    vocab_padding_ok: bool = False,
    teacher_signals=None,
    on_step=None,
    **settings,
) -> History:
    """GKD of `teacher` into `student` on `prompts` (off-policy data: `targets`, or the teacher's
    greedy outputs when None, generated once per prompt on first use).

    teacher_signals: a labkit.signals.SignalStore captured on the (prompt, target) rollouts: off-policy steps read
    JSD_β from its top-k + tail (biased low, docs/methods.md §7) instead of running the teacher; on-policy steps
    still need the live teacher (the student's samples are new every step).
    settings: see ``GKDSettings`` (lmbda, beta, temperature, max_new_tokens). on_step: see ``labkit.loop.run_loop``.
    Returns: History with "loss", "loss/jsd", "on_policy" (1 = the step used student samples), "gen_len";
    meta["last_rollouts"] holds the sequences of the last step.
    """
    config, s = config or TrainConfig(), settings_of(GKDSettings, settings)
    student = prepare_model(student, config)
    fixed = S.encode_rollouts(tokenizer, prompts, targets, config.max_len) if targets is not None else None
    objective = GKDObjective(student, teacher, tokenizer, config, prompts, fixed, s, vocab_padding_ok, teacher_signals)
    history = run_loop(student, config, objective, on_step)
    history.meta["last_rollouts"] = dict(objective.current)
    return history
