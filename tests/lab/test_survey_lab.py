"""labkit.lab.survey (notebook 05): the experiment on tiny from-scratch students — what each arm trains on, a Run's
metrics, curves and step 0, the Lion group sharing one imitation student per seed, the same seed giving the same
numbers — and the profile's and claims' checks."""

from __future__ import annotations

import pytest

from labkit.errors import LabkitError
from labkit.lab import arms as A
from labkit.lab import papers, survey

STUDENT = "scratch@layers=1,hidden=32"
CONFIG = dict(lr=3e-3, steps=3, batch_size=4, max_len=192, bf16=False)
NOISY, CLEAN = "noisy-oracle@p=0.5", "oracle"


@pytest.fixture(scope="module")
def setup():
    return survey.cot_setup(n_train=16, n_test=4, task_steps=1, teachers=[NOISY, CLEAN])


@pytest.fixture(scope="module")
def experiment(setup):
    x = survey.SurveyExperiment(setup, STUDENT, CONFIG, step0_seeds=[0])
    x.prepare(
        [survey.scott_arms(NOISY), survey.socratic_arms(CLEAN), survey.lion_arms(CLEAN, n_pool=8, n_new=4, steps=2)],
        vocab=320,
    )
    return x


def test_scott_filter_keeps_only_the_consistent_rationales(experiment):
    unfiltered, consistent = survey.scott_arms(NOISY)
    (pairs_all,), s_all = experiment.data(unfiltered)
    (pairs_ok,), s_ok = experiment.data(consistent)
    assert s_all["kept"] == s_all["with_rationale"] == 16
    assert s_ok["kept"] == s_ok["consistent"] == s_all["consistent"] < 16  # p=0.5: some rationales are wrong
    assert len(pairs_ok[0]) == s_ok["kept"] and set(pairs_ok[1]) < set(pairs_all[1])


def test_a_run_has_its_metrics_curve_and_step0_and_a_seed_repeats(experiment, setup):
    arm = survey.scott_arms(NOISY)[1]
    r0, r1 = A.run(experiment, [arm], [0, 1], processes=1)
    assert (r0.arm, r0.seed, r1.seed) == ("consistent only", 0, 1)
    assert set(r0.metrics["test"]) == {"accuracy", "faithfulness", "rationale_accuracy"}
    assert [s for s, _ in r0.curves["loss"]] == [1, 2, 3] and r0.extra["final_loss"] == [r0.curves["loss"][-1][1]]
    assert set(r0.step0["test"]) == set(r0.metrics["test"]) and r1.step0 == {}  # step 0 only for seed 0
    again = survey.SurveyExperiment(setup, STUDENT, CONFIG, step0_seeds=[]).run(arm, 1)  # same tokenizer
    assert again.curves == r1.curves and again.metrics == r1.metrics
    assert r0.curves != r1.curves  # another seed, another run
    assert experiment.run(arm, 0) is r0  # kept, not trained again


def test_socratic_trains_two_students_and_scores_them_together(experiment):
    single, two = survey.socratic_arms(CLEAN)
    assert len(experiment.data(single)[0]) == 1 and len(experiment.data(two)[0]) == 2
    stats = experiment.data(two)[1]
    assert stats["decomposer pairs"] == stats["solver pairs"] > 16  # several per question
    r = experiment.run(two, 0)
    assert set(r.curves) == {"loss/decomposer", "loss/solver"} and "Q1:" in r.extra["example"]
    assert 0.0 <= r.metrics["test"]["accuracy"] <= 1.0


def test_lion_arms_share_one_imitation_student_per_seed(experiment):
    arms = survey.lion_arms(CLEAN, n_pool=8, n_new=4, steps=2)
    assert A.jobs_of(arms, [0, 1]) == [(tuple(arms), 0), (tuple(arms), 1)]  # one job per seed
    control, mined = A.run(experiment, arms, [1], processes=1)
    assert control.curves["loss/imitation"] == mined.curves["loss/imitation"]  # the same base student
    assert control.extra["hard"] == mined.extra["hard"] and control.extra["pool"] == 8
    assert control.extra["new"] == 4 and mined.extra["new"] == (4 if mined.extra["hard"] else 0)
    assert len(control.curves["loss"]) == 2  # reads["steps"] more steps


def test_profile_checks_name_the_parameter():
    P = survey.SurveyProfile.resolve("smoke", max_steps=7, methods=["scott"])
    assert P.config["steps"] == 7 and P.methods == ["scott"] and P.seeds == [0, 1, 2]
    with pytest.raises(LabkitError, match="methods"):
        survey.SurveyProfile.resolve("smoke", methods=["distil"])
    with pytest.raises(LabkitError, match="seeds"):
        survey.SurveyProfile.resolve("smoke", seeds=[0])
    with pytest.raises(LabkitError, match="method="):
        survey.arms_for("distil", P)
    assert [a.settings["k"] for a in survey.arms_for("finetune_cot", P, k_paths=2)] == [1, 2]


def test_claims_pair_arms_by_seed_and_readings_quote_the_run():
    def run(arm, seed, acc, faith):
        return A.Run(arm, seed, {"test": {"accuracy": acc, "faithfulness": faith}})

    runs = {
        "scott": [run("unfiltered", s, 0.5, 0.9) for s in (0, 1, 2)]
        + [run("consistent only", s, 0.5 + 0.1 * s, 0.9) for s in (0, 1, 2)]
    }
    C = {c["id"]: c for c in survey.claims_of(runs)}
    assert set(C) == {"05.scott.faithful", "05.scott.accuracy"}
    assert C["05.scott.accuracy"]["values"] == pytest.approx([0.0, 0.1, 0.2])
    assert C["05.scott.faithful"]["claim"] == papers.statement("05", "05.scott.faithful")
    assert C["05.scott.faithful"]["citation"] == survey.CITATION
    nums = survey.numbers(runs, {"scott": [{"arm": "unfiltered", "kept": 20, "consistent": 15}]})
    assert nums["faithful_consistent"] == pytest.approx(0.9) and nums["inconsistent_share"] == pytest.approx(0.25)
    notes = survey.notes(list(C.values()), {**nums, "steps": 9})
    assert "9 steps" in survey.notes(list(C.values()), {"steps": 9}, "smoke")["05.scott.faithful"]
    assert set(notes) == {"05.scott.faithful", "05.scott.accuracy"}
    assert "faithfulness 0.90 unfiltered" in notes["05.scott.faithful"] and "25%" in notes["05.scott.accuracy"]
