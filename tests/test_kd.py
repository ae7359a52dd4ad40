"""White-box distillation loops (labkit.kd) on tiny models built from a config.

Mathematics first (the MiniLLM estimator against the exact gradient of the sequence-level reverse
KL on an enumerable toy policy, importance weights, the sampler's distribution), then the plumbing
(batched = unbatched), then each loop: its KD loss falls, GKD's special cases, vocabulary checks.
"""
from __future__ import annotations

import itertools
import math

import pytest
import torch

from labkit import kd, losses, tiny
from labkit.errors import LabkitError
from labkit.train import TrainConfig

# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def tok():
    return tiny.train_tokenizer(tiny.default_corpus(n=120), vocab_size=320)


def _teacher(tok):
    """A 2-layer tiny LM with sharpened output (×6 on the final norm), so that it has clear modes."""
    t = tiny.tiny_causal_lm(tok, n_layers=2, hidden=64, heads=4, seed=1)
    with torch.no_grad():
        t.model.norm.weight.mul_(6.0)
    return t.eval()


def _student(tok, seed=2):
    return tiny.tiny_causal_lm(tok, n_layers=1, hidden=64, heads=4, seed=seed)


@pytest.fixture(scope="module")
def teacher(tok):
    return _teacher(tok)


PROMPTS = [f"Q: {a} has {n} {o}. How many?\nA:" for a, n, o in
           zip(["Ann", "Bob", "Carol", "Dave", "Eve", "Frank", "Grace", "Heidi"], range(3, 11),
               ["apples", "pens", "cups", "hats", "keys", "coins", "books", "cards"])]
TARGETS = [f" {n} {o}." for n, o in zip(range(3, 11), ["apples", "pens", "cups", "hats", "keys", "coins",
                                                       "books", "cards"])]


def cfg(**kw):
    base = dict(steps=12, batch_size=4, lr=5e-3, progress=False, max_len=64, bf16=False, warmup=0,
                log_every=4)
    base.update(kw)
    return TrainConfig(**base)


def _falls(series, k=3):
    first, last = sum(series[:k]) / k, sum(series[-k:]) / k
    return last < first, first, last


# --------------------------------------------------------------------------- MiniLLM estimator, exactly

V, T_LEN = 3, 2


def _toy_policy(seed):
    """Logit tables indexed by the prefix: () -> row 0, (a,) -> row 1 + a.  (1 + V, V)."""
    g = torch.Generator().manual_seed(seed)
    return torch.randn(1 + V, V, generator=g, dtype=torch.float64)


def _seq_logits(table, seqs):
    """(N, T) token sequences -> (N, T, V) logits of the toy policy at each position."""
    rows = torch.stack([torch.zeros_like(seqs[:, 0]), 1 + seqs[:, 0]], 1)   # (N, T)
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
        out = kd.minillm_surrogate(_seq_logits(table, chunk).float(), _seq_logits(p_table, chunk).float(),
                                   chunk, torch.ones_like(chunk, dtype=torch.bool), **switches)
        out["surrogate"].sum(1).mean().backward()
        grads.append(table.grad.clone())
    return torch.stack(grads)          # one mean gradient per chunk


@pytest.mark.parametrize("single_step,baseline", [(True, True), (True, False), (False, True)])
def test_minillm_estimator_is_unbiased_for_sequence_reverse_kl(single_step, baseline):
    q_table, p_table = _toy_policy(0), _toy_policy(1) * 2
    table = q_table.clone().requires_grad_(True)
    _exact_reverse_kl(table, p_table).backward()
    exact = table.grad
    g = torch.Generator().manual_seed(0)
    seqs = _sample(q_table, p_table, 20_000, 0.0, g)
    chunk_means = _estimate(q_table, p_table, seqs, single_step=single_step, teacher_mix=0.0, length_norm=False,
                            baseline=baseline)
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
        per_chunk = _estimate(q_table, p_table, seqs, single_step=ss, teacher_mix=0.0, length_norm=False,
                              baseline=base)
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
        kd.minillm_surrogate(z, p.float(), torch.tensor([[y]]), torch.ones(1, 1, dtype=torch.bool),
                             single_step=True, teacher_mix=0.0)["surrogate"].sum().backward()
        torch.testing.assert_close(z.grad.double(), exact_q.grad, atol=1e-6, rtol=1e-5)


def test_teacher_mix_weights_and_unbiasedness_for_one_token():
    alpha = 0.3
    q = torch.tensor([[[2.0, 0.0, -1.0, 0.5]]], dtype=torch.float64)
    p = torch.tensor([[[-1.0, 3.0, 0.0, 0.0]]], dtype=torch.float64)
    qs, ps = q.softmax(-1)[0, 0], p.softmax(-1)[0, 0]
    for y in range(4):
        out = kd.minillm_surrogate(q.float(), p.float(), torch.tensor([[y]]), torch.ones(1, 1, dtype=torch.bool),
                                   teacher_mix=alpha)
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
            kd.minillm_surrogate(z, p.float(), torch.tensor([[y]]), torch.ones(1, 1, dtype=torch.bool),
                                 single_step=ss, teacher_mix=alpha)["surrogate"].sum().backward()
            total += mix[y] * z.grad.double()[0, 0]
        torch.testing.assert_close(total, exact_q.grad[0, 0], atol=1e-5, rtol=1e-4)


# --------------------------------------------------------------------------- sampler and batching


def test_teacher_mixed_sampler_draws_from_the_mixture(tok, teacher):
    student = _student(tok)
    alpha, n = 0.4, 2000
    prompt = kd.prompt_ids(tok, PROMPTS[0])
    g = torch.Generator().manual_seed(0)
    ys = kd.sample_responses(student, [prompt] * n, max_new_tokens=1, eos_id=tok.eos_token_id,
                             pad_id=tok.pad_token_id, teacher=teacher, teacher_mix=alpha, generator=g,
                             batch_size=n)
    counts = torch.bincount(torch.tensor([y[0] for y in ys]), minlength=len(tok)).double()
    with torch.no_grad():
        ids = torch.tensor([prompt])
        q = student(ids).logits[0, -1].double().softmax(-1)
        p = teacher(ids).logits[0, -1].double().softmax(-1)
    mix = alpha * p + (1 - alpha) * q
    top = mix.argsort(descending=True)[:5]
    se = (mix[top] * (1 - mix[top]) / n).sqrt()
    assert torch.all((counts[top] / n - mix[top]).abs() < 4.5 * se + 1e-3)
    assert mix[top[0]] > 0.05  # the teacher's sharp mode is visible in the mixture


def test_batched_greedy_decoding_and_logits_match_one_at_a_time(tok, teacher):
    prompts = [kd.prompt_ids(tok, p) for p in PROMPTS[:3]]
    assert len({len(p) for p in prompts}) > 1   # different lengths: left padding matters
    kw = dict(max_new_tokens=6, eos_id=tok.eos_token_id, pad_id=tok.pad_token_id, greedy=True)
    batched = kd.sample_responses(teacher, prompts, batch_size=3, **kw)
    single = [kd.sample_responses(teacher, [p], batch_size=1, **kw)[0] for p in prompts]
    assert batched == single
    rollouts = [kd.make_rollout(p, r, 64) for p, r in zip(prompts, batched)]
    b = kd.collate_rollouts(rollouts, tok.pad_token_id)
    with torch.no_grad():
        logits = kd.response_logits(teacher, b)                                     # (B, R, V)
        for i, r in enumerate(rollouts):
            ids = torch.tensor([r["prompt"] + r["response"]])
            ref = teacher(ids).logits[0, len(r["prompt"]) - 1: -1]
            torch.testing.assert_close(logits[i, : len(r["response"])], ref, atol=1e-4, rtol=1e-4)


# --------------------------------------------------------------------------- the loops


def test_vocab_mismatch_is_caught_before_the_first_step(tok, teacher):
    student = _student(tok)
    student.resize_token_embeddings(len(tok) + 8)
    before = [p.detach().clone() for p in student.parameters()]
    calls = [
        lambda: kd.train_kd(student, teacher, tok, PROMPTS, TARGETS, config=cfg()),
        lambda: kd.train_seqkd(student, teacher, tok, PROMPTS, config=cfg()),
        lambda: kd.train_gkd(student, teacher, tok, PROMPTS, config=cfg()),
        lambda: kd.train_minillm(student, teacher, tok, PROMPTS, config=cfg()),
    ]
    for call in calls:
        with pytest.raises(LabkitError, match="vocabulary size mismatch"):
            call()
    assert all(torch.equal(a, b) for a, b in zip(before, student.parameters()))


def test_bad_switches_are_rejected(tok, teacher):
    with pytest.raises(LabkitError, match="lm_weight"):
        kd.train_minillm(_student(tok), teacher, tok, PROMPTS, lm_weight=0.5, config=cfg())
    with pytest.raises(LabkitError, match="teacher_mix"):
        kd.train_minillm(_student(tok), teacher, tok, PROMPTS, teacher_mix=1.0, config=cfg())
    with pytest.raises(LabkitError, match="lmbda"):
        kd.train_gkd(_student(tok), teacher, tok, PROMPTS, lmbda=1.5, config=cfg())
    with pytest.raises(LabkitError, match="kind"):
        kd.train_kd(_student(tok), teacher, tok, PROMPTS, TARGETS, kind="kl", config=cfg())


def test_sft_and_word_level_kd_losses_fall(tok, teacher):
    h = kd.train_sft(_student(tok), tok, PROMPTS, TARGETS, config=cfg())
    ok, a, b = _falls(h.series("loss/ce"))
    assert ok and b < 0.8 * a, (a, b)
    for kind, ce_weight in (("forward_kl", 0.25), ("reverse_kl", 0.0), ("jsd", 0.0)):
        h = kd.train_kd(_student(tok), teacher, tok, PROMPTS, TARGETS, kind=kind, ce_weight=ce_weight, config=cfg())
        ok, a, b = _falls(h.series("loss/kd"))
        assert ok and b < 0.8 * a, (kind, a, b)
        # the visible mix: loss = (1 - kd_ratio) * ce + kd_ratio * kd with kd_ratio = 1 - ce_weight
        row = h.rows[-1]
        assert row["loss"] == pytest.approx(ce_weight * row["loss/ce"] + (1 - ce_weight) * row["loss/kd"], rel=1e-5)


def test_seqkd_trains_on_cached_teacher_outputs(tok, teacher):
    h = kd.train_seqkd(_student(tok), teacher, tok, PROMPTS, max_new_tokens=8, config=cfg())
    ok, a, b = _falls(h.series("loss/ce"))
    assert ok and b < 0.8 * a, (a, b)
    # the cached outputs are the teacher's greedy continuations
    greedy = kd.sample_responses(teacher, [kd.prompt_ids(tok, p) for p in PROMPTS], max_new_tokens=8,
                                 eos_id=tok.eos_token_id, pad_id=tok.pad_token_id, greedy=True)
    assert [r["response"] for r in h.meta["teacher_rollouts"]] == greedy


def test_gkd_loss_falls_and_mixes_on_and_off_policy(tok, teacher):
    h = kd.train_gkd(_student(tok), teacher, tok, PROMPTS, lmbda=0.5, beta=0.5, max_new_tokens=8,
                     config=cfg(steps=16))
    on = h.series("on_policy")
    assert 0 < sum(on) < len(on)            # both kinds of step happened
    ok, a, b = _falls(h.series("loss/jsd"), k=4)
    assert ok and b < 0.8 * a, (a, b)


def _first_step_gradient(run, tmp_path):
    """Run one optimiser step with checkpoints; AdamW's first exp_avg is 0.1 * gradient (no clipping)."""
    run(cfg(steps=1, batch_size=8, max_grad_norm=0, checkpoint_dir=str(tmp_path)))
    state = torch.load(next(tmp_path.glob("step-*.pt")), weights_only=False)["optimizer"]["state"]
    return [s["exp_avg"] / 0.1 for _, s in sorted(state.items())]


def test_gkd_lambda0_beta0_is_supervised_forward_kd(tok, teacher, tmp_path):
    g_gkd = _first_step_gradient(lambda c: kd.train_gkd(_student(tok), teacher, tok, PROMPTS, TARGETS, lmbda=0.0,
                                                        beta=0.0, config=c), tmp_path / "gkd")
    g_kd = _first_step_gradient(lambda c: kd.train_kd(_student(tok), teacher, tok, PROMPTS, TARGETS,
                                                      kind="forward_kl", config=c), tmp_path / "kd")
    assert sum(float(g.abs().sum()) for g in g_kd) > 0
    for a, b in zip(g_gkd, g_kd):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-4)


def test_gkd_lambda1_trains_on_student_samples_without_gradient_through_sampling(tok, teacher, tmp_path):
    out = {}

    def run(c):
        out["h"] = kd.train_gkd(_student(tok), teacher, tok, PROMPTS, TARGETS, lmbda=1.0, beta=0.7,
                                max_new_tokens=6, config=c)
    g_gkd = _first_step_gradient(run, tmp_path / "gkd")
    h = out["h"]
    assert h.series("on_policy") == [1.0]
    samples = h.meta["last_rollouts"]
    fixed = kd.encode_rollouts(tok, PROMPTS, TARGETS, 64)
    assert any(samples[i]["response"] != fixed[i]["response"] for i in range(8))   # not the fixed data
    # the gradient is exactly JSD_β's on those sequences held fixed: no score-function term
    g_fixed = _first_step_gradient(lambda c: kd.train_kd(_student(tok), teacher, tok, None, None, kind="jsd",
                                                         beta=0.7, config=c,
                                                         rollouts=[samples[i] for i in range(8)]),
                                   tmp_path / "fixed")
    for a, b in zip(g_gkd, g_fixed):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-4)


def _on_policy_reverse_kl(student, teacher, tok, n_copies=4):
    """Per-token KL(q||p) on the student's own samples (fixed seed): the quantity MiniLLM lowers."""
    pids = [kd.prompt_ids(tok, p) for p in PROMPTS] * n_copies
    ys = kd.sample_responses(student, pids, max_new_tokens=6, eos_id=tok.eos_token_id, pad_id=tok.pad_token_id,
                             generator=torch.Generator().manual_seed(5), batch_size=len(pids))
    b = kd.collate_rollouts([kd.make_rollout(p, y, 64) for p, y in zip(pids, ys)], tok.pad_token_id)
    with torch.no_grad():
        return float(losses.divergence(kd.response_logits(student, b), kd.response_logits(teacher, b),
                                       kind="reverse_kl", mask=b["response_mask"]))


def test_minillm_reverse_kl_falls_and_logs_its_terms(tok, teacher):
    student = _student(tok)
    before = _on_policy_reverse_kl(student, teacher, tok)
    h = kd.train_minillm(student, teacher, tok, PROMPTS, single_step=True, teacher_mix=0.0,
                         length_norm=True, max_new_tokens=6, config=cfg(steps=24, lr=1e-2), grad_var_every=12)
    after = _on_policy_reverse_kl(student, teacher, tok)
    assert after < 0.9 * before, (before, after)
    gv = h.series("grad_var")
    assert len(gv) == 3 and all(math.isfinite(v) and v > 0 for v in gv)       # steps 1, 12, 24
    assert h.series("weight_mean") == pytest.approx([1.0] * 24)                 # α = 0: no reweighting
    for key in ("loss/pg", "loss/single", "reward", "reverse_kl_seq", "gen_len"):
        assert len(h.series(key)) == 24


def test_minillm_teacher_mix_and_lm_term(tok, teacher):
    h = kd.train_minillm(_student(tok), teacher, tok, PROMPTS, targets=TARGETS, lm_weight=0.5, teacher_mix=0.2,
                         max_new_tokens=4, config=cfg(steps=3), grad_var_every=0)
    assert all(0 < w <= 1 / 0.8 + 1e-6 for w in h.series("weight_mean"))      # w = q / p~ <= 1 / (1 - α)
    assert any(w != pytest.approx(1.0) for w in h.series("weight_mean"))
    row = h.rows[-1]
    assert row["loss"] == pytest.approx(row["loss/pg"] + 0.5 * row["loss/lm"], rel=1e-5, abs=1e-6)
    assert "grad_var" not in h.keys()
