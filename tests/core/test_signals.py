"""labkit.signals: the store round-trips exactly, resumes after kill -9, refuses other settings by name;
top-k with k = V is the exact divergence; the sampled forward KL is unbiased (value and gradient)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
import torch
import torch.nn.functional as F

from labkit import losses, signals, tiny
from labkit import sequences as S
from labkit.errors import LabkitError

PROMPTS = [f"Q: {a} has {n} apples. How many?\nA:" for a, n in zip(["Ann", "Bob", "Eve", "Dave", "Fay"], range(3, 8))]
TARGETS = [f" {n} apples, so {n}." for n in range(3, 8)]


@pytest.fixture(scope="module")
def tok():
    return tiny.train_tokenizer(tiny.default_corpus(n=120), vocab_size=320)


@pytest.fixture(scope="module")
def teacher(tok):
    return tiny.tiny_causal_lm(tok, n_layers=2, seed=1).eval()


@pytest.fixture(scope="module")
def rollouts(tok):
    return S.encode_rollouts(tok, PROMPTS, TARGETS, 64)


def _exact_rows(teacher, tok, rollouts, temperature=1.0):
    """Teacher log-probs of every response position, one sequence at a time (no padding), and the batch."""
    rows = []
    for r in rollouts:
        one = S.collate_rollouts([r], S.pad_id(tok))
        with torch.no_grad():
            rows.append(S.response_logits(teacher, one)[0, : len(r["response"])])
    b = S.collate_rollouts(rollouts, S.pad_id(tok))
    return F.log_softmax(torch.cat(rows).float() / temperature, -1), b


def test_store_round_trips_exactly(tok, teacher, rollouts, tmp_path):
    store = signals.capture(teacher, tok, rollouts, tmp_path, k=5, samples=3, chunk_size=2, batch_size=1)
    assert store.complete() and len(list(tmp_path.glob("chunk-*.safetensors"))) == 3
    lp, _ = _exact_rows(teacher, tok, rollouts)
    sig = store.get(range(len(rollouts)))
    top_lp, top_ids = lp.topk(5, -1)
    assert torch.equal(sig.topk_ids, top_ids) and torch.equal(sig.topk_logprobs, top_lp)
    torch.testing.assert_close(sig.tail_logmass, torch.log1p(-top_lp.exp().sum(-1)), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(sig.sample_logprobs, lp.gather(-1, sig.sample_ids))
    one = store.get([3])  # a single sequence: its rows only
    n_before = sum(len(r["response"]) for r in rollouts[:3])
    assert torch.equal(one.topk_ids, sig.topk_ids[n_before : n_before + len(rollouts[3]["response"])])
    assert store.bytes_per_token() < 4 * lp.shape[-1] / 4  # far below dense float32 rows


def test_capture_resumes_after_kill_9_without_loss_or_duplicates(tok, teacher, rollouts, tmp_path):
    torch.save({"tok": tok, "teacher": teacher, "rollouts": rollouts}, tmp_path / "inputs.pt")
    script = textwrap.dedent(f"""
        import os, torch
        from labkit import signals
        d = torch.load({str(tmp_path / "inputs.pt")!r}, weights_only=False)
        real = signals.save_file
        count = [0]
        def save_then_die(tensors, path):
            real(tensors, path)
            count[0] += 1
            if count[0] == 2:
                os.kill(os.getpid(), 9)                           # killed right after the second chunk
        signals.save_file = save_then_die
        signals.capture(d["teacher"], d["tok"], d["rollouts"], {str(tmp_path / "store")!r}, k=4, samples=2,
                        chunk_size=2, batch_size=1)
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert proc.returncode == -9, proc.stderr
    written = sorted(p.name for p in (tmp_path / "store").iterdir())
    assert written.count("signals.json") == 1 and len([w for w in written if w.startswith("chunk-")]) == 2
    resumed = signals.capture(teacher, tok, rollouts, tmp_path / "store", k=4, samples=2, chunk_size=2, batch_size=1)
    fresh = signals.capture(teacher, tok, rollouts, tmp_path / "fresh", k=4, samples=2, chunk_size=2, batch_size=1)
    a, b = resumed.get(range(5)), fresh.get(range(5))
    for field in ("topk_ids", "topk_logprobs", "tail_logmass", "sample_ids", "sample_logprobs"):
        assert torch.equal(getattr(a, field), getattr(b, field)), field
    assert not list((tmp_path / "store").glob("*.tmp"))


def test_other_settings_are_refused_by_name(tok, teacher, rollouts, tmp_path):
    store = signals.capture(teacher, tok, rollouts, tmp_path, k=8, samples=0)
    with pytest.raises(LabkitError, match=r"k: stored 8, asked 16"):
        signals.capture(teacher, tok, rollouts, tmp_path, k=16, samples=0)
    other = tiny.tiny_causal_lm(tok, n_layers=2, seed=5)
    with pytest.raises(LabkitError, match="teacher_weights"):
        signals.capture(other, tok, rollouts, tmp_path, k=8, samples=0)
    with pytest.raises(LabkitError, match="sequences"):
        signals.capture(teacher, tok, rollouts[:4] + rollouts[:1], tmp_path, k=8, samples=0)
    assert store.settings.k == 8
    with pytest.raises(LabkitError, match="no samples"):
        signals.sampled_forward_kl(torch.zeros(1, len(tok)), store.get([0]))


@pytest.mark.parametrize("kind", ["forward_kl", "reverse_kl", "jsd", "tvd"])
def test_topk_with_k_equal_v_is_the_exact_divergence(tok, teacher, rollouts, tmp_path, kind):
    store = signals.capture(teacher, tok, rollouts, tmp_path, k=len(tok), samples=0)
    lp, b = _exact_rows(teacher, tok, rollouts)
    g = torch.Generator().manual_seed(0)
    z = torch.randn(b["response"].shape + (len(tok),), generator=g).requires_grad_(True)
    got = signals.topk_divergence(z, store.get(range(5)), kind=kind, mask=b["response_mask"])
    t_full = torch.zeros_like(z)
    t_full[b["response_mask"]] = lp
    ref = losses.divergence(z, t_full, kind=kind, mask=b["response_mask"])
    torch.testing.assert_close(got, ref, rtol=1e-5, atol=1e-6)
    (g1,) = torch.autograd.grad(got, z)
    (g2,) = torch.autograd.grad(losses.divergence(z, t_full, kind=kind, mask=b["response_mask"]), z)
    torch.testing.assert_close(g1, g2, rtol=1e-4, atol=1e-7)


def test_topk_is_biased_low_for_small_k(tok, teacher, rollouts, tmp_path):
    lp, b = _exact_rows(teacher, tok, rollouts)
    z = torch.randn(b["response"].shape + (len(tok),), generator=torch.Generator().manual_seed(1))
    t_full = torch.zeros_like(z)
    t_full[b["response_mask"]] = lp
    exact = float(losses.divergence(z, t_full, kind="forward_kl", mask=b["response_mask"]))
    store = signals.capture(teacher, tok, rollouts, tmp_path, k=8, samples=0)
    approx = float(signals.topk_divergence(z, store.get(range(5)), mask=b["response_mask"]))
    assert approx < exact


def test_sampled_forward_kl_is_unbiased_value_and_gradient():
    g = torch.Generator().manual_seed(2)
    t = torch.randn(3, 11, generator=g) * 2
    z = torch.randn(3, 11, generator=g).requires_grad_(True)
    exact = losses.divergence(z, t, kind="forward_kl", reduction="none").detach()  # (3,)
    draws = []
    grads = []
    for rep in range(400):
        rows = signals._capture_rows(t, k=2, samples=16, temperature=1.0, generator=torch.Generator().manual_seed(rep))
        sig = signals.Signals(
            rows["topk_ids"].long(),
            rows["topk_logprobs"],
            rows["tail_logmass"],
            rows["sample_ids"].long(),
            rows["sample_logprobs"],
        )
        v = signals.sampled_forward_kl(z, sig, reduction="none")
        grads.append(torch.autograd.grad(v.sum(), z)[0])
        draws.append(v.detach())
    d = torch.stack(draws)  # (400, 3)
    se = d.std(0) / 20
    assert torch.all((d.mean(0) - exact).abs() < 4 * se + 1e-6), (d.mean(0), exact, se)
    gm = torch.stack(grads)
    exact_grad = torch.softmax(z.detach(), -1) - torch.softmax(t, -1)
    assert torch.all((gm.mean(0) - exact_grad).abs() < 4 * gm.std(0) / 20 + 1e-6)


def test_truncated_reverse_kl_is_the_slow_sum_and_pushes_mass_out_of_the_top_k():
    """signals.truncated_reverse_kl against a float64 loop; notebook 00's scene 6: trained from the teacher itself,
    the top-k-only sum moves the student's outside mass to its closed-form minimum 1 − Σ_top-k p / e, while the
    top-k + tail divergence (and the full reverse KL) leave it at the teacher's."""
    from labkit.lab import scenes

    g = torch.Generator().manual_seed(3)
    t_logits, s_logits = torch.randn(4, 20, generator=g), torch.randn(4, 20, generator=g)
    sig = signals.signals_from_logits(t_logits, k=5, samples=0)
    slow = 0.0
    for row in range(4):
        q, p = torch.softmax(s_logits[row].double(), -1), torch.softmax(t_logits[row].double(), -1)
        top = torch.topk(p, 5).indices
        slow += sum(float(q[i] * (q[i].log() - p[i].log())) for i in top)
    got = signals.truncated_reverse_kl(s_logits, sig, reduction="sum")
    assert float(got) == pytest.approx(slow, rel=1e-5)
    # at q = p its gradient is not zero (each term's derivative is log(q_i/p_i) + 1 = 1 at q = p)
    z = t_logits.clone().requires_grad_(True)
    signals.truncated_reverse_kl(z, sig).backward()
    assert z.grad.abs().max() > 1e-3

    scene = scenes.topk_reverse_kl(scenes.zipf_logits(64, seed=0), 4, steps=400)
    outside = {r["objective"]: r["student mass outside top-k"] for r in scene["rows"]}
    p = torch.softmax(scenes.zipf_logits(64, seed=0), -1)
    p_top = float(torch.topk(p, 4).values.sum())
    assert scene["teacher_outside"] == pytest.approx(1 - p_top, abs=1e-9)
    assert outside["top-k only"] == pytest.approx(1 - p_top / torch.e, abs=2e-3)
    assert outside["top-k + tail"] == pytest.approx(1 - p_top, abs=1e-5)
    assert outside["full reverse KL"] == pytest.approx(1 - p_top, abs=1e-5)
    with pytest.raises(LabkitError, match="parameter topk=64"):
        scenes.topk_reverse_kl(scenes.zipf_logits(64), 64)
