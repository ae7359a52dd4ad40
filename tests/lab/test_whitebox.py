"""labkit.lab.whitebox without a kit: the arms' fields, the profiles' checks, and the enumerable case behind
notebook 03's estimator cell (the exact gradient against finite differences, the estimator against it)."""

from __future__ import annotations

import math

import pytest
import torch

from labkit import known
from labkit import sequences as S
from labkit.errors import LabkitError
from labkit.lab import known_kit, whitebox


def test_minillm_arms_carry_the_flipped_stabiliser_in_a_field():
    P = whitebox.MiniLLMProfile.resolve("default", methods=["sft", "kd", "minillm"], teacher_mix=0.2)
    arms = {a.label: a for a in whitebox.minillm_arms(P)}
    assert list(arms) == [
        "sft",
        "kd",
        "minillm",
        "minillm −single-step",
        "minillm α=0",
        "minillm −length-norm",
        whitebox.INIT,
    ]
    assert arms["kd"].method == "wordkd" and arms["kd"].reads == {"targets": "gold", "signals": "kd"}
    assert arms["minillm α=0"].settings["teacher_mix"] == 0.0 and arms["minillm α=0"].reads["ablation"] == "α=0"
    assert arms["minillm −single-step"].settings["single_step"] is False
    assert arms[whitebox.INIT].method is None
    off = {a.label for a in whitebox.minillm_arms(P.replace(single_step=False, teacher_mix=0.0, ablations=True))}
    assert {"minillm +single-step", "minillm α=0.2"} <= off


def test_gkd_arms_read_the_teachers_outputs_only_off_policy():
    assert whitebox.gkd_arm(0.0, 0.5).reads == {"targets": "teacher", "signals": "gkd", "on_policy": False}
    assert whitebox.gkd_arm(1.0, 0.5).reads == {"on_policy": True}  # all on-policy: no fixed data
    assert whitebox.gkd_arm(0.5, 1.0).setting("max_new_tokens") == 64  # the method's own default


@pytest.mark.parametrize(
    "given, message",
    [
        (dict(teacher_mix=1.0), r"parameter teacher_mix=1.0: expected α in \[0, 1\)"),
        (dict(methods=["sft", "rl"]), r"parameter methods=\['sft', 'rl'\]: expected a non-empty list from sft, kd"),
        (dict(kit="huge"), r"parameter kit='huge': expected one of"),
        (dict(seeds=[0, "1"]), r"parameter seeds=\[0, '1'\]: expected a non-empty list of distinct integers"),
        (dict(teacher="no-such-model"), r"parameter teacher='no-such-model': expected a known model"),
    ],
)
def test_minillm_profile_errors_name_the_parameter(given, message):
    with pytest.raises(LabkitError, match=message):
        whitebox.MiniLLMProfile.resolve("default", **given)


def test_gkd_profile_checks_its_grid():
    with pytest.raises(LabkitError, match="parameter betas"):
        whitebox.GKDProfile.resolve("default", betas=[0.0, 1.5])
    P = whitebox.GKDProfile.resolve("default", lmbdas=[0.0, 0.5])
    assert P.lmbdas == [0.0, 0.5] and P.betas == whitebox.WHITEBOX["default"]["betas"]
    # the heat map's metric: the headline's divergence on a known teacher, task accuracy on a task teacher
    assert P.known and P.metric == "own_prefix_jsd"
    assert whitebox.GKDProfile.resolve("default", kit="smoke").metric == "accuracy"
    with pytest.raises(LabkitError, match=r"parameter metric='void_mass'.*needs kit='known'"):
        whitebox.GKDProfile.resolve("smoke", metric="void_mass")


def _grid_runs(values: dict) -> list:
    from labkit.lab.arms import Run

    return [
        Run(whitebox.gkd_arm(lm, b).label, s, {"test": {"own_prefix_jsd": v}})
        for (lm, b), vs in values.items()
        for s, v in enumerate(vs)
    ]


def test_grid_winner_marks_a_cell_only_where_its_interval_separates_it():
    P = whitebox.GKDProfile.resolve("default", lmbdas=[0.0, 1.0], betas=[0.5])
    clear = {(0.0, 0.5): [0.30, 0.32, 0.31], (1.0, 0.5): [0.10, 0.11, 0.12]}  # lower is better: λ=1 by 0.2 each seed
    w = whitebox.grid_winner(_grid_runs(clear), P, "own_prefix_jsd")
    assert (w["lmbda"], w["beta"], w["cell"], w["separated"]) == (1.0, 0.5, (1, 0), True)
    assert w["own_prefix_jsd"] == pytest.approx(0.11) and w["closest"] == "λ=0.0 β=0.5"
    # the best mean by 0.01, but seed 1 goes the other way: the paired t-interval reaches below 0
    close = {(0.0, 0.5): [0.30, 0.20, 0.31], (1.0, 0.5): [0.28, 0.22, 0.28]}
    w = whitebox.grid_winner(_grid_runs(close), P, "own_prefix_jsd")
    assert w["cell"] == (1, 0) and w["separated"] is False


def test_exact_reverse_kl_gradient_matches_finite_differences():
    q, p, logits_of = whitebox.enumerable_case(vocab=3, length=2, seed=4)
    exact = whitebox.exact_reverse_kl_grad(q, p, logits_of, 3, 2)
    import itertools

    seqs = torch.tensor(list(itertools.product(range(3), repeat=2)))

    def kl(table):
        lq = torch.log_softmax(logits_of(table, seqs), -1).gather(-1, seqs[..., None]).squeeze(-1).sum(1)
        lp = torch.log_softmax(logits_of(p, seqs), -1).gather(-1, seqs[..., None]).squeeze(-1).sum(1)
        return float((lq.exp() * (lq - lp)).sum())

    h, fd = 1e-6, torch.zeros_like(q)
    for i in range(q.shape[0]):
        for j in range(q.shape[1]):
            up, down = q.clone(), q.clone()
            up[i, j] += h
            down[i, j] -= h
            fd[i, j] = (kl(up) - kl(down)) / (2 * h)
    torch.testing.assert_close(exact, fd, atol=1e-6, rtol=1e-5)
    assert kl(q) > 0


@pytest.mark.parametrize("single_step", [True, False])
def test_the_estimator_cell_is_unbiased_and_single_step_spreads_less(single_step):
    q, p, logits_of = whitebox.enumerable_case(vocab=3, length=2, seed=0)
    exact = whitebox.exact_reverse_kl_grad(q, p, logits_of, 3, 2)
    g = whitebox.estimator_spread(
        q, p, logits_of, n_batches=400, batch=16, seed=1, single_step=single_step, teacher_mix=0.0, length_norm=False
    )
    se = g.std(0) / math.sqrt(g.shape[0])
    assert torch.all((g.mean(0) - exact).abs() <= 4 * se + 1e-3)
    rows = {r["estimator"]: r for r in whitebox.estimator_rows({"x": g}, exact)}
    assert rows["x"]["cosine(mean, exact)"] > 0.98 and rows["x"]["batches"] == 400
    if single_step:
        other = whitebox.estimator_spread(
            q, p, logits_of, n_batches=400, batch=16, seed=1, single_step=False, teacher_mix=0.0, length_norm=False
        )
        assert g.std(0).norm() < other.std(0).norm()


# --------------------------------------------------------------------------- the known-teacher kit

TINY = {**known_kit.RECIPES["known"], "n_train": 8, "n_valid": 4, "n_test": 4, "init_steps": 5, "eval_samples": 3}


@pytest.fixture(scope="module")
def kit():
    return known_kit.known_kit(TINY, modes=3, max_new_tokens=16, threads=1)


def test_the_known_kit_builds_deterministically(kit):
    again = known_kit.known_kit(TINY, modes=3, max_new_tokens=16, threads=1)
    assert [r.question for r in kit.splits["test"]] == [r.question for r in again.splits["test"]]
    assert kit.data == again.data and len(kit.data) == TINY["n_train"] * TINY["samples_per_prompt"]
    for a, b in zip(kit.student_init.parameters(), again.student_init.parameters()):
        assert torch.equal(a, b)
    names = {s: {r.question for r in kit.splits[s]} for s in kit.splits}
    assert not (names["train"] & names["test"]) and not (names["valid"] & names["test"])
    r = kit.splits["train"][0]  # the heaviest template is the record's solution, the sum its answer
    assert kit.task[whitebox.task_teacher.prompt_of(r)][0][1] == " " + r.solution and r.answer in r.solution
    assert known_kit.is_known(kit) and whitebox.MiniLLMProfile.resolve("smoke", kit="known").known


def test_known_metrics_equal_labkit_known_called_directly(kit):
    recs, n, new = kit.splits["valid"], 3, 16
    m = known_kit.known_metrics(kit.student_init, kit, recs, max_new_tokens=new, seed=5, n=n)
    ids = [S.prompt_ids(kit.tokenizer, whitebox.task_teacher.prompt_of(r)) for r in recs]
    ps, ys = known.sample(kit.student_init, ids, n, max_new_tokens=new, eos_id=kit.tokenizer.eos_token_id, seed=5)
    assert (m["void_mass"], m["void_mass_se"]) == pytest.approx(known.void_mass(kit.teacher, ps, ys))
    assert m["modes_covered"] == pytest.approx(known.modes_covered(kit.teacher, ps, ys)["mean"])
    rkl = known.kl_monte_carlo(kit.teacher, kit.student_init, ids, n=n, max_new_tokens=new, seed=5)
    assert (m["reverse_kl"], m["reverse_kl_se"]) == pytest.approx(rkl)
    eb = known.exposure_bias(kit.teacher, kit.student_init, ids, kind="jsd", n=n, max_new_tokens=new, seed=5)
    assert m["exposure_gap"] == pytest.approx(eb["gap"][0]) and 0 <= m["own_prefix_jsd"] <= math.log(2) + 1e-9
    assert 0 <= m["void_mass"] <= 1 and 0 <= m["modes_covered"] <= 3 and m["teacher_loglik"] < 0
