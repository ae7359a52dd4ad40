"""The experiment layer (labkit.lab.arms): jobs, the forked runner, every aggregator on runs whose numbers are
computed by hand, and the typed profile of labkit.lab.profiles."""

from __future__ import annotations

import dataclasses
import math
import os
import time
from typing import ClassVar

import pytest

from labkit.errors import LabkitError
from labkit.lab import arms as A
from labkit.lab import profiles


class Table:
    """An experiment whose metrics are a known function of (arm, seed): accuracy = base[arm] + seed / 100,
    step 0 = 0.25; it records which process ran each job."""

    def __init__(self, base, fail=None):
        self.base, self.fail = base, fail

    def run(self, arm, seed):
        if arm.label == self.fail:
            raise ValueError("boom")
        time.sleep(0.05)  # long enough for both workers to take jobs
        acc = self.base[arm.label] + seed / 100
        return A.Run(
            arm.label,
            seed,
            {"test": {"accuracy": acc}, "valid": {"accuracy": acc - 0.1}},
            step0={"test": {"accuracy": 0.25}},
            curves={"loss": [(0, 2.0), (10, 1.0)]},
            seconds=1.0,
            extra={"pid": os.getpid(), "beta": arm.setting("beta")},
        )

    def run_group(self, arms, seed):
        return [self.run(a, seed) for a in arms]


def test_arm_checks_its_method_and_reads_settings_defaults():
    with pytest.raises(LabkitError, match="method='nope'"):
        A.Arm("x", "nope")
    gkd = A.Arm("gkd", "gkd", {"lmbda": 1.0})
    assert gkd.setting("lmbda") == 1.0
    from labkit.methods.gkd import GKDSettings

    assert gkd.setting("beta") == GKDSettings.beta  # the method's own default
    assert A.Arm("init", None).trains is False


def test_jobs_one_per_arm_and_seed_groups_share_a_job_and_arm_seeds_win():
    arms = [
        A.Arm("a", "sft"),
        A.Arm("b", "sft", seeds=(7,)),
        A.Arm("g1", "sft", group="g"),
        A.Arm("g2", "sft", group="g"),
    ]
    jobs = A.jobs_of(arms, [0, 1])
    assert [([a.label for a in j], s) for j, s in jobs] == [
        (["a"], 0),
        (["a"], 1),
        (["b"], 7),
        (["g1", "g2"], 0),
        (["g1", "g2"], 1),
    ]
    with pytest.raises(LabkitError, match="repeated"):
        A.jobs_of([A.Arm("a", "sft"), A.Arm("a", "wordkd")], [0])


@pytest.mark.parametrize("processes", [1, 2])
def test_run_returns_every_arm_and_seed_in_order(processes):
    exp = Table({"a": 0.5, "b": 0.7, "g1": 0.1, "g2": 0.2})
    arms = [
        A.Arm("b", "sft"),
        A.Arm("a", "gkd", {"beta": 0.9}, cost=5),
        A.Arm("g1", "sft", group="g"),
        A.Arm("g2", "sft", group="g"),
    ]
    runs = A.run(exp, arms, [2, 0, 1], processes=processes)
    assert [(r.arm, r.seed) for r in runs] == [(a, s) for a in ("b", "a", "g1", "g2") for s in (0, 1, 2)]
    assert runs[0].metrics["test"]["accuracy"] == pytest.approx(0.70)
    assert runs[4].extra["beta"] == 0.9
    pids = {r.extra["pid"] for r in runs}
    assert (os.getpid() in pids) == (processes == 1)
    if processes == 2:
        assert len(pids) == 2  # both workers took jobs


@pytest.mark.parametrize("processes", [1, 2])
def test_a_failing_job_names_its_arm_and_seed(processes):
    exp = Table({"a": 0.5, "b": 0.7}, fail="b")
    with pytest.raises(LabkitError, match=r"arm b \(seed 0\) failed.*ValueError: boom"):
        A.run(exp, [A.Arm("a", "sft"), A.Arm("b", "sft")], [0], processes=processes)


def runs_by_hand():
    """Arm 'init' (the shared initial student) and two trained arms over seeds 0-2, numbers chosen by hand."""
    acc = {"student (init)": [0.20, 0.22, 0.24], "ft": [0.50, 0.60, 0.70], "dss": [0.60, 0.80, 0.70]}
    return [
        A.Run(
            arm,
            s,
            {"test": {"accuracy": v[s], "len": 10.0 + s}},
            step0={"test": {"accuracy": 0.25}},
            curves={"loss": [(0, 3.0), (5, float("nan")), (10, 1.0 + s)]},
            seconds=2.0 * (s + 1),
        )
        for arm, v in acc.items()
        for s in range(3)
    ]


def test_values_by_arm_and_summary_by_hand():
    runs = runs_by_hand()
    assert A.values(runs, "dss", "accuracy") == {0: 0.6, 1: 0.8, 2: 0.7}
    assert A.values(runs, "dss", "accuracy", when="step0") == {0: 0.25, 1: 0.25, 2: 0.25}
    with pytest.raises(LabkitError, match="no runs of arm 'x'"):
        A.values(runs, "x", "accuracy")
    with pytest.raises(LabkitError, match="no final test 'f1'"):
        A.values(runs, "ft", "f1")
    assert set(A.by_arm(runs, "accuracy")) == {"student (init)", "ft", "dss"}
    rows = {r["arm"]: r for r in A.summary(runs, ["accuracy", "missing"])}
    assert rows["dss"]["accuracy"] == pytest.approx(0.7)
    assert rows["dss"]["accuracy sd"] == pytest.approx(0.1)  # sqrt(((-.1)^2 + .1^2 + 0) / 2)
    assert rows["dss"]["accuracy per seed"] == [0.6, 0.8, 0.7]
    assert rows["dss"]["seconds"] == pytest.approx(4.0)
    assert "missing" not in rows["dss"]


def test_learning_against_the_shared_init_and_against_each_runs_step0():
    runs = runs_by_hand()
    rows = {r["arm"]: r for r in A.learning(runs, "accuracy", chance=0.25)}
    assert set(rows) == {"ft", "dss"}
    assert rows["ft"]["step0"] == pytest.approx(0.22)  # mean of the init arm
    # ft: mean 0.6, sd 0.1, t(0.975, 2) = 4.3027 -> half width 0.2484, lower end 0.3516 > max(0.22, 0.25)
    assert rows["ft"]["ci95"][0] == pytest.approx(0.6 - 4.302653 * 0.1 / math.sqrt(3), abs=1e-5)
    assert rows["ft"]["learns"] is True
    own = [r for r in runs if r.arm != "student (init)"]
    rows = {r["arm"]: r for r in A.learning(own, "accuracy", chance=0.4)}
    assert rows["dss"]["step0"] == pytest.approx(0.25)  # each run's own step 0
    assert rows["dss"]["learns"] is True and rows["ft"]["learns"] is False  # lower ends 0.45 and 0.35 vs 0.4
    assert [r["arm"] for r in A.learning(runs, "accuracy", exclude=["dss"])] == ["ft"]


def test_claim_band_and_curve_mean_by_hand():
    runs = runs_by_hand()
    c = A.claim(runs, "dss>ft", "text", "accuracy", "dss", "ft", headline=True)
    assert c["values"] == pytest.approx([0.1, 0.2, 0.0])
    assert c["mean"] == pytest.approx(0.1) and c["holds"] is False and c["headline"] is True
    c = A.claim(runs, "dss>ft", "text", "accuracy", "dss", "ft", seeds=[0, 1])
    assert c["values"] == pytest.approx([0.1, 0.2])
    low = A.claim(runs, "ft<dss", "text", "accuracy", "ft", "dss", lower_is_better=True)  # ft lower: positive
    assert low["values"] == pytest.approx([0.1, 0.2, 0.0]) and low["metric"] == "test accuracy (lower better)"
    # len: 10, 11, 12 in both arms -> ratio 1 -> 0.2 - 0 per seed
    assert A.band_effects(runs, "dss", "ft", "len", 0.2) == pytest.approx([0.2, 0.2, 0.2])
    assert A.band_effects(runs, "dss", "ft", "accuracy", 0.2) == pytest.approx([0.2 - 0.2, 0.2 - 1 / 3, 0.2])
    assert A.curve_mean(runs, "ft", "loss") == pytest.approx({0: 2.0, 1: 2.5, 2: 3.0})  # NaN points skipped
    # dss 0.6, 0.8, 0.7 against ft 0.5, 0.6, 0.7: one-sided, more is never a collapse (ratio − 0.8 per seed)
    assert A.floor_effects(runs, "dss", "ft", "accuracy", 0.8) == pytest.approx([0.6 / 0.5 - 0.8, 0.8 / 0.6 - 0.8, 0.2])
    # a headline arm with more seeds than the arm it is compared with: paired on the seeds both ran
    more = runs + [A.Run("dss", 3, {"test": {"accuracy": 0.9, "len": 13}})]
    assert A.claim(more, "dss>ft", "text", "accuracy", "dss", "ft")["values"] == pytest.approx([0.1, 0.2, 0.0])
    assert A.claim(more, "dss>dss", "text", "accuracy", "dss", "dss")["n"] == 4


def test_runs_round_trip_through_json():
    runs = runs_by_hand()
    assert A.from_json(A.to_json(runs)) == runs


# --------------------------------------------------------------------------- the typed profile


@dataclasses.dataclass(frozen=True)
class DemoProfile(profiles.Profile):
    TABLE: ClassVar[dict] = {
        "default": dict(steps=10, lr=1e-3, arms=["a", "b"], kind="x"),
        "smoke": dict(steps=2, lr=1e-2, arms=["a"], kind="y"),
    }
    steps: int = 0
    lr: float = 0.0
    arms: list = dataclasses.field(default_factory=list, metadata=profiles.choices("a", "b", "c"))
    kind: str = dataclasses.field(default="", metadata=profiles.choices("x", "y"))
    seed: int = 0

    def check(self):
        if self.steps < 1:
            self.fail("steps", "an integer >= 1")


def test_profile_resolves_the_table_and_the_overrides_and_is_frozen():
    p = DemoProfile.resolve("default", steps=0, lr=3e-3, arms=[], seed=4)
    assert (p.steps, p.lr, p.arms, p.kind, p.seed) == (10, 3e-3, ["a", "b"], "x", 4)
    assert DemoProfile.resolve("smoke").steps == 2
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.steps = 3


@pytest.mark.parametrize(
    "given, message",
    [
        (dict(arms=["a", "z"]), r"parameter arms=\['a', 'z'\]: expected a non-empty list from a, b, c"),
        (dict(kind="q"), r"parameter kind='q': expected one of x, y"),
        (dict(steps=-2), r"parameter steps=-2: expected an integer >= 1"),
        (dict(lr="fast"), r"parameter lr='fast': expected float"),
        (dict(steps=True), r"parameter steps=True: expected int"),
        (dict(nope=1), r"unknown parameter\(s\) \['nope'\]"),
    ],
)
def test_profile_errors_name_the_parameter(given, message):
    with pytest.raises(LabkitError, match=message):
        DemoProfile.resolve("default", **given)
    with pytest.raises(LabkitError, match="profile='paper'"):
        DemoProfile.resolve("paper")


def test_tiny_config_is_float32_with_a_log_row_every_quarter():
    c = A.tiny_config(10, 4, 1e-3, 7)
    assert (c.steps, c.batch_size, c.lr, c.seed, c.device, c.bf16, c.warmup, c.log_every, c.max_len) == (
        10,
        4,
        1e-3,
        7,
        "cpu",
        False,
        0.05,
        2,
        192,
    )
    assert A.tiny_config(3, 4, 1e-3, 0, max_len=64).log_every == 1  # never 0: a run of fewer than 4 steps logs each
