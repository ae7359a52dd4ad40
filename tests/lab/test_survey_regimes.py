"""labkit.lab.survey_regimes (notebook 05's regime sweeps): each knob reaches the data it should, Lion's staged
imitation shares one student per seed, one claim per knob value with the headline at the paper's value, the
sentence saying where an effect holds is read from the claims, and bad knobs name their parameter."""

from __future__ import annotations

import dataclasses

import pytest

from labkit import rationales
from labkit.errors import LabkitError
from labkit.lab import arms as A
from labkit.lab import survey
from labkit.lab import survey_regimes as R


@pytest.fixture(scope="module")
def P():
    return survey.SurveyProfile.resolve(
        "smoke", n_train=24, n_test=4, lion_pool=12, lion_new=4, lion_steps=2, max_steps=3, batch_size=4
    )


def test_scott_knob_sets_the_share_of_rationales_that_disagree_with_the_label(P):
    P2 = dataclasses.replace(P, n_train=200, scott_noise=[0.0, 0.5], scott_paper=0.5)
    X, arms = R.sweep(P2, "scott", eval_split="valid")
    stats = {a.label: X.data(a)[1] for a in arms}
    assert stats["unfiltered · p=0"]["consistent"] == stats["consistent only · p=0"]["kept"] == 200  # nothing to drop
    s = stats["unfiltered · p=0.5"]
    teacher = rationales.get_teacher("noisy-oracle@p=0.5")  # independent count: rationales stating another answer
    wrong = sum(
        "answer is " + r.answer + "." not in teacher.rationale(r) for r in X.experiments[("scott", 0.5)].setup.train
    )
    assert s["kept"] - s["consistent"] == wrong and 60 < wrong < 140  # p=0.5 of 200, binomial
    assert stats["consistent only · p=0.5"]["kept"] == 200 - wrong
    assert {a.seeds for a in arms if a.label.endswith("p=0.5")} == {tuple(P2.headline_seeds)}
    assert {a.seeds for a in arms if a.label.endswith("p=0")} == {tuple(P2.seeds)}


def test_ftcot_and_socratic_knobs_set_questions_and_steps(P):
    X, arms = R.sweep(P, "finetune_cot", eval_split="valid")
    assert {k: len(x.setup.train) for k, x in X.experiments.items()} == {
        ("finetune_cot", 16): 16,
        ("finetune_cot", 32): 32,
    }
    assert X.experiments[("finetune_cot", 16)].setup.tokenizer is X.experiments[("finetune_cot", 32)].setup.tokenizer
    Xs, _ = R.sweep(P, "socratic", eval_split="valid")
    assert {k[1]: {r.meta["steps"] for r in x.setup.test} for k, x in Xs.experiments.items()} == {1: {1}, 2: {2}}


def test_lion_imitates_in_stages_one_student_per_seed(P):
    X, arms = R.sweep(P, "lion", eval_split="valid")
    assert [a.reads["imitation"] for a in arms] == [2, 2, 3, 3]  # 0.5 and 1.0 × max_steps=3
    assert len(A.jobs_of(arms, P.seeds)) == len(P.headline_seeds)  # one job per seed for every knob value
    runs = X.run_group(arms, 1)
    short, long_ = runs[0].curves["loss/imitation"], runs[2].curves["loss/imitation"]
    assert [s for s, _ in short] == [1, 2] and [s for s, _ in long_] == [1, 2, 3] and long_[:2] == short
    assert runs[0].curves["loss/imitation"] == runs[1].curves["loss/imitation"]  # both arms of a value share it
    assert [r.extra["imitation"] for r in runs] == [2, 2, 3, 3] and runs[0].extra["regime"] == ("lion", 0.5)
    assert R.solved_share(runs) == {0.5: 1 - runs[0].extra["hard"] / 12, 1.0: 1 - runs[2].extra["hard"] / 12}


def _runs(effects: dict, P):
    """Fake SCOTT runs: per value, consistent-only accuracy = unfiltered + the given effect per seed."""
    out = []
    for v, per_seed in effects.items():
        for s, e in enumerate(per_seed):
            out += [
                A.Run(f"unfiltered · p={v:g}", s, {"test": {"accuracy": 0.5, "faithfulness": 0.8}}),
                A.Run(f"consistent only · p={v:g}", s, {"test": {"accuracy": 0.5 + e, "faithfulness": 0.8 + e}}),
            ]
    return out


def test_claims_per_value_headline_at_the_papers_value_and_where_it_holds(P):
    runs = {"scott": _runs({0.15: [-0.01, 0.0, 0.01], 0.3: [0.1, 0.12, 0.11], 0.45: [-0.2, -0.21, -0.19]}, P)}
    P3 = dataclasses.replace(P, scott_noise=[0.15, 0.3, 0.45], scott_paper=0.3)
    C = {c["id"]: c for c in R.claims_of(runs, P3)}
    assert set(C) == {f"05.scott.{m}@p={v}" for m in ("faithful", "accuracy") for v in ("0.15", "0.3", "0.45")}
    assert [cid for cid, c in C.items() if c["headline"]] == ["05.scott.faithful@p=0.3"]
    assert C["05.scott.accuracy@p=0.3"]["values"] == pytest.approx([0.1, 0.12, 0.11])
    assert [v for v in (0.15, 0.3, 0.45) if C[f"05.scott.faithful@p={v:g}"]["holds"]] == [0.3]
    text = R.where_it_holds(list(C.values()))["05.scott.faithful"]
    assert "holds at teacher rationales whose answer disagrees with the label 0.3 of 0.15, 0.3, 0.45" in text
    assert "other way outside the noise at 0.45" in text and "0.3: +0.110" in text
    notes = R.notes(list(C.values()), runs, {}, P3)
    assert set(notes) == {c for c in C if not C[c]["holds"]} and "0.15" in notes["05.scott.faithful@p=0.15"]


def test_bad_knobs_name_their_parameter():
    with pytest.raises(LabkitError, match="scott_paper"):
        survey.SurveyProfile.resolve("smoke", scott_noise=[0.1, 0.2])  # the paper's 0.3 is not swept
    with pytest.raises(LabkitError, match="ftcot_n_train"):
        survey.SurveyProfile.resolve("smoke", ftcot_n_train=[32, 16])
    with pytest.raises(LabkitError, match="headline_seeds"):
        survey.SurveyProfile.resolve("smoke", headline_seeds=[0])
    P = survey.SurveyProfile.resolve("smoke")
    assert R.one_seed_value(P, "scott") == 0.3 and R.one_seed_value(P, "finetune_cot", ftcot_n=50) == 50
    with pytest.raises(LabkitError, match="knob_scott_p"):
        R.one_seed_value(P, "scott", scott_p=1.5)
    with pytest.raises(LabkitError, match="method='icl'"):
        R.one_seed_value(P, "icl")


def test_the_one_seed_run_is_the_sweeps_run(P):
    X, arms = R.sweep(P, "finetune_cot", eval_split="valid")
    live = R.one_seed(X, P, "finetune_cot", 16, 0)  # two arms on forked workers, kept in the parent
    assert [r.arm for r in live] == [a.label for a in arms[:2]]
    again = R.run_sweeps(X, {"finetune_cot": arms[:2]}, P.seeds)["finetune_cot"]
    assert [r for r in again if r.seed == 0] == live  # not trained again: the same Runs
    P2 = dataclasses.replace(P, scott_noise=[0.15, 0.3])
    Xs, _ = R.sweep(P2, "scott", eval_split="valid")
    got = R.one_seed_run(Xs, None, P2, "scott", 1, {"scott_filter": False}, {"knob_scott_p": 0.2})
    assert [r.arm for r in got] == ["unfiltered · p=0.2"] and ("scott", 0.2) in Xs.experiments  # a value off the sweep
