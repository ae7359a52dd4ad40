"""GKD (labkit.methods.gkd): on/off-policy mixing, λ=0 β=0 equals supervised forward KD, λ=1 has no
gradient through the sampling."""

from __future__ import annotations

import pytest
import torch

from labkit import sequences as S
from labkit import signals
from labkit.errors import LabkitError
from labkit.methods import gkd, wordkd


def test_gkd_loss_falls_and_mixes_on_and_off_policy(tok, teacher, kd):
    h = gkd.train(
        kd.student(), teacher, tok, kd.PROMPTS, lmbda=0.5, beta=0.5, max_new_tokens=8, config=kd.cfg(steps=16)
    )
    on = h.series("on_policy")
    assert 0 < sum(on) < len(on)  # both kinds of step happened
    ok, a, b = kd.falls(h.series("loss/jsd"), k=4)
    assert ok and b < 0.8 * a, (a, b)


def test_gkd_lambda0_beta0_is_supervised_forward_kd(tok, teacher, tmp_path, kd):
    g_gkd = kd.first_step_gradient(
        lambda c: gkd.train(kd.student(), teacher, tok, kd.PROMPTS, kd.TARGETS, lmbda=0.0, beta=0.0, config=c),
        tmp_path / "gkd",
    )
    g_kd = kd.first_step_gradient(
        lambda c: wordkd.train(kd.student(), teacher, tok, kd.PROMPTS, kd.TARGETS, kind="forward_kl", config=c),
        tmp_path / "kd",
    )
    assert sum(float(g.abs().sum()) for g in g_kd) > 0
    for a, b in zip(g_gkd, g_kd):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-4)


def test_gkd_lambda1_trains_on_student_samples_without_gradient_through_sampling(tok, teacher, tmp_path, kd):
    out = {}

    def run(c):
        out["h"] = gkd.train(
            kd.student(), teacher, tok, kd.PROMPTS, kd.TARGETS, lmbda=1.0, beta=0.7, max_new_tokens=6, config=c
        )

    g_gkd = kd.first_step_gradient(run, tmp_path / "gkd")
    h = out["h"]
    assert h.series("on_policy") == [1.0]
    samples = h.meta["last_rollouts"]
    fixed = S.encode_rollouts(tok, kd.PROMPTS, kd.TARGETS, 64)
    assert any(samples[i]["response"] != fixed[i]["response"] for i in range(8))  # not the fixed data
    # the gradient is exactly JSD_β's on those sequences held fixed: no score-function term
    g_fixed = kd.first_step_gradient(
        lambda c: wordkd.train(
            kd.student(),
            teacher,
            tok,
            None,
            None,
            kind="jsd",
            beta=0.7,
            config=c,
            rollouts=[samples[i] for i in range(8)],
        ),
        tmp_path / "fixed",
    )
    for a, b in zip(g_gkd, g_fixed):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-4)


def test_captured_signals_with_k_equal_v_train_like_the_live_teacher(tok, teacher, kd, tmp_path):
    """Word-level KD and GKD (λ = 0) from a store holding every token (k = V): the same first-step gradient as
    the live teacher, with no teacher at training time; a store of other sequences is refused."""
    cfg = kd.cfg(steps=1, batch_size=8, max_grad_norm=0)
    rollouts = S.encode_rollouts(tok, kd.PROMPTS, kd.TARGETS, cfg.max_len)
    store = signals.capture(teacher, tok, rollouts, tmp_path / "store", k=len(tok), samples=0)
    g_live = kd.first_step_gradient(
        lambda c: wordkd.train(kd.student(), teacher, tok, kd.PROMPTS, kd.TARGETS, kind="jsd", beta=0.3, config=c),
        tmp_path / "live",
    )
    g_kd = kd.first_step_gradient(
        lambda c: wordkd.train(
            kd.student(), None, tok, kd.PROMPTS, kd.TARGETS, kind="jsd", beta=0.3, config=c, teacher_signals=store
        ),
        tmp_path / "kd",
    )
    g_gkd = kd.first_step_gradient(
        lambda c: gkd.train(
            kd.student(), None, tok, kd.PROMPTS, kd.TARGETS, lmbda=0.0, beta=0.3, config=c, teacher_signals=store
        ),
        tmp_path / "gkd",
    )
    for a, b, c in zip(g_live, g_kd, g_gkd):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-4)
        torch.testing.assert_close(a, c, atol=1e-6, rtol=1e-4)
    with pytest.raises(LabkitError, match="captured on other sequences"):
        wordkd.train(
            kd.student(), None, tok, kd.PROMPTS[:7] + kd.PROMPTS[:1], kd.TARGETS, config=cfg, teacher_signals=store
        )
    with pytest.raises(LabkitError, match="needs a live teacher"):
        gkd.train(kd.student(), None, tok, kd.PROMPTS, kd.TARGETS, lmbda=0.5, config=cfg, teacher_signals=store)


def test_captured_signals_leave_on_policy_steps_to_the_live_teacher_and_top_k_is_biased_low(tok, teacher, kd, tmp_path):
    """λ = 1 with a store: every step is on-policy, so the store is never read and the gradient is the live one.
    λ = 0 from a top-16 store (k < V): the first-step loss is below the live one (coarse-graining, docs/methods.md
    §7) and close to it. A store read at another temperature is refused."""
    cfg = kd.cfg(steps=1, batch_size=8, max_grad_norm=0)
    rollouts = S.encode_rollouts(tok, kd.PROMPTS, kd.TARGETS, cfg.max_len)
    store = signals.capture(teacher, tok, rollouts, tmp_path / "store", k=16, samples=0)
    out = {}

    def run(name, **kw):
        def go(c):
            out[name] = gkd.train(kd.student(), teacher, tok, kd.PROMPTS, kd.TARGETS, max_new_tokens=6, config=c, **kw)

        return kd.first_step_gradient(go, tmp_path / name)

    g_live = run("on-live", lmbda=1.0, beta=0.5)
    g_store = run("on-store", lmbda=1.0, beta=0.5, teacher_signals=store)
    assert out["on-store"].series("on_policy") == [1.0]
    for a, b in zip(g_live, g_store):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-4)
    run("off-live", lmbda=0.0, beta=0.5)
    run("off-top16", lmbda=0.0, beta=0.5, teacher_signals=store)
    live, top16 = out["off-live"].rows[0]["loss"], out["off-top16"].rows[0]["loss"]
    assert top16 <= live + 1e-7 and top16 >= 0.8 * live, (top16, live)
    with pytest.raises(LabkitError, match="temperature"):
        gkd.train(
            kd.student(),
            None,
            tok,
            kd.PROMPTS,
            kd.TARGETS,
            lmbda=0.0,
            temperature=2.0,
            config=cfg,
            teacher_signals=store,
        )
