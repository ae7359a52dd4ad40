"""Tests for labkit.losses against an independent float64 reference written here from the formulas.

The reference below shares no code with labkit.losses: plain float64 softmax, the textbook definitions,
and torch autograd for the gradients.
"""

import itertools
import math

import pytest
import torch
import torch.nn.functional as F

from labkit import losses as L
from labkit.errors import LabkitError

BETAS = (0.0, 0.1, 0.5, 0.9, 1.0)
TEMPERATURES = (0.5, 1.0, 2.0)


# ---------------------------------------------------------------------------------------------
# Independent float64 reference
# ---------------------------------------------------------------------------------------------


def _kl(a, log_a, log_b):
    """sum_v a (log a - log b) with 0 log 0 = 0, float64."""
    return torch.where(a > 0, a * (log_a - log_b), torch.zeros_like(a)).sum(-1)


def ref_per_token(z, t, kind, beta=0.5, skew=0.1, tau=1.0):
    """Per-token divergence from the textbook formulas; z, t float64 (..., V)."""
    # log-probabilities via log_softmax and log(a x + b y) via logaddexp, so that probabilities which
    # underflow at logits of +-1e4 do not turn the float64 reference itself into inf/NaN
    log_q = torch.log_softmax(z / tau, dim=-1)
    log_p = torch.log_softmax(t / tau, dim=-1)
    q, p = log_q.exp(), log_p.exp()

    def log_mix(a, log_x, log_y):  # log(a x + (1 - a) y)
        return torch.logaddexp(math.log(a) + log_x, math.log(1 - a) + log_y)

    if kind == "forward_kl" or (kind == "jsd" and beta == 0):
        return _kl(p, log_p, log_q)
    if kind == "reverse_kl" or (kind == "jsd" and beta == 1):
        return _kl(q, log_q, log_p)
    if kind == "skew_kl" and skew == 0:
        return _kl(p, log_p, log_q)
    if kind == "skew_reverse_kl" and skew == 0:
        return _kl(q, log_q, log_p)
    if kind == "jsd":
        log_m = log_mix(beta, log_p, log_q)
        return beta * _kl(p, log_p, log_m) + (1 - beta) * _kl(q, log_q, log_m)
    if kind == "skew_kl":
        return _kl(p, log_p, log_mix(skew, log_p, log_q))
    if kind == "skew_reverse_kl":
        return _kl(q, log_q, log_mix(skew, log_q, log_p))
    if kind == "tvd":
        return 0.5 * (p - q).abs().sum(-1)
    raise AssertionError(kind)


def ref_mean(per_token, mask):
    if mask is None:
        return per_token.mean()
    return per_token[mask].sum() / max(int(mask.sum()), 1)


def ref_value_and_grad(z, t, kind, mask=None, **kw):
    z64 = z.detach().double().requires_grad_(True)
    value = ref_mean(ref_per_token(z64, t.detach().double(), kind, **kw), mask)
    (grad,) = torch.autograd.grad(value, z64)
    return value.detach(), grad


def lab_value_and_grad(z, t, kind, **kw):
    z = z.detach().clone().requires_grad_(True)
    value = L.divergence(z, t, kind=kind, **kw)
    value.backward()
    return value.detach(), z.grad


def random_pair(shape=(3, 5, 17), seed=0, scale=2.0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    z = (torch.randn(shape, generator=g, dtype=torch.float64) * scale).to(dtype)
    t = (torch.randn(shape, generator=g, dtype=torch.float64) * scale).to(dtype)
    mask = torch.rand(shape[:-1], generator=g) > 0.3
    return z, t, mask


# ---------------------------------------------------------------------------------------------
# Values and gradients against the reference
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", L.KINDS)
def test_values_and_gradients_match_float64_reference(kind):
    betas = BETAS if kind == "jsd" else (0.5,)
    skews = (0.0, 0.1, 0.5) if kind.startswith("skew") else (0.1,)
    for i, (beta, skew, tau) in enumerate(itertools.product(betas, skews, TEMPERATURES)):
        z, t, mask = random_pair(seed=i)
        for m in (mask, None):
            v, g = lab_value_and_grad(z, t, kind, beta=beta, skew=skew, temperature=tau, mask=m)
            rv, rg = ref_value_and_grad(z, t, kind, beta=beta, skew=skew, tau=tau, mask=m)
            assert v.dtype == torch.float32
            torch.testing.assert_close(
                v.double(), rv, rtol=1e-5, atol=1e-7, msg=f"{kind} beta={beta} skew={skew} tau={tau}"
            )
            torch.testing.assert_close(
                g.double(), rg, rtol=1e-4, atol=1e-7, msg=f"grad {kind} beta={beta} skew={skew} tau={tau}"
            )


@pytest.mark.parametrize("kind", L.KINDS)
def test_reductions(kind):
    z, t, mask = random_pair(seed=1)
    per = L.divergence(z, t, kind=kind, mask=mask, reduction="none")
    assert per.shape == mask.shape
    assert torch.all(per[~mask] == 0)
    ref = ref_per_token(z.double(), t.double(), kind)
    torch.testing.assert_close(per[mask].double(), ref[mask], rtol=1e-5, atol=1e-7)
    total = L.divergence(z, t, kind=kind, mask=mask, reduction="sum")
    torch.testing.assert_close(total, per.sum())
    mean = L.divergence(z, t, kind=kind, mask=mask)
    torch.testing.assert_close(mean, per.sum() / mask.sum())
    # "none" is differentiable with per-token upstream gradients
    zz = z.clone().requires_grad_(True)
    w = torch.rand(mask.shape, generator=torch.Generator().manual_seed(3))
    (L.divergence(zz, t, kind=kind, mask=mask, reduction="none") * w).sum().backward()
    z64 = z.double().requires_grad_(True)
    ((ref_per_token(z64, t.double(), kind) * w.double() * mask).sum()).backward()
    torch.testing.assert_close(zz.grad.double(), z64.grad, rtol=1e-4, atol=1e-7)


# ---------------------------------------------------------------------------------------------
# Properties
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", L.KINDS)
def test_nonnegative_and_zero_for_identical(kind):
    z, t, _ = random_pair(shape=(40, 23), seed=2, scale=3.0)
    per = L.divergence(z, t, kind=kind, beta=0.3, reduction="none")
    assert torch.all(per >= -1e-6)
    assert per.mean() > 1e-3
    same = L.divergence(z, z.clone(), kind=kind, beta=0.3, reduction="none")
    assert torch.all(same.abs() < 1e-6)
    zz = z.clone().requires_grad_(True)
    L.divergence(zz, z.clone(), kind=kind, beta=0.3).backward()
    assert zz.grad.abs().max() < 1e-6  # identical inputs: a minimum, zero gradient


def test_jsd_symmetric_at_half():
    z, t, mask = random_pair(seed=4)
    a = L.divergence(z, t, kind="jsd", beta=0.5, mask=mask)
    b = L.divergence(t, z, kind="jsd", beta=0.5, mask=mask)
    torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7)
    # and not symmetric away from 0.5 (so the check above is not vacuous)
    c = L.divergence(z, t, kind="jsd", beta=0.2, mask=mask)
    d = L.divergence(t, z, kind="jsd", beta=0.2, mask=mask)
    assert abs(float(c - d)) > 1e-3


def test_jsd_endpoints_on_asymmetric_pair():
    # a peaked teacher and a flat student: forward and reverse KL differ a lot, so swapped
    # endpoint branches cannot pass
    t = torch.tensor([[6.0, 0.0, 0.0, 0.0, 0.0]])
    z = torch.tensor([[0.5, 0.4, 0.3, 0.2, 0.1]])
    fwd = L.divergence(z, t, kind="forward_kl")
    rev = L.divergence(z, t, kind="reverse_kl")
    assert abs(float(fwd - rev)) > 0.3
    p, q = torch.softmax(t.double(), -1), torch.softmax(z.double(), -1)
    torch.testing.assert_close(fwd.double(), (p * (p / q).log()).sum(), rtol=1e-6, atol=0)
    torch.testing.assert_close(rev.double(), (q * (q / p).log()).sum(), rtol=1e-6, atol=0)
    torch.testing.assert_close(L.divergence(z, t, kind="jsd", beta=0.0), fwd, rtol=0, atol=0)
    torch.testing.assert_close(L.divergence(z, t, kind="jsd", beta=1.0), rev, rtol=0, atol=0)
    # the mixture formula near the endpoints tends to 0, not to the KLs (why they are special cases)
    assert float(L.divergence(z, t, kind="jsd", beta=1e-6)) < 1e-4
    assert float(L.divergence(z, t, kind="jsd", beta=1 - 1e-6)) < 1e-4
    # skew KL at skew 0 is the plain KL in each direction
    torch.testing.assert_close(L.divergence(z, t, kind="skew_kl", skew=0.0), fwd, rtol=0, atol=0)
    torch.testing.assert_close(L.divergence(z, t, kind="skew_reverse_kl", skew=0.0), rev, rtol=0, atol=0)


def test_skew_kl_is_bounded():
    # KL(p || a p + (1-a) q) <= log(1/a) whatever q is
    t = torch.tensor([[20.0, 0.0, 0.0]])
    z = torch.tensor([[-20.0, 0.0, 0.0]])
    v = L.divergence(z, t, kind="skew_kl", skew=0.1)
    assert float(v) <= math.log(10) + 1e-5
    assert float(v) > 2.0


def test_teacher_gets_no_gradient():
    z, t, mask = random_pair(seed=5)
    z.requires_grad_(True)
    t.requires_grad_(True)
    for kind in L.KINDS:
        L.divergence(z, t, kind=kind, mask=mask).backward()
    assert t.grad is None
    assert z.grad is not None


# ---------------------------------------------------------------------------------------------
# Chunking
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", L.KINDS)
def test_chunked_equals_unchunked(kind):
    z, t, mask = random_pair(shape=(4, 9, 31), seed=6)
    v_full, g_full = lab_value_and_grad(z, t, kind, mask=mask, chunk_size=10_000, beta=0.3)
    for chunk in (1, 5, 7, 36):
        v, g = lab_value_and_grad(z, t, kind, mask=mask, chunk_size=chunk, beta=0.3)
        torch.testing.assert_close(v, v_full, rtol=1e-6, atol=1e-7)
        torch.testing.assert_close(g, g_full, rtol=1e-6, atol=1e-9)
        assert torch.all(g[~mask] == 0)


def test_default_chunk_rows():
    assert L.chunk_rows(None, 49152) == 2**20 // 49152
    assert L.chunk_rows(None, 262144) == 4
    assert L.chunk_rows(None, 2**21) == 1
    assert L.chunk_rows(None, 10) == 2**20 // 10
    with pytest.raises(LabkitError, match="chunk_size"):
        L.divergence(torch.zeros(2, 3), torch.zeros(2, 3), kind="tvd", chunk_size=0)


# ---------------------------------------------------------------------------------------------
# Numerical edge cases
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", L.KINDS)
def test_all_masked_gives_zero_and_a_valid_gradient(kind):
    z, t, _ = random_pair(seed=7)
    z.requires_grad_(True)
    mask = torch.zeros(z.shape[:-1], dtype=torch.bool)
    v = L.divergence(z, t, kind=kind, mask=mask)
    assert float(v.detach()) == 0.0
    v.backward()
    assert z.grad is not None and torch.all(z.grad == 0)


@pytest.mark.parametrize("kind", L.KINDS)
def test_masked_positions_get_exactly_zero_gradient_even_with_garbage(kind):
    z, t, mask = random_pair(seed=8)
    t = t.clone()
    z = z.clone()
    t[~mask] = float("-inf")  # padded rows: every teacher logit -inf (softmax would be NaN)
    z[~mask] = 1e30
    z.requires_grad_(True)
    v = L.divergence(z, t, kind=kind, mask=mask, chunk_size=4)
    v.backward()
    assert torch.isfinite(v)
    assert torch.all(z.grad[~mask] == 0)
    assert torch.all(torch.isfinite(z.grad))


def _banned_pair():
    g = torch.Generator().manual_seed(9)
    z = torch.randn(6, 12, generator=g)
    t = torch.randn(6, 12, generator=g)
    t[:, :3] = float("-inf")  # banned tokens 0..2
    t[0, 5] = float("-inf")
    return z, t


@pytest.mark.parametrize("kind", [k for k in L.KINDS if k != "reverse_kl"])
def test_inf_teacher_logits_exact_kinds(kind):
    z, t = _banned_pair()
    for beta in (0.0, 0.5, 0.9):
        v, g = lab_value_and_grad(z, t, kind, beta=beta)
        rv, rg = ref_value_and_grad(z, t, kind, beta=beta)
        assert torch.isfinite(v) and torch.all(torch.isfinite(g))
        torch.testing.assert_close(v.double(), rv, rtol=1e-5, atol=1e-7)
        torch.testing.assert_close(g.double(), rg, rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize("kind,kw", [("reverse_kl", {}), ("jsd", {"beta": 1.0}), ("skew_reverse_kl", {"skew": 0.0})])
def test_inf_teacher_logits_reverse_kl_floor(kind, kw):
    z, t = _banned_pair()
    zz = z.clone().requires_grad_(True)
    per = L.divergence(zz, t, kind=kind, reduction="none", **kw)
    per.sum().backward()
    assert torch.all(torch.isfinite(per)) and torch.all(torch.isfinite(zz.grad))
    # value = documented floor formula, computed independently in float64
    q = torch.softmax(z.double(), -1)
    log_p = torch.log_softmax(t.double(), -1)
    finite_min = torch.where(torch.isfinite(log_p), log_p, torch.inf).amin(-1, keepdim=True)
    floored = torch.where(torch.isfinite(log_p), log_p, finite_min.clamp(max=L.REVERSE_KL_LOG_P_FLOOR))
    expected = (q * (q.log() - floored)).sum(-1)
    torch.testing.assert_close(per.double(), expected, rtol=1e-5, atol=1e-6)
    assert L.REVERSE_KL_LOG_P_FLOOR == pytest.approx(math.log(1.1754943508222875e-38))
    # the gradient pushes the student's mass off banned tokens: positive logit gradient there,
    # and one descent step lowers the banned mass in every row
    assert torch.all(zz.grad[:, :3] > 0)
    step = z - 0.05 * zz.grad
    banned_before = torch.softmax(z, -1)[:, :3].sum(-1)
    banned_after = torch.softmax(step, -1)[:, :3].sum(-1)
    assert torch.all(banned_after < banned_before)


@pytest.mark.parametrize("kind", L.KINDS)
@pytest.mark.parametrize("tau", [0.1, 10.0])
def test_large_logits_and_extreme_temperatures(kind, tau):
    g = torch.Generator().manual_seed(10)
    z = (torch.rand(4, 3, 19, generator=g) * 2 - 1) * 1e4
    t = (torch.rand(4, 3, 19, generator=g) * 2 - 1) * 1e4
    z[0, 0, 0], t[0, 0, 1] = 1e4, -1e4
    for beta in (0.0, 0.5, 1.0):
        v, grad = lab_value_and_grad(z, t, kind, beta=beta, temperature=tau)
        assert torch.isfinite(v) and torch.all(torch.isfinite(grad))
        rv, rg = ref_value_and_grad(z, t, kind, beta=beta, tau=tau)
        torch.testing.assert_close(v.double(), rv, rtol=1e-4, atol=1e-6)
        # logits/tau up to 1e5: float32 carries ~1e-7 relative error on log-probabilities of that size,
        # so gradient entries are compared at 1e-5 of the gradient's scale
        torch.testing.assert_close(grad.double(), rg, rtol=1e-3, atol=1e-5 * max(1.0, float(rg.abs().max())))


@pytest.mark.parametrize("kind", L.KINDS)
def test_bf16_inputs(kind):
    z, t, mask = random_pair(seed=11, dtype=torch.bfloat16)
    zb = z.clone().requires_grad_(True)
    v = L.divergence(zb, t, kind=kind, mask=mask, beta=0.3)
    v.backward()
    assert v.dtype == torch.float32 and zb.grad.dtype == torch.bfloat16
    # the same numbers as float32 inputs holding the bf16 values, and as the float64 reference
    v32, g32 = lab_value_and_grad(z.float(), t.float(), kind, mask=mask, beta=0.3)
    torch.testing.assert_close(v, v32, rtol=1e-6, atol=1e-7)
    torch.testing.assert_close(zb.grad.float(), g32, rtol=1e-2, atol=1e-4)
    rv, _ = ref_value_and_grad(z.float(), t.float(), kind, mask=mask, beta=0.3)
    torch.testing.assert_close(v.double(), rv, rtol=1e-5, atol=1e-7)


# ---------------------------------------------------------------------------------------------
# Vocabulary mismatch and argument checks
# ---------------------------------------------------------------------------------------------


def test_vocab_mismatch_raises_naming_both_sizes():
    z = torch.randn(2, 3, 20)
    t = torch.randn(2, 3, 24)
    with pytest.raises(LabkitError, match=r"20.*24"):
        L.divergence(z, t, kind="forward_kl")


@pytest.mark.parametrize("student_v,teacher_v", [(20, 24), (24, 20)])
def test_vocab_padding_ok_drops_extra_rows(student_v, teacher_v):
    g = torch.Generator().manual_seed(12)
    z = torch.randn(2, 3, student_v, generator=g)
    t = torch.randn(2, 3, teacher_v, generator=g)
    zz = z.clone().requires_grad_(True)
    v = L.divergence(zz, t, kind="jsd", vocab_padding_ok=True)
    v.backward()
    rv, rg = ref_value_and_grad(z[..., :20], t[..., :20], "jsd")
    torch.testing.assert_close(v.double(), rv, rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(zz.grad[..., :20].double(), rg, rtol=1e-4, atol=1e-7)
    assert torch.all(zz.grad[..., 20:] == 0)


def test_argument_errors():
    z, t, mask = random_pair(seed=13)
    with pytest.raises(LabkitError, match="kind"):
        L.divergence(z, t, kind="kl")
    with pytest.raises(LabkitError, match="beta"):
        L.divergence(z, t, kind="jsd", beta=1.5)
    with pytest.raises(LabkitError, match="temperature"):
        L.divergence(z, t, kind="jsd", temperature=0.0)
    with pytest.raises(LabkitError, match="reduction"):
        L.divergence(z, t, kind="jsd", reduction="batchmean")
    with pytest.raises(LabkitError, match="mask"):
        L.divergence(z, t, kind="jsd", mask=mask[:, :2])
    with pytest.raises(LabkitError, match="leading shape"):
        L.divergence(z, t[:2], kind="jsd")


# ---------------------------------------------------------------------------------------------
# Cross-entropy, multi-task, GKD
# ---------------------------------------------------------------------------------------------


def test_token_cross_entropy_matches_float64():
    g = torch.Generator().manual_seed(14)
    logits = torch.randn(3, 7, 29, generator=g) * 3
    labels = torch.randint(0, 29, (3, 7), generator=g)
    labels[0, :3] = -100
    mask = torch.rand(3, 7, generator=g) > 0.2
    for m, chunk in ((None, None), (mask, 4), (mask, None)):
        x = logits.clone().requires_grad_(True)
        v = L.token_cross_entropy(x, labels, mask=m, chunk_size=chunk)
        v.backward()
        x64 = logits.double().requires_grad_(True)
        ref_labels = labels.clone() if m is None else labels.masked_fill(~m, -100)
        ref = F.cross_entropy(x64.reshape(-1, 29), ref_labels.reshape(-1), ignore_index=-100)
        ref.backward()
        torch.testing.assert_close(v.double(), ref.detach(), rtol=1e-6, atol=1e-7)
        torch.testing.assert_close(x.grad.double(), x64.grad, rtol=1e-5, atol=1e-7)
    per = L.token_cross_entropy(logits, labels, reduction="none")
    assert per.shape == (3, 7) and torch.all(per[0, :3] == 0)
    all_ignored = torch.full((3, 7), -100)
    x = logits.clone().requires_grad_(True)
    v = L.token_cross_entropy(x, all_ignored)
    v.backward()
    assert float(v.detach()) == 0.0 and torch.all(x.grad == 0)
    with pytest.raises(LabkitError, match="labels"):
        L.token_cross_entropy(logits, torch.full((3, 7), 29))


def test_multitask_loss():
    la = torch.tensor(2.0, requires_grad=True)
    l1 = torch.tensor(3.0, requires_grad=True)
    l2 = torch.tensor(5.0, requires_grad=True)
    total, parts = L.multitask_loss(
        {"answer": la, "rationale:a": l1, "rationale:b": l2}, {"rationale:a": 0.1, "rationale:b": 2.0}
    )
    assert float(total.detach()) == pytest.approx(2.0 + 0.3 + 10.0)
    assert parts == pytest.approx({"answer": 2.0, "rationale:a": 3.0, "rationale:b": 5.0, "total": 12.3})
    assert all(isinstance(v, float) for v in parts.values())
    total.backward()
    assert (float(la.grad), float(l1.grad), float(l2.grad)) == pytest.approx((1.0, 0.1, 2.0))
    with pytest.raises(LabkitError, match="rationale:c"):
        L.multitask_loss({"answer": la}, {"rationale:c": 1.0})


def test_no_gradient_work_under_no_grad(monkeypatch):
    seen = []
    original = L._jsd

    def spy(lq, lp, beta, want_grad):
        seen.append(want_grad)
        return original(lq, lp, beta, want_grad)

    monkeypatch.setattr(L, "_jsd", spy)
    z, t, mask = random_pair(seed=20)
    z.requires_grad_(True)
    with torch.no_grad():
        v = L.divergence(z, t, kind="jsd", mask=mask)
    assert seen == [False] and not v.requires_grad
    torch.testing.assert_close(v, L.divergence(z, t, kind="jsd", mask=mask).detach())
    assert seen == [False, True]


def test_second_backward_is_a_clear_error():
    z, t, _ = random_pair(seed=21)
    z.requires_grad_(True)
    v = L.divergence(z, t, kind="tvd")
    v.backward(retain_graph=True)
    with pytest.raises(RuntimeError, match="only once"):
        v.backward()
