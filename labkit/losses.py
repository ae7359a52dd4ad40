"""Distillation losses: token-level divergences, cross-entropy, multi-task mixes, chosen-token log-probabilities.

Notation (docs/methods.md §1): teacher distribution p = softmax(t / tau), student q = softmax(z / tau),
logits of shape (..., V). Every divergence is computed per token, in float32, and reduced with a mask:

    forward_kl        KL(p || q)          = sum_v p (log p - log q)          mode-covering
    reverse_kl        KL(q || p)          = sum_v q (log q - log p)          mode-seeking (MiniLLM)
    jsd               beta KL(p || M) + (1 - beta) KL(q || M),  M = beta p + (1 - beta) q      (GKD)
                      beta = 0 is exactly forward KL(p || q), beta = 1 exactly reverse KL(q || p)
                      (the TRL / Liger convention; both endpoints are computed as special cases,
                      because the mixture formula itself tends to 0 there)
    skew_kl           KL(p || a p + (1 - a) q),  a = skew                    (DistiLLM)
    skew_reverse_kl   KL(q || a q + (1 - a) p)
    tvd               1/2 sum_v |p - q|

Temperature divides both logits before the softmax; the loss is NOT multiplied by tau^2 (as in TRL).

Memory. A naive implementation keeps several (tokens x V) float32 copies alive for the backward pass
(log-probabilities of both sides, the mixture, the pointwise terms ...): at N = 4096, V = 49152 each copy is
0.8 GB. Here the rows are processed in chunks by a custom autograd function that, in the forward pass,
computes the loss AND its analytic gradient with respect to the student logits for each chunk, keeping only
that gradient (one N x V tensor in the student's dtype, which backward scales in place and hands to autograd).
Peak extra memory is therefore one N x V gradient plus a few chunk x V float32 buffers.

Analytic gradients. With s = z / tau and any loss L(q), dL/ds = q * (a - sum_v q a) where a = dL/dq, and
dL/dz = dL/ds / tau. Per kind (a up to a constant, which cancels):

    forward_kl        dL/ds = q - p
    reverse_kl        dL/ds = q * (d - L),                       d = log q - log p
    jsd               dL/ds = (1 - beta) q * (e - sum_v q e),    e = log q - log M
    skew_kl           dL/ds = c - q sum_v c,                     c = -(1 - a) q p / M
    skew_reverse_kl   dL/ds = q * (f - sum_v q f),               f = log q - log M - a q / M
    tvd               dL/ds = q * (h - sum_v q h),               h = sign(q - p) / 2

Banned tokens. A teacher logit of -inf gives p = 0 there. Forward KL, JSD (beta < 1), TVD and the skew
variants (skew > 0) are finite and exact. Reverse KL is +inf in exact arithmetic as soon as the student puts
any mass on such a token; we replace log p there by a finite floor,
``min(REVERSE_KL_LOG_P_FLOOR, smallest finite log p of that row)`` with REVERSE_KL_LOG_P_FLOOR =
log(smallest normal float32) ~ -87.3, so a banned token is never treated as likelier than any allowed one,
the value stays finite, and the gradient q * (log q - floor - L) still pushes the student's mass off it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import torch
import torch.nn.functional as F

from labkit.errors import LabkitError

KINDS = ("forward_kl", "reverse_kl", "jsd", "skew_kl", "skew_reverse_kl", "tvd")
REDUCTIONS = ("mean", "sum", "none")
IGNORE_INDEX = -100
# log of the smallest normal float32 (~1.18e-38): the reverse-KL stand-in for log p = -inf.
REVERSE_KL_LOG_P_FLOOR = math.log(torch.finfo(torch.float32).tiny)
# Default chunk: rows such that rows x V is about 2^20 float32 elements (4 MB per buffer; on the lab's
# 2-core CPU 2^20..2^22 were equally fast within noise, the smaller one keeps buffers cache-friendly).
DEFAULT_CHUNK_ELEMENTS = 2**20


# --------------------------------------------------------------------------------------------------
# Input checks
# --------------------------------------------------------------------------------------------------


def check_reduction(reduction: str) -> None:
    if reduction not in REDUCTIONS:
        raise LabkitError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")


def check_unit_interval(name: str, value: float) -> float:
    value = float(value)
    if not 0.0 <= value <= 1.0:
        raise LabkitError(f"{name} must be in [0, 1], got {value}")
    return value


def check_temperature(temperature: float) -> float:
    temperature = float(temperature)
    if not (math.isfinite(temperature) and temperature > 0):
        raise LabkitError(f"temperature must be a finite number > 0, got {temperature}")
    return temperature


def check_mask(mask: torch.Tensor | None, lead_shape: torch.Size) -> torch.Tensor | None:
    if mask is None:
        return None
    mask = torch.as_tensor(mask)
    if mask.shape != lead_shape:
        raise LabkitError(f"mask must have the logits' leading shape {tuple(lead_shape)}, got {tuple(mask.shape)}")
    return mask.to(torch.bool)


def match_vocab(student_logits: torch.Tensor, teacher_logits: torch.Tensor, vocab_padding_ok: bool) -> int:
    """Check the two logit tensors line up; return the vocabulary size V both sides share."""
    if student_logits.shape[:-1] != teacher_logits.shape[:-1]:
        raise LabkitError(
            f"student and teacher logits must have the same leading shape, got "
            f"{tuple(student_logits.shape)} and {tuple(teacher_logits.shape)}"
        )
    v_s, v_t = student_logits.shape[-1], teacher_logits.shape[-1]
    if v_s != v_t and not vocab_padding_ok:
        raise LabkitError(
            f"vocabulary size mismatch: student logits have {v_s} entries, teacher logits {v_t}. "
            f"If the extra {abs(v_s - v_t)} rows of the larger side are padding (e.g. 151936 vs 152064), "
            f"pass vocab_padding_ok=True to drop them; if the tokenizers differ, use labkit.losses.uld or "
            f"the cross-tokenizer method labkit.methods.xtok."
        )
    return min(v_s, v_t)


def chunk_rows(chunk_size: int | None, vocab: int) -> int:
    if chunk_size is None:
        return max(1, DEFAULT_CHUNK_ELEMENTS // max(vocab, 1))
    if int(chunk_size) != chunk_size or chunk_size < 1:
        raise LabkitError(f"chunk_size must be a positive number of rows, got {chunk_size!r}")
    return int(chunk_size)


# --------------------------------------------------------------------------------------------------
# Per-chunk kernels: float32 in, (per-row loss, gradient w.r.t. the scaled logits s) out
# --------------------------------------------------------------------------------------------------


def _xlogy_diff(prob: torch.Tensor, logprob: torch.Tensor, other_log: torch.Tensor) -> torch.Tensor:
    """sum_v prob * (logprob - other_log), with 0 * (anything) = 0 where prob is exactly zero."""
    terms = prob * (logprob - other_log)
    return torch.where(prob > 0, terms, torch.zeros_like(terms)).sum(-1)


def _floor_log_p(lp: torch.Tensor) -> torch.Tensor:
    """Replace log p = -inf (banned teacher tokens) by the documented finite reverse-KL floor."""
    finite = torch.isfinite(lp)
    if bool(finite.all()):
        return lp
    row_min = lp.masked_fill(~finite, float("inf")).amin(-1, keepdim=True)  # (c, 1)
    floor = row_min.clamp(max=REVERSE_KL_LOG_P_FLOOR)
    return torch.where(finite, lp, floor)


def _forward_kl(lq, lp, want_grad):
    q, p = lq.exp(), lp.exp()
    loss = _xlogy_diff(p, lp, lq)
    return loss, (q - p if want_grad else None)


def _reverse_kl(lq, lp, want_grad):
    q = lq.exp()
    d = lq - _floor_log_p(lp)  # (c, V)
    loss = (q * d).sum(-1)
    return loss, (q * (d - loss[:, None]) if want_grad else None)


def _jsd(lq, lp, beta, want_grad):
    q, p = lq.exp(), lp.exp()
    lm = torch.logaddexp(lp + math.log(beta), lq + math.log1p(-beta))  # log M, M = beta p + (1-beta) q
    e = lq - lm
    kl_qm = (q * e).sum(-1)
    loss = beta * _xlogy_diff(p, lp, lm) + (1 - beta) * kl_qm
    return loss, ((1 - beta) * q * (e - kl_qm[:, None]) if want_grad else None)


def _skew_kl(lq, lp, alpha, want_grad):
    p = lp.exp()
    lm = torch.logaddexp(lp + math.log(alpha), lq + math.log1p(-alpha))  # M = a p + (1-a) q
    loss = _xlogy_diff(p, lp, lm)
    if not want_grad:
        return loss, None
    c = -(1 - alpha) * (lq + lp - lm).exp()  # q * dL/dq = -(1-a) q p / M; exp(-inf) = 0 at banned tokens
    return loss, c - lq.exp() * c.sum(-1, keepdim=True)


def _skew_reverse_kl(lq, lp, alpha, want_grad):
    q = lq.exp()
    lm = torch.logaddexp(lq + math.log(alpha), lp + math.log1p(-alpha))  # M = a q + (1-a) p
    e = lq - lm
    loss = (q * e).sum(-1)
    if not want_grad:
        return loss, None
    f = e - alpha * e.exp()  # log q - log M - a q / M
    return loss, q * (f - (q * f).sum(-1, keepdim=True))


def _tvd(lq, lp, want_grad):
    q, p = lq.exp(), lp.exp()
    diff = q - p
    loss = 0.5 * diff.abs().sum(-1)
    if not want_grad:
        return loss, None
    h = 0.5 * diff.sign()
    return loss, q * (h - (q * h).sum(-1, keepdim=True))


def _divergence_kernel(kind: str, beta: float, skew: float) -> Callable:
    """The per-chunk function (lq, lp, want_grad) -> (loss (c,), dL/ds (c, V) or None) for one kind."""
    if kind == "forward_kl" or (kind == "jsd" and beta == 0.0) or (kind == "skew_kl" and skew == 0.0):
        return _forward_kl
    if kind == "reverse_kl" or (kind == "jsd" and beta == 1.0) or (kind == "skew_reverse_kl" and skew == 0.0):
        return _reverse_kl
    if kind in ("skew_kl", "skew_reverse_kl") and skew == 1.0:  # M equals the first argument: always 0
        return lambda lq, lp, want_grad: (lq.new_zeros(lq.shape[0]), torch.zeros_like(lq) if want_grad else None)
    if kind == "jsd":
        return lambda lq, lp, want_grad: _jsd(lq, lp, beta, want_grad)
    if kind == "skew_kl":
        return lambda lq, lp, want_grad: _skew_kl(lq, lp, skew, want_grad)
    if kind == "skew_reverse_kl":
        return lambda lq, lp, want_grad: _skew_reverse_kl(lq, lp, skew, want_grad)
    return _tvd


# --------------------------------------------------------------------------------------------------
# The chunked autograd function shared by every loss here
# --------------------------------------------------------------------------------------------------


class RowChunkedLoss(torch.autograd.Function):
    """Per-row losses of a (N, V_s) student tensor, computed chunk by chunk with analytic gradients.

    ``chunk_fn(rows, start, stop, want_grad)`` gets the float32 student rows (c, V) and the positions
    [start, stop) of those rows in the list of counted rows, and returns (loss (c,), dL/dz (c, V) or None).
    Only ``student`` is an autograd input: whatever else chunk_fn reads (teacher logits, labels) never
    receives a gradient.
    """

    @staticmethod
    def forward(ctx, student, rows, vocab, chunk, chunk_fn, grad_enabled):
        n = student.shape[0]
        # (inside forward grad mode is always off, so the caller's mode arrives as grad_enabled:
        # under torch.no_grad no (N, V) gradient is computed or stored)
        want_grad = ctx.needs_input_grad[0] and grad_enabled
        losses = student.new_zeros(n, dtype=torch.float32)  # (N,)
        grad = torch.zeros_like(student) if want_grad else None  # (N, V_s), student dtype
        n_rows = n if rows is None else rows.numel()
        for start in range(0, n_rows, chunk):
            stop = min(start + chunk, n_rows)
            if rows is None:
                z = student[start:stop, :vocab]
            else:
                idx = rows[start:stop]
                z = student.index_select(0, idx)[:, :vocab]
            loss, g = chunk_fn(z.float(), start, stop, want_grad)
            if rows is None:
                losses[start:stop] = loss
                if want_grad:
                    grad[start:stop, :vocab] = g
            else:
                losses[idx] = loss
                if want_grad:
                    if vocab == student.shape[1]:
                        grad.index_copy_(0, idx, g.to(grad.dtype))
                    else:
                        grad[idx, :vocab] = g.to(grad.dtype)
        ctx.grad = grad
        return losses

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_losses):
        grad = ctx.grad
        if grad is None:
            raise RuntimeError(
                "labkit.losses: backward through a chunked loss can run only once "
                "(the stored gradient is scaled in place); recompute the loss instead "
                "of using retain_graph=True"
            )
        ctx.grad = None
        grad.mul_(grad_losses[:, None].to(grad.dtype))  # (N, V_s)
        return grad, None, None, None, None, None


def reduce_tokens(per_token: torch.Tensor, counted: torch.Tensor | None, n: int, lead_shape, reduction: str):
    """per_token (N,) float32 with zeros at masked rows -> the requested reduction."""
    if reduction == "none":
        return per_token.reshape(lead_shape)
    total = per_token.sum()
    if reduction == "sum":
        return total
    count = n if counted is None else int(counted.sum())
    return total / max(count, 1)


def counted_rows(mask: torch.Tensor | None, n: int) -> torch.Tensor | None:
    """Indices of counted rows, or None when every row counts (then chunks are plain slices)."""
    if mask is None:
        return None
    flat = mask.reshape(n)
    if bool(flat.all()):
        return None
    return flat.nonzero().squeeze(1)


# --------------------------------------------------------------------------------------------------
# Entry points
# --------------------------------------------------------------------------------------------------


def divergence(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    *,
    kind: str,
    beta: float = 0.5,
    skew: float = 0.1,
    temperature: float = 1.0,
    mask: torch.Tensor | None = None,
    reduction: str = "mean",
    chunk_size: int | None = None,
    vocab_padding_ok: bool = False,
) -> torch.Tensor:
    """Token-level divergence between teacher p and student q (see the module docstring for formulas).

    Args:
        student_logits: (..., V_s) any float dtype; the only input that receives a gradient.
        teacher_logits: (..., V_t) any float dtype; -inf entries (banned tokens) are allowed.
        kind: one of ``KINDS``.
        beta: JSD mixture weight in [0, 1]; 0 = forward KL(p||q), 1 = reverse KL(q||p), exactly.
        skew: skew weight a in [0, 1] for ``skew_kl`` / ``skew_reverse_kl`` (0 = plain KL).
        temperature: tau > 0 dividing both logits before the softmax.
        mask: (...) bool, True = token counts. Masked tokens get exactly zero loss and gradient.
        reduction: "mean" (sum over V, mean over counted tokens; 0 when none count), "sum", or
            "none" (per-token values, shape (...), zeros at masked tokens).
        chunk_size: rows per chunk (default: about 2^20 / V rows). Results do not depend on it
            beyond float32 rounding.
        vocab_padding_ok: if V_s != V_t, drop the extra vocabulary entries of the larger side
            instead of raising ``LabkitError``.

    Returns:
        float32 tensor: a scalar, or shape (...) for reduction="none".
    """
    if kind not in KINDS:
        raise LabkitError(f"kind must be one of {KINDS}, got {kind!r}")
    beta = check_unit_interval("beta", beta)
    skew = check_unit_interval("skew", skew)
    temperature = check_temperature(temperature)
    check_reduction(reduction)
    vocab = match_vocab(student_logits, teacher_logits, vocab_padding_ok)
    lead_shape = student_logits.shape[:-1]
    mask = check_mask(mask, lead_shape)
    n = math.prod(lead_shape)

    student = student_logits.reshape(n, student_logits.shape[-1])  # (N, V_s)
    teacher = teacher_logits.detach().reshape(n, teacher_logits.shape[-1])  # (N, V_t)
    rows = counted_rows(mask, n)
    if rows is not None:
        rows = rows.to(student.device)
    kernel = _divergence_kernel(kind, beta, skew)
    inv_tau = 1.0 / temperature

    def chunk_fn(z, start, stop, want_grad):
        t = teacher[start:stop] if rows is None else teacher.index_select(0, rows[start:stop])
        t = t[:, :vocab].float()
        if temperature != 1.0:
            z, t = z * inv_tau, t * inv_tau
        lq, lp = F.log_softmax(z, dim=-1), F.log_softmax(t, dim=-1)  # (c, V) each
        loss, g = kernel(lq, lp, want_grad)
        if g is not None and temperature != 1.0:
            g = g.mul_(inv_tau)  # ds/dz = 1/tau
        return loss, g

    per_token = RowChunkedLoss.apply(
        student, rows, vocab, chunk_rows(chunk_size, vocab), chunk_fn, torch.is_grad_enabled()
    )
    return reduce_tokens(per_token, mask, n, lead_shape, reduction)


def uld(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    *,
    temperature: float = 1.0,
    mask: torch.Tensor | None = None,
    reduction: str = "mean",
    chunk_size: int | None = None,
) -> torch.Tensor:
    """Universal Logit Distillation (Boizard et al., 2024): a distance that needs no shared vocabulary.

        ULD(p, q) = Σ_i | p_(i) - q_(i) |          p_(1) >= p_(2) >= ... sorted probabilities,

    the shorter vector padded with zeros (teacher and student may have any vocabulary sizes V_t, V_s).
    It compares the *shapes* of the two distributions (how peaked, how long the tail), not which token
    gets the mass, so it can teach confidence but not identity (labkit.methods.xtok adds identity
    where tokens match). Computed in float32 by rows, with the analytic gradient
    dL/dq = sign(q_(i) - p_(i)) put back in vocabulary order, through the softmax.

    Args:
        student_logits: (..., V_s), the only input that receives a gradient.
        teacher_logits: (..., V_t), any V_t; -inf entries allowed.
        temperature, mask, reduction, chunk_size: as in ``divergence``.
    Returns: float32 scalar, or (...) for reduction="none".
    """
    temperature = check_temperature(temperature)
    check_reduction(reduction)
    lead_shape = student_logits.shape[:-1]
    if teacher_logits.shape[:-1] != lead_shape:
        raise LabkitError(
            f"student and teacher logits must have the same leading shape, got "
            f"{tuple(student_logits.shape)} and {tuple(teacher_logits.shape)}"
        )
    mask = check_mask(mask, lead_shape)
    n, v_s, v_t = math.prod(lead_shape), student_logits.shape[-1], teacher_logits.shape[-1]
    student = student_logits.reshape(n, v_s)
    teacher = teacher_logits.detach().reshape(n, v_t)
    rows = counted_rows(mask, n)
    if rows is not None:
        rows = rows.to(student.device)
    k = min(v_s, v_t)

    def chunk_fn(z, start, stop, want_grad):
        t = teacher[start:stop] if rows is None else teacher.index_select(0, rows[start:stop])
        q = F.softmax(z / temperature, dim=-1)  # (c, V_s)
        p_sorted = F.softmax(t.float() / temperature, dim=-1).sort(dim=-1, descending=True).values  # (c, V_t)
        q_sorted, order = q.sort(dim=-1, descending=True)
        diff = q_sorted[:, :k] - p_sorted[:, :k]
        loss = diff.abs().sum(-1) + q_sorted[:, k:].sum(-1) + p_sorted[:, k:].sum(-1)
        if not want_grad:
            return loss, None
        g_sorted = torch.cat([diff.sign(), torch.ones_like(q_sorted[:, k:])], dim=-1)  # dL/dq_(i)
        g_q = torch.empty_like(q).scatter_(-1, order, g_sorted)  # back to vocabulary order
        g = q * (g_q - (q * g_q).sum(-1, keepdim=True)) / temperature  # through the softmax
        return loss, g

    per_token = RowChunkedLoss.apply(
        student, rows, v_s, chunk_rows(chunk_size, max(v_s, v_t)), chunk_fn, torch.is_grad_enabled()
    )
    return reduce_tokens(per_token, mask, n, lead_shape, reduction)


def token_cross_entropy(
    logits: torch.Tensor,
    labels: torch.Tensor,
    mask: torch.Tensor | None = None,
    reduction: str = "mean",
    chunk_size: int | None = None,
) -> torch.Tensor:
    """Cross-entropy -log q(label) per token, float32, chunked like ``divergence``.

    Args:
        logits: (..., V); labels: (...) int64, ``-100`` = ignored; mask: optional (...) bool, True = counted.
        reduction: "mean" over counted tokens (0 if none), "sum", or "none" (shape (...)).

    Labels are not shifted: pass logits and labels already aligned.
    """
    check_reduction(reduction)
    lead_shape, vocab = logits.shape[:-1], logits.shape[-1]
    if labels.shape != lead_shape:
        raise LabkitError(f"labels must have the logits' leading shape {tuple(lead_shape)}, got {tuple(labels.shape)}")
    counted = labels != IGNORE_INDEX
    mask = check_mask(mask, lead_shape)
    if mask is not None:
        counted = counted & mask.to(counted.device)
    bad = counted & ((labels < 0) | (labels >= vocab))
    if bool(bad.any()):
        raise LabkitError(f"labels must be in [0, {vocab}) or {IGNORE_INDEX}, got {int(labels[bad][0])}")
    n = math.prod(lead_shape)
    flat_labels = labels.reshape(n).to(logits.device)
    rows = counted_rows(counted, n)
    if rows is not None:
        rows = rows.to(logits.device)

    def chunk_fn(z, start, stop, want_grad):
        y = flat_labels[start:stop] if rows is None else flat_labels[rows[start:stop]]  # (c,)
        lse = torch.logsumexp(z, dim=-1)  # (c,)
        loss = lse - z.gather(1, y[:, None]).squeeze(1)
        if not want_grad:
            return loss, None
        g = (z - lse[:, None]).exp_()  # q - onehot(y)
        g[torch.arange(g.shape[0], device=g.device), y] -= 1.0
        return loss, g

    per_token = RowChunkedLoss.apply(
        logits.reshape(n, vocab), rows, vocab, chunk_rows(chunk_size, vocab), chunk_fn, torch.is_grad_enabled()
    )
    return reduce_tokens(per_token, counted, n, lead_shape, reduction)


def multitask_loss(losses: Mapping[str, torch.Tensor], weights: Mapping[str, float] | None = None):
    """TinyLLM / distilling step-by-step multi-task loss: L = L_A + sum_m alpha_m L_{T_m}.

    Args:
        losses: task name -> scalar loss tensor (e.g. {"answer": L_A, "rationale:flan-t5-xl": L_T1}).
        weights: task name -> weight alpha; tasks not listed get weight 1.0 (so the answer loss
            usually needs no entry). A weight for a task not in ``losses`` is an error (likely a typo).

    Returns:
        (total, parts): total = sum of weighted losses (a tensor keeping the graph); parts maps each
        task to its unweighted loss as a float, plus "total", for logging.
    """
    weights = dict(weights or {})
    if not losses:
        raise LabkitError("multitask_loss needs at least one loss")
    unknown = sorted(set(weights) - set(losses))
    if unknown:
        raise LabkitError(f"weights name tasks that have no loss: {unknown}; tasks are {sorted(losses)}")
    total = None
    parts: dict[str, float] = {}
    for name, loss in losses.items():
        term = float(weights.get(name, 1.0)) * loss
        total = term if total is None else total + term
        parts[name] = float(loss.detach())
    parts["total"] = float(total.detach())
    return total, parts


# --------------------------------------------------------------------------------------------------
# Log-probabilities of chosen tokens (MiniLLM's rewards, importance weights)
# --------------------------------------------------------------------------------------------------


def token_logprobs(logits: torch.Tensor, tokens: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """log softmax(logits / tau)[tokens] per position, float32, differentiable: (..., V), (...) -> (...).

    Computed as logit[token] - logsumexp(logits), so no (..., V) tensor of log-probabilities is kept.
    """
    temperature = check_temperature(temperature)
    if tokens.shape != logits.shape[:-1]:
        raise LabkitError(
            f"tokens must have the logits' leading shape {tuple(logits.shape[:-1])}, got {tuple(tokens.shape)}"
        )
    x = logits.float()
    if temperature != 1.0:
        x = x / temperature
    picked = x.gather(-1, tokens.long().clamp(min=0).unsqueeze(-1)).squeeze(-1)
    return picked - torch.logsumexp(x, dim=-1)
