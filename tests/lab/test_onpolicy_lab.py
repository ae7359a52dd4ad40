"""Notebook 07's experiment layer (labkit.lab.onpolicy): the weaker teacher, compute at equal accuracy and accuracy
at equal compute on hand-made runs, the claims' arithmetic, the profile's checks."""

from __future__ import annotations

import math

import pytest

from labkit.errors import LabkitError
from labkit.lab import onpolicy
from labkit.lab.arms import Run


def run(arm, seed, points):
    """A Run whose curves are [(step, flops, accuracy)]."""
    return Run(
        arm,
        seed,
        {"test": {"accuracy": points[-1][2], "flops": points[-1][1]}},
        curves={"accuracy": [(s, a) for s, _, a in points], "flops": [(s, f) for s, f, _ in points]},
    )


def test_a_weaker_teacher_adds_one_slipped_solution_with_the_missing_weight():
    assert onpolicy.slipped(" 3 plus 4 is 7.") == " 3 plus 4 is 8."
    assert onpolicy.slipped(" 7, because 3 and 4 make 7.") == " 7, because 3 and 4 make 8."
    task = {"Q: 3 + 4 = ?\nA:": [(0.6, " 3 plus 4 is 7."), (0.4, " 3+4=7")]}
    weak = onpolicy.weaker_task(task, 0.25)["Q: 3 + 4 = ?\nA:"]
    assert weak == [(0.6 * 0.25, " 3 plus 4 is 7."), (0.4 * 0.25, " 3+4=7"), (0.75, " 3 plus 4 is 8.")]
    assert onpolicy.weaker_task(task, 1.0) is task
    with pytest.raises(LabkitError, match="accuracy"):
        onpolicy.weaker_task(task, 0.0)


def test_compute_to_reach_and_accuracy_at_equal_compute_by_hand():
    opd = run("opd", 0, [(0, 0.0, 0.3), (10, 100.0, 0.4), (20, 200.0, 0.6), (30, 300.0, 0.7)])
    assert onpolicy.compute_to_reach(opd, 0.55) == (200.0, True)
    assert onpolicy.compute_to_reach(opd, 0.2) == (100.0, True)  # step 0 never counts as reaching it
    assert onpolicy.compute_to_reach(opd, 0.9) == (300.0, False)  # not reached: its whole budget
    assert onpolicy.accuracy_at(opd, 250.0) == 0.6 and onpolicy.accuracy_at(opd, 50.0) == 0.3


def test_compute_ratio_is_the_t_interval_of_log10_ratios_per_seed():
    runs = [
        run("rl", 0, [(0, 0.0, 0.3), (10, 800.0, 0.5), (20, 1600.0, 0.6)]),
        run("rl", 1, [(0, 0.0, 0.3), (10, 900.0, 0.4), (20, 1800.0, 0.5)]),
        run("opd", 0, [(0, 0.0, 0.3), (10, 100.0, 0.5), (20, 200.0, 0.6)]),
        run("opd", 1, [(0, 0.0, 0.3), (10, 100.0, 0.5), (20, 200.0, 0.7)]),
    ]
    got = onpolicy.compute_ratio(runs)
    assert got["values"] == pytest.approx({0: math.log10(1600 / 200), 1: math.log10(1800 / 100)})
    assert got["reached"] == {0: True, 1: True}
    assert got["ratio"] == pytest.approx(math.sqrt(8 * 18))  # 10 ** mean of the two log10 ratios
    sft = [run("sft", s, [(0, 500.0, 0.3), (10, 600.0, 0.4), (20, 700.0, 0.45)]) for s in (0, 1)]
    eq = onpolicy.at_equal_compute(runs + sft, "opd", "sft")
    assert eq == {"opd": {0: 0.6, 1: 0.7}, "sft": {0: 0.3, 1: 0.3}}  # C = 200: SFT has not left its data's cost


def test_profile_checks_name_the_parameter():
    P = onpolicy.OnPolicyProfile.resolve("smoke")
    assert P.known and P.teacher_accuracies[0] == 1.0
    with pytest.raises(LabkitError, match="teacher_accuracies"):
        onpolicy.OnPolicyProfile.resolve("smoke", teacher_accuracies=[0.5, 1.0])
    with pytest.raises(LabkitError, match="group_size"):
        onpolicy.OnPolicyProfile.resolve("smoke", group_size=1)
    with pytest.raises(LabkitError, match="teacher_accuracy"):
        onpolicy.OnPolicyProfile.resolve("smoke", teacher_accuracy=0.7)
    with pytest.raises(LabkitError, match="arm"):
        onpolicy.OnPolicyProfile.resolve("smoke", arm="ppo")
    arms = onpolicy.arms_of(P)
    assert [a.label for a in arms] == [
        "sft",
        "opd",
        "rl",
        "rl+opd",
        "sft · teacher 0.4",
        "opd · teacher 0.4",
        "rl+opd · teacher 0.4",
        "student (init)",
    ]
    assert [a.method for a in arms[:4]] == ["sft", "gkd", "rl", "rl"] and arms[1].settings == {"lmbda": 1, "beta": 1}


def test_first_mixed_group_picks_the_first_prompt_with_a_right_and_a_wrong_answer(monkeypatch):
    rewards = {"a": [1.0, 1.0], "b": [0.0, 0.0], "c": [1.0, 0.0], "d": [0.0, 1.0]}
    seen = []

    def fake(student, teacher, kit, record, *, n, max_new_tokens, seed):
        seen.append(record)
        return [{"reward": r} for r in rewards[record]]

    monkeypatch.setattr(onpolicy, "episode_signals", fake)
    record, got = onpolicy.first_mixed_group(None, None, None, list("abcd"), n=2, max_new_tokens=4)
    assert record == "c" and [e["reward"] for e in got] == [1.0, 0.0] and seen == ["a", "b", "c"]  # stops there
    assert onpolicy.first_mixed_group(None, None, None, ["b", "a"], n=2, max_new_tokens=4)[0] == "b"  # none mixed
    with pytest.raises(LabkitError, match="no records"):
        onpolicy.first_mixed_group(None, None, None, [], n=2, max_new_tokens=4)
