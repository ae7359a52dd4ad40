"""MiniLLM (labkit.methods.minillm): the estimator against the exact gradient of the sequence-level
reverse KL on enumerable toy policies, importance weights, the pieces by hand, then training on a tiny model."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from labkit import losses
from labkit import losses as L
from labkit import sequences as S
from labkit.methods import minillm

V, T_LEN = 3, 2


def random_pair(shape=(3, 5, 17), seed=0, scale=2.0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    z = (torch.randn(shape, generator=g, dtype=torch.float64) * scale).to(dtype)
    t = (torch.randn(shape, generator=g, dtype=torch.float64) * scale).to(dtype)
    mask = torch.rand(shape[:-1], generator=g) > 0.3
    return z, t, mask


def _toy_policy(seed):
    """Logit tables indexed by the prefix: () -> row 0, (a,) -> row 1 + a.  (1 + V, V)."""
    g = torch.Generator().manual_seed(seed)
    return torch.randn(1 + V, V, generator=g, dtype=torch.float64)


def _seq_logits(table, seqs):
    """(N, T) token sequences -> (N, T, V) logits of the toy policy at each position."""
    rows = torch.stack([torch.zeros_like(seqs[:, 0]), 1 + seqs[:, 0]], 1)  # (N, T)
    return table[rows]


def _exact_reverse_kl(q_table, p_table):
    """Σ_y q(y) log q(y)/p(y) over all V^T sequences (float64, differentiable in q_table)."""
    seqs = torch.tensor(list(itertools.product(range(V), repeat=T_LEN)))
    lq = torch.log_softmax(_seq_logits(q_table, seqs), -1).gather(-1, seqs[..., None]).squeeze(-1).sum(1)
    lp = torch.log_softmax(_seq_logits(p_table, seqs), -1).gather(-1, seqs[..., None]).squeeze(-1).sum(1)
    return (lq.exp() * (lq - lp)).sum()


def _sample(table_q, table_p, n, alpha, g):
    """n sequences from p~ = α p + (1-α) q, token by token."""
    seqs = torch.zeros(n, T_LEN, dtype=torch.long)
    for t in range(T_LEN):
        lq = torch.log_softmax(_seq_logits(table_q, seqs)[:, t], -1)
        lp = torch.log_softmax(_seq_logits(table_p, seqs)[:, t], -1)
        mix = alpha * lp.exp() + (1 - alpha) * lq.exp()
        seqs[:, t] = torch.multinomial(mix, 1, generator=g).squeeze(1)
    return seqs


def _estimate(q_table, p_table, seqs, **switches):
    """Per-sequence gradients of the surrogate: (N, 1+V, V), via one backward per batch chunk."""
    grads = []
    for chunk in seqs.split(500):
        table = q_table.detach().clone().requires_grad_(True)
        out = minillm.surrogate(
            _seq_logits(table, chunk).float(),
            _seq_logits(p_table, chunk).float(),
            chunk,
            torch.ones_like(chunk, dtype=torch.bool),
            **switches,
        )
        out["surrogate"].sum(1).mean().backward()
        grads.append(table.grad.clone())
    return torch.stack(grads)  # one mean gradient per chunk


@pytest.mark.parametrize("single_step,baseline", [(True, True), (True, False), (False, True)])
def test_minillm_estimator_is_unbiased_for_sequence_reverse_kl(single_step, baseline):
    q_table, p_table = _toy_policy(0), _toy_policy(1) * 2
    table = q_table.clone().requires_grad_(True)
    _exact_reverse_kl(table, p_table).backward()
    exact = table.grad
    g = torch.Generator().manual_seed(0)
    seqs = _sample(q_table, p_table, 20_000, 0.0, g)
    chunk_means = _estimate(
        q_table, p_table, seqs, single_step=single_step, teacher_mix=0.0, length_norm=False, baseline=baseline
    )
    mean = chunk_means.mean(0)
    se = chunk_means.std(0) / math.sqrt(chunk_means.shape[0])
    assert torch.all((mean - exact).abs() <= 4 * se + 2e-3), (mean - exact).abs().max()
    # and the estimate is far from zero / from a wrong sign: it really tracks the gradient
    assert torch.nn.functional.cosine_similarity(mean.flatten(), exact.flatten(), dim=0) > 0.99


def test_single_step_and_baseline_lower_gradient_variance():
    q_table, p_table = _toy_policy(0), _toy_policy(1) * 2
    seqs = _sample(q_table, p_table, 4000, 0.0, torch.Generator().manual_seed(1))
    spread = {}
    for ss, base in ((True, True), (False, True), (True, False)):
        per_chunk = _estimate(q_table, p_table, seqs, single_step=ss, teacher_mix=0.0, length_norm=False, baseline=base)
        spread[ss, base] = per_chunk.var(0).sum()
    assert spread[True, True] < spread[False, True]
    assert spread[True, True] < spread[True, False]


def test_single_token_single_step_is_exact_for_any_sample():
    # T = 1: no future reward, the single-step term alone is the exact gradient of KL(q||p) (no MC error)
    q = torch.randn(1, 1, 5, dtype=torch.float64)
    p = torch.randn(1, 1, 5, dtype=torch.float64) * 3
    exact_q = q.clone().requires_grad_(True)
    lq, lp = torch.log_softmax(exact_q, -1), torch.log_softmax(p, -1)
    (lq.exp() * (lq - lp)).sum().backward()
    for y in range(5):
        z = q.float().clone().requires_grad_(True)
        minillm.surrogate(
            z, p.float(), torch.tensor([[y]]), torch.ones(1, 1, dtype=torch.bool), single_step=True, teacher_mix=0.0
        )["surrogate"].sum().backward()
        torch.testing.assert_close(z.grad.double(), exact_q.grad, atol=1e-6, rtol=1e-5)


def test_teacher_mix_weights_and_unbiasedness_for_one_token():
    alpha = 0.3
    q = torch.tensor([[[2.0, 0.0, -1.0, 0.5]]], dtype=torch.float64)
    p = torch.tensor([[[-1.0, 3.0, 0.0, 0.0]]], dtype=torch.float64)
    qs, ps = q.softmax(-1)[0, 0], p.softmax(-1)[0, 0]
    for y in range(4):
        out = minillm.surrogate(
            q.float(), p.float(), torch.tensor([[y]]), torch.ones(1, 1, dtype=torch.bool), teacher_mix=alpha
        )
        w = qs[y] / (alpha * ps[y] + (1 - alpha) * qs[y])
        assert float(out["weight"]) == pytest.approx(float(w), rel=1e-5)
        assert float(out["weight"]) <= 1 / (1 - alpha) + 1e-6
    # E_{y ~ p~}[w(y) grad-estimate(y)] summed exactly over the 4 tokens = exact gradient (T = 1)
    mix = alpha * ps + (1 - alpha) * qs
    exact_q = q.clone().requires_grad_(True)
    lq = torch.log_softmax(exact_q, -1)
    (lq.exp() * (lq - torch.log_softmax(p, -1))).sum().backward()
    for ss in (True, False):
        total = torch.zeros(4, dtype=torch.float64)
        for y in range(4):
            z = q.float().clone().requires_grad_(True)
            minillm.surrogate(
                z, p.float(), torch.tensor([[y]]), torch.ones(1, 1, dtype=torch.bool), single_step=ss, teacher_mix=alpha
            )["surrogate"].sum().backward()
            total += mix[y] * z.grad.double()[0, 0]
        torch.testing.assert_close(total, exact_q.grad[0, 0], atol=1e-5, rtol=1e-4)


def _on_policy_reverse_kl(student, teacher, tok, prompts, n_copies=4):
    """Per-token KL(q||p) on the student's own samples (fixed seed): the quantity MiniLLM lowers."""
    pids = [S.prompt_ids(tok, p) for p in prompts] * n_copies
    ys = S.sample_responses(
        student,
        pids,
        max_new_tokens=6,
        eos_id=tok.eos_token_id,
        pad=tok.pad_token_id,
        generator=torch.Generator().manual_seed(5),
        batch_size=len(pids),
    )
    b = S.collate_rollouts([S.make_rollout(p, y, 64) for p, y in zip(pids, ys)], tok.pad_token_id)
    with torch.no_grad():
        return float(
            losses.divergence(
                S.response_logits(student, b), S.response_logits(teacher, b), kind="reverse_kl", mask=b["response_mask"]
            )
        )


def test_minillm_reverse_kl_falls_and_logs_its_terms(tok, teacher, kd):
    student = kd.student()
    before = _on_policy_reverse_kl(student, teacher, tok, kd.PROMPTS)
    h = minillm.train(
        student,
        teacher,
        tok,
        kd.PROMPTS,
        single_step=True,
        teacher_mix=0.0,
        length_norm=True,
        max_new_tokens=6,
        config=kd.cfg(steps=24, lr=1e-2),
        grad_var_every=12,
    )
    after = _on_policy_reverse_kl(student, teacher, tok, kd.PROMPTS)
    assert after < 0.9 * before, (before, after)
    gv = h.series("grad_var")
    assert len(gv) == 3 and all(math.isfinite(v) and v > 0 for v in gv)  # steps 1, 12, 24
    assert h.series("weight_mean") == pytest.approx([1.0] * 24)  # α = 0: no reweighting
    for key in ("loss/pg", "loss/single", "reward", "reverse_kl_seq", "gen_len"):
        assert len(h.series(key)) == 24


def test_minillm_teacher_mix_and_lm_term(tok, teacher, kd):
    h = minillm.train(
        kd.student(),
        teacher,
        tok,
        kd.PROMPTS,
        targets=kd.TARGETS,
        lm_weight=0.5,
        teacher_mix=0.2,
        max_new_tokens=4,
        config=kd.cfg(steps=3),
        grad_var_every=0,
    )
    assert all(0 < w <= 1 / 0.8 + 1e-6 for w in h.series("weight_mean"))  # w = q / p~ <= 1 / (1 - α)
    assert any(w != pytest.approx(1.0) for w in h.series("weight_mean"))
    row = h.rows[-1]
    assert row["loss"] == pytest.approx(row["loss/pg"] + 0.5 * row["loss/lm"], rel=1e-5, abs=1e-6)
    assert "grad_var" not in h.keys()


def test_minillm_rewards_are_log_ratio():
    g = torch.Generator().manual_seed(16)
    z = torch.randn(2, 4, 9, generator=g, requires_grad=True)
    t = torch.randn(2, 4, 9, generator=g)
    y = torch.randint(0, 9, (2, 4), generator=g)
    mask = torch.tensor([[1, 1, 1, 0], [1, 1, 0, 0]], dtype=torch.bool)
    r = minillm.rewards(z, t, y, mask)
    assert not r.requires_grad
    lq = torch.log_softmax(z.detach().double(), -1).gather(-1, y[..., None])[..., 0]
    lp = torch.log_softmax(t.double(), -1).gather(-1, y[..., None])[..., 0]
    torch.testing.assert_close(r.double(), (lp - lq) * mask, rtol=1e-5, atol=1e-6)
    # token_logprobs is differentiable and correct
    lq_lab = L.token_logprobs(z, y)
    torch.testing.assert_close(lq_lab.double(), lq, rtol=1e-5, atol=1e-6)
    assert lq_lab.requires_grad


def test_minillm_single_step_is_exact_reverse_kl_per_token():
    z, t, mask = random_pair(shape=(2, 5, 11), seed=17)
    w = torch.rand(2, 5, generator=torch.Generator().manual_seed(1)) + 0.5
    zz = z.clone().requires_grad_(True)
    y = torch.zeros(2, 5, dtype=torch.long)  # any sample: the single-step term does not depend on it
    single = minillm.surrogate(zz, t, y, mask, single_step=True, teacher_mix=0.0, baseline=False)["single"]
    v = (single * w * mask).sum()
    v.backward()
    z64 = z.double().requires_grad_(True)
    q, p = torch.softmax(z64, -1), torch.softmax(t.double(), -1)
    # -E_{y~q}[r] with r = log p - log q, summed exactly over the vocabulary
    immediate_reward = (q * (p.log() - q.log())).sum(-1)
    ref = (-immediate_reward * w.double() * mask).sum()
    ref.backward()
    torch.testing.assert_close(v.double(), ref.detach(), rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(zz.grad.double(), z64.grad, rtol=1e-4, atol=1e-7)


def test_minillm_long_term_by_hand():
    logq = torch.tensor([[-1.0, -2.0, -0.5, -1.0]], requires_grad=True)
    r = torch.tensor([[1.0, 2.0, 3.0, 4.0]])
    # gamma = 0.5, no normalisation: R_{t+1} = sum_{t'>t} 0.5^(t'-t-1) r_t'
    loss, ret = minillm.long_term(logq, r, gamma=0.5, length_norm=False, reduction="sum", return_returns=True)
    expected = torch.tensor([[2 + 0.5 * 3 + 0.25 * 4, 3 + 0.5 * 4, 4.0, 0.0]])  # 4.5, 5, 4, 0
    torch.testing.assert_close(ret, expected)
    assert float(loss.detach()) == pytest.approx(-(4.5 * -1 + 5 * -2 + 4 * -0.5))
    # with length normalisation: divide by the number of remaining tokens 3, 2, 1, 0
    loss, ret = minillm.long_term(logq, r, gamma=0.5, length_norm=True, return_returns=True)
    torch.testing.assert_close(ret, torch.tensor([[1.5, 2.5, 4.0, 0.0]]))
    assert float(loss.detach()) == pytest.approx(-(1.5 * -1 + 2.5 * -2 + 4 * -0.5) / 4)
    loss.backward()
    torch.testing.assert_close(logq.grad, -torch.tensor([[1.5, 2.5, 4.0, 0.0]]) / 4)
    # a masked last token earns nothing and is not counted
    mask = torch.tensor([[True, True, True, False]])
    w = torch.tensor([[2.0, 1.0, 1.0, 1.0]])
    loss, ret = minillm.long_term(logq.detach(), r, mask, gamma=0.5, weights=w, return_returns=True)
    torch.testing.assert_close(ret, torch.tensor([[3.5 / 2, 3.0, 0.0, 0.0]]))
    assert float(loss) == pytest.approx(-(2 * 1.75 * -1 + 3.0 * -2) / 3)


def test_mixed_sampling_weights_and_distribution():
    lq = torch.log(torch.tensor([0.5, 0.01, 0.3]))
    lp = torch.log(torch.tensor([0.1, 0.9, 0.3]))
    w = minillm.mixed_sampling_weights(lq, lp, alpha=0.2)
    expected = torch.tensor([0.5 / (0.02 + 0.4), 0.01 / (0.18 + 0.008), 1.0])
    torch.testing.assert_close(w, expected, rtol=1e-6, atol=0)
    assert torch.all(w <= 1 / 0.8 + 1e-6)
    assert torch.all(minillm.mixed_sampling_weights(lq, lp, alpha=0.0) == 1)
    assert float(minillm.mixed_sampling_weights(lq, lp, alpha=0.2, clip=1.1)[0]) == pytest.approx(1.1)
    g = torch.Generator().manual_seed(18)
    z, t = torch.randn(3, 6, generator=g), torch.randn(3, 6, generator=g)
    log_mix = S.mixed_log_probs(torch.log_softmax(z, -1), torch.log_softmax(t, -1), 0.2)
    ref = torch.log(0.2 * torch.softmax(t.double(), -1) + 0.8 * torch.softmax(z.double(), -1))
    torch.testing.assert_close(log_mix.double(), ref, rtol=1e-6, atol=1e-7)


def test_minillm_gradient_estimator_is_unbiased_on_enumerable_case():
    """Single-step + long-term gradient, averaged exactly over all sequences y ~ q, equals the
    gradient of the sequence-level KL(q || p) (gamma = 1, no length normalisation, no mixing)."""
    g = torch.Generator().manual_seed(19)
    vocab = 3
    theta1 = torch.randn(vocab, generator=g, dtype=torch.float64, requires_grad=True)
    theta2 = torch.randn(vocab, vocab, generator=g, dtype=torch.float64, requires_grad=True)
    phi1 = torch.randn(vocab, generator=g, dtype=torch.float64)
    phi2 = torch.randn(vocab, vocab, generator=g, dtype=torch.float64)

    def logq(y1, y2):
        return torch.log_softmax(theta1, -1)[y1] + torch.log_softmax(theta2[y1], -1)[y2]

    def logp(y1, y2):
        return torch.log_softmax(phi1, -1)[y1] + torch.log_softmax(phi2[y1], -1)[y2]

    seqs = list(itertools.product(range(vocab), repeat=2))
    exact = sum(logq(*y).exp() * (logq(*y) - logp(*y)) for y in seqs)
    exact_grad = torch.autograd.grad(exact, (theta1, theta2))

    surrogate = 0.0
    for y1, y2 in seqs:
        s_logits = torch.stack([theta1, theta2[y1]])[None]  # (1, T=2, V)
        t_logits = torch.stack([phi1, phi2[y1]])[None]
        tokens = torch.tensor([[y1, y2]])
        single = L.divergence(s_logits, t_logits, kind="reverse_kl", reduction="sum")
        rewards = minillm.rewards(s_logits, t_logits, tokens)
        long = minillm.long_term(
            L.token_logprobs(s_logits, tokens), rewards, gamma=1.0, length_norm=False, reduction="sum"
        )
        surrogate = surrogate + logq(y1, y2).exp().detach() * (single + long)
    est_grad = torch.autograd.grad(surrogate, (theta1, theta2))
    for a, b in zip(est_grad, exact_grad):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    assert exact_grad[1].abs().max() > 1e-2  # a non-trivial gradient
