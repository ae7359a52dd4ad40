"""RL on a verifiable reward (labkit.methods.rl): advantages by hand, the surrogate's gradient against a slow
per-sample, per-token loop, the KL penalty's k3 estimator, the ledger, and checks of bad settings."""

from __future__ import annotations

import math

import pytest
import torch

from labkit import compute
from labkit import sequences as S
from labkit.errors import LabkitError
from labkit.methods import rl

ANSWERS = [str(n) for n in range(3, 11)]


def odd_length_reward(texts, gold):
    """A reward that splits a random student's samples (the correctness reward would be 0 for all of them)."""
    return torch.tensor([float(len(t) % 3) for t in texts])


def test_group_advantages_by_hand():
    r = torch.tensor([[1.0, 0.0, 0.0, 1.0], [1.0, 1.0, 1.0, 1.0], [0.0, 0.0, 0.0, 1.0]])
    a = rl.group_advantages(r, eps=0.0)
    s0 = math.sqrt(4 * 0.25 / 3)  # Bessel-corrected std of (1, 0, 0, 1)
    torch.testing.assert_close(a[0], torch.tensor([0.5, -0.5, -0.5, 0.5]) / s0)
    assert a[1].tolist() == [0.0, 0.0, 0.0, 0.0]  # all equal: no signal
    torch.testing.assert_close(a[2], torch.tensor([-0.5, -0.5, -0.5, 1.5]))  # mean 1/4, std 1/2
    raw = rl.group_advantages(r, scale=False)
    torch.testing.assert_close(raw[2], torch.tensor([-0.25, -0.25, -0.25, 0.75]))
    with pytest.raises(LabkitError, match="G >= 2"):
        rl.group_advantages(torch.ones(3, 1))


def test_correctness_reward_reads_the_final_answer():
    texts = [" 5", " 2 plus 3 is 5.", " 6", " the answer is 5", "", " 5 is 2 plus 4.", " 12+3=15", " 2+3=5"]
    assert rl.correctness_rewards(texts, ["5"] * 8).tolist() == [1, 1, 0, 1, 0, 0, 0, 1]
    assert rl.final_answer(" From 2, add 3 to get 5, then 4 to get 9.") == "9"


def test_k3_estimator_by_hand():
    logp, ref = torch.tensor([math.log(0.5), math.log(0.2)]), torch.tensor([math.log(0.25), math.log(0.2)])
    torch.testing.assert_close(rl.kl_k3(logp, ref), torch.tensor([0.5 + math.log(2.0) - 1.0, 0.0]))


def slow_gradient(student, tok, groups, temperature=1.0):
    """-(1/N) Σ_i A_i Σ_t ∇ log q(y_i,t | ...), one unpadded sequence and one token at a time."""
    params = [p for p in student.parameters() if p.requires_grad]
    total = [torch.zeros_like(p) for p in params]
    samples = [(r, a) for g in groups.values() for r, a in zip(g["rollouts"], g["advantages"])]
    n = sum(len(r["response"]) for r, _ in samples)
    for r, a in samples:
        ids = torch.tensor([r["prompt"] + r["response"]])
        P = len(r["prompt"])
        for t, y in enumerate(r["response"]):
            logits = student(input_ids=ids[:, : P + t]).logits[0, -1].float() / temperature
            term = -a * torch.log_softmax(logits, -1)[y] / n
            for acc, g in zip(total, torch.autograd.grad(term, params, allow_unused=True)):
                if g is not None:
                    acc += g
    return total


def test_surrogate_gradient_matches_a_slow_per_token_loop(tok, kd, tmp_path):
    out = {}

    def run(c):
        out["h"] = rl.train(
            kd.student(), tok, kd.PROMPTS, ANSWERS, group_size=3, max_new_tokens=5, reward=odd_length_reward, config=c
        )

    g_fast = kd.first_step_gradient(run, tmp_path / "rl")
    groups = out["h"].meta["last_groups"]
    assert len(groups) == 8 and all(len(g["rollouts"]) == 3 for g in groups.values())
    assert any(any(a != 0 for a in g["advantages"]) for g in groups.values())
    g_slow = slow_gradient(kd.student().train(), tok, groups)
    assert sum(float(g.abs().sum()) for g in g_slow) > 0
    for a, b in zip(g_fast, g_slow):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-4)


def test_kl_penalty_is_zero_at_the_start_and_the_ledger_counts_every_sample(tok, kd, tmp_path):
    out = {}

    def run(name, **kw):
        def go(c):
            out[name] = rl.train(kd.student(), tok, kd.PROMPTS, ANSWERS, max_new_tokens=5, config=c, **kw)

        return kd.first_step_gradient(go, tmp_path / name)

    g0 = run("plain", reward=odd_length_reward)
    g1 = run("kl", reward=odd_length_reward, kl_coef=0.5)
    for a, b in zip(g0, g1):  # the reference is the student itself at step 0: k3 and its gradient vanish
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-4)
    row = out["kl"].rows[0]
    assert row["loss/kl_ref"] == pytest.approx(0.0, abs=1e-7)
    samples = [r for g in out["kl"].meta["last_groups"].values() for r in g["rollouts"]]
    assert len(samples) == 8 * 4
    spec = compute.spec_of(kd.student())
    assert row["flops/sample"] == compute.sampled(spec, samples)
    assert row["flops/train"] == compute.train_flops(spec, compute.rollout_lengths(samples))
    assert row["flops/reference"] == compute.forward_flops(spec, compute.rollout_lengths(samples))
    assert row["flops/reward"] == 0.0 and "flops/teacher" not in row
    assert row["flops"] == pytest.approx(sum(row[f"flops/{k}"] for k in ("sample", "train", "reference")))


def test_distill_adds_the_teachers_per_token_reverse_kl(tok, teacher, kd, tmp_path):
    """RL + on-policy distillation: with a constant reward (A = 0) only the reverse-KL term moves the student, and
    its gradient is word-level KD's reverse KL on the same samples."""
    out = {}

    def go(c):
        out["h"] = rl.train(
            kd.student(),
            tok,
            kd.PROMPTS,
            ANSWERS,
            teacher=teacher,
            distill=1.0,
            group_size=2,
            max_new_tokens=5,
            reward=lambda texts, gold: torch.ones(len(texts)),
            config=c,
        )

    g_rl = kd.first_step_gradient(go, tmp_path / "rl")
    samples = [r for g in out["h"].meta["last_groups"].values() for r in g["rollouts"]]
    student = kd.student().train()
    b = S.collate_rollouts(samples, S.pad_id(tok))
    from labkit import losses

    rkl = losses.divergence(
        S.response_logits(student, b),
        S.teacher_logits(teacher, b),
        kind="reverse_kl",
        mask=b["response_mask"],
        reduction="sum",
    ) / int(b["response_mask"].sum())
    g_ref = torch.autograd.grad(rkl, [p for p in student.parameters() if p.requires_grad])
    for a, b_ in zip(g_rl, g_ref):
        torch.testing.assert_close(a, b_, atol=1e-6, rtol=1e-4)
    row = out["h"].rows[0]
    assert row["flops/teacher"] == compute.forward_flops(compute.spec_of(teacher), compute.rollout_lengths(samples))


def test_bad_settings_are_refused_with_the_parameter_named(tok, kd):
    cfg = kd.cfg(steps=1)
    with pytest.raises(LabkitError, match="group_size"):
        rl.train(kd.student(), tok, kd.PROMPTS, ANSWERS, group_size=1, config=cfg)
    with pytest.raises(LabkitError, match="kl_coef"):
        rl.train(kd.student(), tok, kd.PROMPTS, ANSWERS, kl_coef=-1.0, config=cfg)
    with pytest.raises(LabkitError, match="needs a teacher"):
        rl.train(kd.student(), tok, kd.PROMPTS, ANSWERS, distill=0.5, config=cfg)
    with pytest.raises(LabkitError, match="one answer per prompt"):
        rl.train(kd.student(), tok, kd.PROMPTS, ANSWERS[:3], config=cfg)
