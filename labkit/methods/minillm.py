"""MiniLLM (Gu et al., ICLR 2024, "MiniLLM: Knowledge distillation of large language models"):
minimise the sequence-level reverse KL(q_θ ‖ p) by policy gradient.

    L(θ) = KL(q_θ ‖ p) = E_{y~q_θ(·|x)} log q_θ(y|x) / p(y|x)
    ∇L   = -E_{y~q_θ} Σ_t (R_t - 1) ∇ log q_θ(y_t | y_<t, x),
    r_t  = log p(y_t|y_<t, x) - log q_θ(y_t|y_<t, x),      R_t = Σ_{t'≥t} r_{t'}

(the -1 vanishes in expectation). Three stabilisers, each a switch of ``MiniLLMSettings``
(docs/methods.md §4):

1. single_step: the immediate reward is summed exactly over the vocabulary,
   E_{y_t~q_θ}[r_t] = -KL(q_θ(·|y_<t) ‖ p(·|y_<t)), a differentiable per-token reverse KL; the
   policy gradient keeps only the future return R_{t+1}. Same expectation, far less variance.
2. teacher_mix = α: sample from p~ = α p + (1 - α) q_θ and weight each token by w_t = q_θ(y_t)/p~(y_t)
   (detached), so the student cannot hack the reward with degenerate text the teacher likes.
3. length_norm: R_{t+1} divided by the number of remaining tokens, so short answers earn no bonus.

Plus an optional language-modelling term on (prompt, target) pairs: loss = pg + lm_weight · lm.
A leave-one-out baseline (mean return of the other samples of the micro-batch) keeps the
estimate unbiased with much lower variance. A test checks that the surrogate's mean gradient
equals the exact gradient of the sequence-level reverse KL on an enumerable toy case.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from labkit import losses
from labkit import sequences as S
from labkit.errors import LabkitError
from labkit.loop import History, TrainConfig, prepare_model, run_loop
from labkit.methods.base import RolloutObjective, is_unit, need, prompt_rollouts, response_tokens, settings_of

NAME = "minillm"


# --------------------------------------------------------------------------- the pieces of the gradient


def rewards(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    tokens: torch.Tensor,
    mask: torch.Tensor | None = None,
    temperature: float = 1.0,
    vocab_padding_ok: bool = False,
) -> torch.Tensor:
    """MiniLLM per-token reward r_t = log p(y_t | y_<t, x) - log q(y_t | y_<t, x), detached.

    Args:
        student_logits, teacher_logits: (..., T, V); tokens: (..., T) the sampled y_t; mask (..., T).

    Returns:
        (..., T) float32, zeros at masked positions. -inf teacher log-probs (banned tokens) are
        replaced by the reverse-KL floor (losses.REVERSE_KL_LOG_P_FLOOR) so the reward stays finite.
    """
    vocab = losses.match_vocab(student_logits, teacher_logits, vocab_padding_ok)
    mask = losses.check_mask(mask, tokens.shape)
    with torch.no_grad():
        lq = losses.token_logprobs(student_logits[..., :vocab], tokens, temperature)
        lp = losses.token_logprobs(teacher_logits[..., :vocab], tokens, temperature)
        lp = torch.where(torch.isfinite(lp), lp, torch.full_like(lp, losses.REVERSE_KL_LOG_P_FLOOR))
        r = lp - lq
        if mask is not None:
            r = r.masked_fill(~mask, 0.0)
    return r


def long_term(
    student_logp_tokens: torch.Tensor,
    rewards: torch.Tensor,
    mask: torch.Tensor | None = None,
    *,
    gamma: float = 1.0,
    length_norm: bool = True,
    weights: torch.Tensor | None = None,
    reduction: str = "mean",
    return_returns: bool = False,
):
    """MiniLLM long-term term: policy gradient on the future reward, surrogate -w_t R_{t+1} log q(y_t).

        R_{t+1} = sum_{t' > t} gamma^(t' - t - 1) r_{t'}        (counted tokens only)
        length_norm: R_{t+1} / (number of counted tokens after t), 0 when none remain
        loss_t = -(w_t * R_{t+1}).detach() * log q(y_t | y_<t, x)

    Its gradient, -w_t R_{t+1} grad log q(y_t), plus the gradient of the single-step term (per-token reverse KL) is
    an unbiased
    estimate of the gradient of the sequence-level KL(q || p) when gamma = 1, length_norm = False and w = 1.

    Args:
        student_logp_tokens: (B, T) differentiable log q(y_t | y_<t, x) of the sampled tokens.
        rewards: (B, T) r_t from ``rewards`` (detached here anyway).
        mask: (B, T) bool, True = counted response token; masked tokens neither earn nor receive reward.
        gamma: discount in [0, 1]. weights: optional (B, T) importance weights (detached).
        return_returns: also return the (B, T) tensor R_{t+1} actually used (after normalisation).
    """
    gamma = losses.check_unit_interval("gamma", gamma)
    losses.check_reduction(reduction)
    if student_logp_tokens.shape != rewards.shape:
        raise LabkitError(
            f"student_logp_tokens and rewards must have the same shape, got "
            f"{tuple(student_logp_tokens.shape)} and {tuple(rewards.shape)}"
        )
    mask = losses.check_mask(mask, rewards.shape)
    r = rewards.detach().float()
    m = torch.ones_like(r) if mask is None else mask.to(r)
    r = r * m
    # Right-to-left scans over time: future[t] = sum_{t'>t} gamma^(t'-t-1) r_t', remaining[t] = #counted t'>t.
    future = torch.zeros_like(r)
    remaining = torch.zeros_like(r)
    acc_r = torch.zeros_like(r[..., 0])
    acc_n = torch.zeros_like(r[..., 0])
    for t in range(r.shape[-1] - 1, -1, -1):
        future[..., t] = acc_r
        remaining[..., t] = acc_n
        # a masked step (padding) neither adds reward nor a discount step
        acc_r = torch.where(m[..., t] > 0, r[..., t] + gamma * acc_r, acc_r)
        acc_n = acc_n + m[..., t]
    if length_norm:
        future = future / remaining.clamp(min=1.0)
    advantage = future if weights is None else future * weights.detach().to(future)
    per_token = -(advantage * m) * student_logp_tokens.float()  # (B, T)
    loss = losses.reduce_tokens(per_token.reshape(-1), mask, per_token.numel(), per_token.shape, reduction)
    return (loss, future) if return_returns else loss


def mixed_sampling_weights(
    student_logp_tokens: torch.Tensor, teacher_logp_tokens: torch.Tensor, alpha: float, clip: float | None = None
) -> torch.Tensor:
    """Per-token importance weights w_t = q(y_t) / p~(y_t), p~ = alpha p + (1 - alpha) q (detached).

    Tokens sampled from the mixture p~ are re-weighted towards the student's own distribution, as in
    MiniLLM (which uses per-token ratios rather than the product over the sequence, to keep the variance
    down). Since p~ >= (1 - alpha) q, w_t <= 1 / (1 - alpha) automatically (1.25 at alpha = 0.2); ``clip``
    optionally lowers that upper bound further. alpha = 0 gives w = 1. Computed in log space:
    w = exp(log q - logaddexp(log alpha + log p, log(1 - alpha) + log q)).
    """
    alpha = losses.check_unit_interval("alpha", alpha)
    if alpha == 1.0:
        raise LabkitError("alpha must be < 1 for importance weights (p~ = p has no student mass)")
    with torch.no_grad():
        lq = student_logp_tokens.detach().float()
        lp = teacher_logp_tokens.detach().float()
        if alpha == 0.0:
            return torch.ones_like(lq)
        log_mix = torch.logaddexp(lp + math.log(alpha), lq + math.log1p(-alpha))
        w = (lq - log_mix).exp()
        if clip is not None:
            w = w.clamp(max=float(clip))
    return w


def leave_one_out_baseline(returns: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """b[i, t] = mean of returns[j, t] over the OTHER rows j that have a token at t (0 if none).

    A baseline that does not depend on sample i's own actions keeps the policy gradient unbiased
    while removing most of its variance (the returns of a sharp teacher are large and negative).
    (B, T), (B, T) -> (B, T).
    """
    m = mask.to(returns.dtype)
    total, count = (returns * m).sum(0, keepdim=True), m.sum(0, keepdim=True)
    others = (count - m).clamp(min=1)
    return torch.where(count - m > 0, (total - returns * m) / others, torch.zeros_like(returns))


def surrogate(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    tokens: torch.Tensor,
    mask: torch.Tensor,
    *,
    single_step: bool = True,
    teacher_mix: float = 0.0,
    length_norm: bool = True,
    temperature: float = 1.0,
    baseline: bool | torch.Tensor = True,
) -> dict[str, torch.Tensor]:
    """Per-token MiniLLM surrogate whose gradient estimates grad KL(q_θ || p) over sequences.

    Args:
        student_logits: (B, T, V) differentiable; teacher_logits: (B, T, V); tokens: (B, T) sampled
            responses (from q, or from p~ = α p + (1-α) q when teacher_mix = α > 0); mask: (B, T) bool.
        single_step: the immediate term E_{y_t~q}[r_t] is summed exactly over the vocabulary
            (per-token reverse KL, differentiable) and the policy gradient uses R_{t+1}; otherwise
            the policy gradient uses R_t = r_t + R_{t+1} (pure Monte Carlo).
        teacher_mix: α; importance weights w_t = q(y_t) / p~(y_t) (detached) multiply both terms.
        length_norm: R_{t+1} divided by the number of response tokens after t.
        baseline: True subtracts ``leave_one_out_baseline`` of the returns (over the batch rows); a
            (B, T) tensor is used as given; False = none.

    With r_t = log p(y_t|·) - log q(y_t|·), G_t the policy-gradient return and b_t the baseline,

        single_step:  G_t = R_{t+1},          surrogate_t = w_t KL(q_t || p_t) - (w_t (G_t - b_t)) log q(y_t)
        otherwise:    G_t = r_t + R_{t+1},    surrogate_t =                    - (w_t (G_t - b_t)) log q(y_t)

    (parentheses = detached); its gradient, summed over t and averaged over sequences sampled from q,
    is an unbiased estimate of grad KL(q||p) when α = 0 and length_norm = False (with or without the
    leave-one-out baseline).

    Returns: dict of (B, T) tensors (zeros at masked positions): "surrogate" (differentiable),
    "single" (per-token reverse KL, differentiable), "reward" r_t, "weight" w_t, "logq" (detached).
    """
    mask = mask.bool()
    logq = losses.token_logprobs(student_logits, tokens, temperature)  # (B, T), grad
    with torch.no_grad():
        logp = losses.token_logprobs(teacher_logits.float(), tokens, temperature)
        reward = rewards(student_logits.detach(), teacher_logits, tokens, mask, temperature)
        weight = mixed_sampling_weights(logq, logp, teacher_mix) if teacher_mix > 0 else torch.ones_like(reward)
        weight = weight * mask
    _, future = long_term(
        logq.detach(), reward, mask, length_norm=length_norm, reduction="none", return_returns=True
    )  # R_{t+1}: (B, T)
    single = losses.divergence(
        student_logits, teacher_logits, kind="reverse_kl", temperature=temperature, mask=mask, reduction="none"
    )  # (B, T)
    G = future if single_step else reward + future  # PG return
    if isinstance(baseline, torch.Tensor):
        b = baseline.to(G)
    else:
        b = leave_one_out_baseline(G, mask) if baseline else torch.zeros_like(G)
    advantage = (weight * (G - b) * mask).detach()
    surrogate = -advantage * logq  # policy gradient
    if single_step:
        surrogate = surrogate + weight * single  # exact immediate term
    return {
        "surrogate": surrogate * mask,
        "single": single,
        "reward": reward,
        "weight": weight,
        "returns": G,
        "logq": logq.detach() * mask,
    }


def trainable_non_embedding(model) -> list[torch.nn.Parameter]:
    skip = {id(m.weight) for m in (model.get_input_embeddings(), model.get_output_embeddings()) if m is not None}
    return [p for p in model.parameters() if p.requires_grad and id(p) not in skip]


def per_sample_grad_variance(loss_of: Callable[[int], torch.Tensor], indices, params) -> tuple[float, float]:
    """Spread of per-sample gradients: (mean_i ||g_i - ḡ||² · n/(n-1), mean_i ||g_i||).

    loss_of(i) builds sample i's loss in its own graph; the gradient is taken w.r.t. ``params``
    (the student's non-embedding weights). Memory: two copies of params.
    """
    total = [torch.zeros_like(p, dtype=torch.float32) for p in params]
    sq_norms, n = [], 0
    for i in indices:
        grads = torch.autograd.grad(loss_of(i), params, allow_unused=True)
        sq = 0.0
        for acc, g in zip(total, grads):
            if g is not None:
                acc.add_(g.float())
                sq += float(g.float().pow(2).sum())
        sq_norms.append(sq)
        n += 1
    if n < 2:
        return float("nan"), math.sqrt(sq_norms[0]) if sq_norms else float("nan")
    mean_sq = sum(sq_norms) / n
    sq_of_mean = sum(float(a.pow(2).sum()) for a in total) / n**2
    var = (mean_sq - sq_of_mean) * n / (n - 1)
    return max(var, 0.0), sum(math.sqrt(s) for s in sq_norms) / n


# --------------------------------------------------------------------------- the method


@dataclass
class MiniLLMSettings:
    """Args:
    single_step: single-step decomposition (stabiliser 1).
    teacher_mix: α of the teacher-mixed sampling p~ = α p + (1-α) q, in [0, 1) (stabiliser 2; 0 = off).
    length_norm: length-normalised long-term reward (stabiliser 3).
    lm_weight: weight of the language-modelling term on the targets (>= 0; needs targets).
    baseline: subtract the leave-one-out mean return of the micro-batch.
    temperature: τ of sampling and of the rewards.
    max_new_tokens: length limit of the samples.
    grad_var_every: every this many steps, measure the spread of per-sample gradients of the
        surrogate on grad_var_samples rollouts (None = the loop's log_every; 0 = never).
    grad_var_samples: how many rollouts that measurement uses (>= 2).
    """

    single_step: bool = True
    teacher_mix: float = 0.2
    length_norm: bool = True
    lm_weight: float = 0.0
    baseline: bool = True
    temperature: float = 1.0
    max_new_tokens: int = 64
    grad_var_every: int | None = None
    grad_var_samples: int = 4

    def __post_init__(self):
        need(
            self,
            "teacher_mix",
            is_unit(self.teacher_mix) and self.teacher_mix < 1,
            "α in [0, 1) (1 would never sample from the student)",
        )
        need(self, "lm_weight", isinstance(self.lm_weight, (int, float)) and self.lm_weight >= 0, "a number >= 0")
        need(self, "temperature", isinstance(self.temperature, (int, float)) and self.temperature > 0, "a number > 0")
        need(
            self, "max_new_tokens", isinstance(self.max_new_tokens, int) and self.max_new_tokens >= 1, "an integer >= 1"
        )
        need(
            self,
            "grad_var_every",
            self.grad_var_every is None or (isinstance(self.grad_var_every, int) and self.grad_var_every >= 0),
            "None or an integer >= 0",
        )
        need(
            self,
            "grad_var_samples",
            isinstance(self.grad_var_samples, int) and self.grad_var_samples >= 2,
            "an integer >= 2",
        )


Settings = MiniLLMSettings


class MiniLLMObjective(RolloutObjective):
    """Each step samples responses (teacher-mixed), scores them with both models, descends the surrogate."""

    name = NAME

    def __init__(
        self, student, teacher, tokenizer, config, prompts, settings: MiniLLMSettings, sft=None, vocab_padding_ok=False
    ):
        super().__init__(student, teacher, tokenizer, config, vocab_padding_ok=vocab_padding_ok)
        self.s, self.sft = settings, sft
        self.prompt_only = prompt_rollouts(tokenizer, prompts, config.max_len)
        self.grad_var_every = config.log_every if settings.grad_var_every is None else settings.grad_var_every
        self.steps_done = 0
        s = settings
        self.name = f"minillm ss={int(s.single_step)} α={s.teacher_mix} ln={int(s.length_norm)}"
        self.meta = {"n_examples": len(prompts), **vars(settings)}

    def lengths(self):
        return [len(p["prompt"]) + self.s.max_new_tokens for p in self.prompt_only]

    def pg_terms(self, indices, n_tokens, baseline=None):
        """(pg loss / n_tokens, surrogate pieces, batch) for the current rollouts of `indices`."""
        s, b = self.s, self.batch(indices)
        student_logits, teacher_logits = S.response_logits(self.student, b), S.teacher_logits(self.teacher, b)
        out = surrogate(
            student_logits,
            teacher_logits,
            b["response"],
            b["response_mask"],
            single_step=s.single_step,
            teacher_mix=s.teacher_mix,
            length_norm=s.length_norm,
            temperature=s.temperature,
            baseline=s.baseline if baseline is None else baseline,
        )
        return out["surrogate"].sum() / n_tokens, out, b

    def lm_term(self, indices, n_tokens):
        b = S.collate_rollouts([self.sft[i] for i in indices], self.pad, self.device)
        labels = b["response"].masked_fill(~b["response_mask"], losses.IGNORE_INDEX)
        logits = S.response_logits(self.student, b).float()
        return losses.token_cross_entropy(logits, labels, reduction="sum") / n_tokens

    def measure_grad_variance(self, indices):
        """Spread of per-sample surrogate gradients over a few of this step's rollouts."""
        some = list(indices)[: self.s.grad_var_samples]
        with torch.no_grad():  # the batch's baseline, reused sample by sample
            out = self.pg_terms(some, 1)[1]
        mask = self.batch(some)["response_mask"]
        base = leave_one_out_baseline(out["returns"], mask) if self.s.baseline else torch.zeros_like(out["returns"])

        def loss_of(k):
            n_k = max(len(self.current[some[k]]["response"]), 1)
            return self.pg_terms([some[k]], n_k, base[k : k + 1, :n_k])[0]

        var, norm = per_sample_grad_variance(loss_of, range(len(some)), trainable_non_embedding(self.student))
        self.log(grad_var=var, grad_norm_sample=norm)

    def prepare(self, indices):
        self.current = self.sample(
            indices,
            self.prompt_only,
            max_new_tokens=self.s.max_new_tokens,
            temperature=self.s.temperature,
            teacher_mix=self.s.teacher_mix,
        )
        totals = {"pg": response_tokens(self.current, indices)}
        if self.sft is not None:
            totals["lm"] = response_tokens(self.sft, indices)
        self.log(gen_len=totals["pg"] / len(indices))
        self.steps_done += 1
        if self.grad_var_every and (self.steps_done == 1 or self.steps_done % self.grad_var_every == 0):
            self.measure_grad_variance(indices)
        return totals

    def loss(self, indices, totals):
        n = max(totals["pg"], 1)
        pg, out, b = self.pg_terms(indices, n)
        single = float((out["single"].detach() * b["response_mask"]).sum()) / n
        self.log(
            reward=float(out["reward"].sum()) / n,
            weight_mean=float(out["weight"].sum()) / n,
            reverse_kl_seq=-float(out["reward"].sum()) / len(self.current),
        )
        parts, loss = {"pg": float(pg.detach()), "single": single}, pg
        if self.sft is not None:
            lm = self.lm_term(indices, max(totals["lm"], 1))
            loss = pg + self.s.lm_weight * lm
            parts["lm"] = float(lm.detach())
        return loss, parts


def train(
    student,
    teacher,
    tokenizer,
    prompts: list[str],
    *,
    targets: list[str] | None = None,
    config: TrainConfig | None = None,
    vocab_padding_ok: bool = False,
    **settings,
) -> History:
    """MiniLLM of `teacher` into `student` on `prompts` (targets: the LM term's data, with lm_weight > 0).

    settings: see ``MiniLLMSettings``.
    Returns: History with "loss", "loss/pg", "loss/single" (per-token reverse KL on the samples),
        "loss/lm"; "reward" (mean r_t), "reverse_kl_seq" (mean over samples of -Σ_t r_t),
        "weight_mean", "gen_len", and "grad_var", "grad_norm_sample" on measured steps.
    """
    config, s = config or TrainConfig(), settings_of(MiniLLMSettings, settings)
    if s.lm_weight > 0 and targets is None:
        raise LabkitError("MiniLLMSettings.lm_weight > 0 needs targets (the data of the language-modelling term)")
    student = prepare_model(student, config)
    sft = S.encode_rollouts(tokenizer, prompts, targets, config.max_len) if s.lm_weight > 0 else None
    return run_loop(
        student, config, MiniLLMObjective(student, teacher, tokenizer, config, prompts, s, sft, vocab_padding_ok)
    )
