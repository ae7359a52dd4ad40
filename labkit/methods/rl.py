"""Reinforcement learning on a verifiable reward, with group-relative advantages (GRPO: Shao et al., 2024,
"DeepSeekMath: pushing the limits of mathematical reasoning in open language models", §4.1), optionally with
a KL penalty to the initial student and a per-token reverse KL to a teacher (RL + on-policy distillation).

For each prompt x the student samples a group of G responses y_1..y_G ~ q_θ(·|x); each earns one reward,
R_i = 1 when its final answer is correct (labkit.answers), else 0. Its advantage is relative to the group:

    A_i = (R_i - mean_j R_j) / (std_j R_j + ε)          (scale=False: R_i - mean_j R_j, "Dr. GRPO")

and every token of y_i carries the same A_i. One update per batch of samples (the policy that sampled is the
policy being updated, so PPO's ratio is 1 and its clipping never acts); with N the response tokens of the step,

    L(θ) = -(1/N) Σ_i Σ_t A_i log q_θ(y_i,t | y_i,<t, x)
           + β_KL (1/N) Σ_i Σ_t [ e^{l_ref - l} - (l_ref - l) - 1 ]            (l = log q_θ(y_i,t|·), l_ref: the
                                                                               initial student; k3 estimator)
           + λ_T  (1/N) Σ_i Σ_t KL(q_θ(·|y_i,<t, x) ‖ p(·|y_i,<t, x))         (distill = λ_T > 0: a teacher p)

The first term's gradient is the policy gradient -E[A ∇ log q_θ(y)]: one number per episode, spread over all
its tokens. The last is on-policy distillation's loss (labkit.methods.gkd at λ = 1, β = 1; Agarwal et al.,
2024; Thinking Machines Lab, "On-policy distillation", 2025): the teacher grades every token. A group whose
rewards are all equal (all right or all wrong) has A = 0: it teaches RL nothing.

Token-level normalisation (1/N over the step's tokens, as in labkit.loop) rather than GRPO's per-sequence mean:
long answers are not down-weighted (Liu et al., 2025, "Understanding R1-Zero-like training"). The ledger
(labkit.compute) counts the G samples, the training forward and backward over them, the reference's and the
teacher's forwards, and the reward (a rule: 0 FLOPs).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass

import torch

from labkit import answers as answer_lib
from labkit import compute, data, losses
from labkit import sequences as S
from labkit.errors import LabkitError
from labkit.loop import History, TrainConfig, prepare_model, run_loop
from labkit.methods.base import RolloutObjective, need, prompt_rollouts, settings_of

NAME = "rl"


# --------------------------------------------------------------------------- the pieces of the loss


def final_answer(text: str | None) -> str | None:
    """The answer a solution ends on: what it states after "the answer is" (labkit.answers.stated_answer), else
    the last number it writes ("3 plus 4 is 7." -> "7"), else None."""
    if not text:
        return None
    record = data.Record("", "", "")
    if answer_lib._ANSWER_IS.search(text):
        return answer_lib.stated_answer(text, record)
    found = answer_lib._NUMBER.findall(text)
    return found[-1].replace(",", "") if found else None


def correct(text: str, answer: str) -> bool:
    """Whether a generated text's final answer (``final_answer``) is `answer` (labkit.answers.is_correct)."""
    return answer_lib.is_correct(final_answer(text), data.Record("", "", str(answer)))


def correctness_rewards(texts: list[str], gold: list[str]) -> torch.Tensor:
    """(N,) float32: 1 where texts[i] states gold[i], else 0."""
    if len(texts) != len(gold):
        raise LabkitError(f"{len(texts)} texts but {len(gold)} answers; expected one answer per text")
    return torch.tensor([float(correct(t, a)) for t, a in zip(texts, gold)])


def group_advantages(rewards: torch.Tensor, *, scale: bool = True, eps: float = 1e-4) -> torch.Tensor:
    """GRPO's advantages of a (P, G) reward table (one row per prompt, its G samples): reward minus the row mean,
    divided by the row's standard deviation (Bessel-corrected, as torch.std) + eps when scale. A row of equal
    rewards gives zeros. Returns (P, G) float32."""
    if rewards.dim() != 2 or rewards.shape[1] < 2:
        raise LabkitError(
            f"rewards of shape {tuple(rewards.shape)}: expected (prompts, G) with G >= 2 samples per prompt"
        )
    r = rewards.float()
    a = r - r.mean(1, keepdim=True)
    if not scale:
        return a
    sd = r.std(1, keepdim=True)
    return torch.where(sd > 0, a / (sd + eps), torch.zeros_like(a))  # equal rewards: 0, never 0/0


def kl_k3(logp: torch.Tensor, ref_logp: torch.Tensor) -> torch.Tensor:
    """Per-token estimate of KL(q_θ ‖ q_ref) on tokens sampled from q_θ: e^{l_ref - l} - (l_ref - l) - 1 >= 0,
    differentiable in logp (Schulman's k3; GRPO's penalty)."""
    d = ref_logp.detach() - logp
    return d.exp() - d - 1


def surrogate(
    logp: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    *,
    ref_logp: torch.Tensor | None = None,
    kl_coef: float = 0.0,
) -> dict[str, torch.Tensor]:
    """The per-token terms of the loss, summed over counted tokens (divide by N yourself).

    Args:
        logp: (B, T) differentiable log q_θ(y_t | y_<t, x) of the sampled tokens.
        advantages: (B,) one advantage per sample (detached here).
        mask: (B, T) bool, True = a response token.
        ref_logp: (B, T) the reference model's log-probs of the same tokens (needed when kl_coef > 0).
    Returns: {"pg": -Σ A_i l_i,t, "kl": Σ k3 (0 without a reference)}: scalars.
    """
    if logp.shape != mask.shape or advantages.shape != logp.shape[:1]:
        raise LabkitError(
            f"logp {tuple(logp.shape)}, mask {tuple(mask.shape)}, advantages {tuple(advantages.shape)}: "
            "expected (B, T), (B, T) and (B,)"
        )
    m = mask.to(logp.dtype)
    pg = -(advantages.detach().to(logp)[:, None] * logp * m).sum()
    if kl_coef > 0 and ref_logp is None:
        raise LabkitError("surrogate: kl_coef > 0 needs ref_logp (the initial student's log-probs)")
    kl = (kl_k3(logp, ref_logp) * m).sum() if ref_logp is not None else logp.new_zeros(())
    return {"pg": pg, "kl": kl}


# --------------------------------------------------------------------------- settings and objective


@dataclass
class RLSettings:
    """Args:
    group_size: G, samples per prompt (>= 2: the advantage is relative to the group).
    scale: divide the advantage by the group's standard deviation (GRPO); False keeps R - mean (Dr. GRPO).
    kl_coef: β_KL >= 0, weight of the KL penalty to the initial student (0: no reference model).
    distill: λ_T >= 0, weight of the per-token reverse KL to the teacher on the same samples (needs a teacher).
    temperature: the student's sampling temperature.
    max_new_tokens: length limit of samples.
    """

    group_size: int = 4
    scale: bool = True
    kl_coef: float = 0.0
    distill: float = 0.0
    temperature: float = 1.0
    max_new_tokens: int = 64

    def __post_init__(self):
        need(self, "group_size", isinstance(self.group_size, int) and self.group_size >= 2, "an integer >= 2")
        need(self, "scale", isinstance(self.scale, bool), "True or False")
        for name in ("kl_coef", "distill"):
            v = getattr(self, name)
            need(self, name, isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0, "a number >= 0")
        need(self, "temperature", isinstance(self.temperature, (int, float)) and self.temperature > 0, "a number > 0")
        need(
            self, "max_new_tokens", isinstance(self.max_new_tokens, int) and self.max_new_tokens >= 1, "an integer >= 1"
        )


Settings = RLSettings


class RLObjective(RolloutObjective):
    """Each step: G samples per prompt, one reward each, group-relative advantages, the surrogate above."""

    name = NAME

    def __init__(self, student, teacher, tokenizer, config, prompts, gold, settings: RLSettings, reward=None):
        if settings.distill > 0 and teacher is None:
            raise LabkitError("RLSettings.distill > 0 needs a teacher (it grades every token of the samples)")
        super().__init__(student, teacher if settings.distill > 0 else None, tokenizer, config)
        if len(prompts) != len(gold):
            raise LabkitError(f"{len(prompts)} prompts but {len(gold)} answers; expected one answer per prompt")
        self.s, self.gold, self.reward = settings, [str(a) for a in gold], reward or correctness_rewards
        self.prompt_only = prompt_rollouts(tokenizer, prompts, config.max_len)
        self.reference = None
        if settings.kl_coef > 0:
            self.reference = copy.deepcopy(student).eval().requires_grad_(False)
        self.groups: dict[int, list[dict]] = {}
        self.advantages: dict[int, torch.Tensor] = {}
        self.rewards: dict[int, torch.Tensor] = {}
        self.name = f"rl G={settings.group_size}" + (f" distill={settings.distill}" if settings.distill else "")
        self.meta = {"n_examples": len(prompts), **vars(settings)}

    def lengths(self):
        return [len(p["prompt"]) + self.s.max_new_tokens for p in self.prompt_only]

    def rollouts_of(self, indices) -> list[dict]:
        return [r for i in indices for r in self.groups[i]]

    def trained_lengths(self, indices, lengths):
        return compute.rollout_lengths(self.rollouts_of(indices))

    def prepare(self, indices):
        G = self.s.group_size
        keys = [(i, g) for i in indices for g in range(G)]
        made = self.sample(
            keys,
            {k: self.prompt_only[k[0]] for k in keys},
            max_new_tokens=self.s.max_new_tokens,
            temperature=self.s.temperature,
        )
        texts = S.rollout_texts(self.tokenizer, [made[k] for k in keys])
        table = self.reward(texts, [self.gold[i] for i, _ in keys]).float().reshape(len(indices), G)  # (P, G)
        adv = group_advantages(table, scale=self.s.scale)
        for row, i in enumerate(indices):
            self.groups[i] = [made[(i, g)] for g in range(G)]
            self.rewards[i], self.advantages[i] = table[row], adv[row]
        self.current = {i: self.groups[i][0] for i in indices}  # one sample per prompt: what last_rollouts shows
        n = sum(len(r["response"]) for r in self.rollouts_of(indices))
        self.log(
            reward=float(table.mean()),
            solved=float((table.max(1).values > 0).float().mean()),
            signal=float((adv.abs().sum(1) > 0).float().mean()),  # share of groups that teach anything
            gen_len=n / len(keys),
            **{"flops/reward": 0.0},
        )
        if self.reference is not None:
            self.log(**{"flops/reference": compute.forward_flops(self.student_spec, self.trained_lengths(indices, []))})
        return {"pg": n}

    def loss(self, indices, totals):
        n = max(totals["pg"], 1)
        rollouts = self.rollouts_of(indices)
        b = S.collate_rollouts(rollouts, self.pad, self.device)
        logits = S.response_logits(self.student, b)  # (B, R, V)
        logp = losses.token_logprobs(logits, b["response"], self.s.temperature)  # (B, R)
        ref = None
        if self.reference is not None:
            with torch.no_grad():
                ref = losses.token_logprobs(S.response_logits(self.reference, b), b["response"], self.s.temperature)
        adv = torch.cat([self.advantages[i] for i in indices]).to(logp.device)  # (B,)
        terms = surrogate(logp, adv, b["response_mask"], ref_logp=ref, kl_coef=self.s.kl_coef)
        loss = (terms["pg"] + self.s.kl_coef * terms["kl"]) / n
        parts = {"pg": float(terms["pg"].detach()) / n}
        if self.reference is not None:
            parts["kl_ref"] = float(terms["kl"].detach()) / n
        if self.s.distill > 0:
            rkl = losses.divergence(
                logits,
                S.teacher_logits(self.teacher, b),
                kind="reverse_kl",
                temperature=self.s.temperature,
                mask=b["response_mask"],
                reduction="sum",
            )
            loss = loss + self.s.distill * rkl / n
            parts["reverse_kl"] = float(rkl.detach()) / n
        return loss, parts


def train(
    student,
    tokenizer,
    prompts: list[str],
    answers: list[str],
    *,
    teacher=None,
    config: TrainConfig | None = None,
    reward: Callable[[list[str], list[str]], torch.Tensor] | None = None,
    on_step=None,
    **settings,
) -> History:
    """RL of `student` on `prompts` whose gold final answers are `answers` (reward 1 when a sample states it).

    teacher: only read when distill > 0 (RL + on-policy distillation).
    reward: (texts, answers) -> (N,) rewards; default ``correctness_rewards``. on_step: see ``labkit.loop.run_loop``.
    settings: see ``RLSettings`` (group_size, scale, kl_coef, distill, temperature, max_new_tokens).
    Returns: History with "loss", "loss/pg" (and "loss/kl_ref", "loss/reverse_kl" when on), "reward" (mean
    over the step's samples), "solved" (share of prompts with a correct sample), "signal" (share of groups
    whose advantages are not all 0), "gen_len", the ledger; meta["last_groups"]: the last step's samples,
    rewards and advantages per prompt index.
    """
    config, s = config or TrainConfig(), settings_of(RLSettings, settings)
    student = prepare_model(student, config)
    objective = RLObjective(student, teacher, tokenizer, config, prompts, answers, s, reward)
    history = run_loop(student, config, objective, on_step)
    history.meta["last_rollouts"] = dict(objective.current)
    history.meta["last_groups"] = {
        i: {
            "rollouts": objective.groups[i],
            "rewards": objective.rewards[i].tolist(),
            "advantages": objective.advantages[i].tolist(),
        }
        for i in objective.current
    }
    return history
