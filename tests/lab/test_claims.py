"""Claims over seeds: Student-t intervals against hand-computed values, the schema, errors."""

import json
import math

import pytest

from labkit.errors import LabkitError
from labkit.lab.claims import KEYS, claim, paired_effects, t_interval


def test_t_interval_by_hand():
    # values [1, 2, 3]: mean 2, s = 1, t_{0.975,2} = 4.302653 -> half-width 4.302653 / sqrt(3) = 2.48414
    mean, lo, hi = t_interval([1, 2, 3])
    assert mean == pytest.approx(2.0)
    assert hi - mean == pytest.approx(4.302653 / math.sqrt(3), abs=1e-5)
    assert mean - lo == pytest.approx(2.48414, abs=1e-5)
    # two seeds [0.1, 0.3]: s = 0.141421, t_{0.975,1} = 12.706205 -> half-width 1.270621
    mean, lo, hi = t_interval([0.1, 0.3])
    assert (mean, lo, hi) == pytest.approx((0.2, 0.2 - 1.270621, 0.2 + 1.270621), abs=1e-5)


def test_claim_schema_and_json():
    c = claim(
        "dss>ft", "Step-by-step beats fine-tuning (Hsieh et al., 2023)", "accuracy", "dss", "ft", [0.10, 0.12, 0.14]
    )
    assert tuple(c) == KEYS
    assert c["n"] == 3 and c["values"] == [0.10, 0.12, 0.14]
    assert c["mean"] == pytest.approx(0.12)
    # s = 0.02 -> half-width 4.302653 * 0.02 / sqrt(3) = 0.0496828
    assert c["ci95"] == pytest.approx([0.12 - 0.0496828, 0.12 + 0.0496828], abs=1e-6)
    assert c["holds"] is True
    assert json.loads(json.dumps(c)) == c


def test_holds_false_when_interval_reaches_zero():
    assert claim("a", "c", "m", "x", "y", [1, 2, 3])["holds"] is False  # lo = -0.48
    assert claim("a", "c", "m", "x", "y", [-0.1, -0.2, -0.3])["holds"] is False
    assert claim("a", "c", "m", "x", "y", [0.0, 0.0])["holds"] is False  # lo == 0 is not > 0


def test_values_paired_by_seed():
    better = {2: 0.7, 0: 0.6, 1: 0.65}
    worse = {0: 0.5, 1: 0.55, 2: 0.5}
    assert paired_effects(better, worse) == pytest.approx([0.1, 0.1, 0.2])
    c = claim("a", "c", "acc", "x", "y", better_values=better, worse_values=worse)
    assert c["values"] == pytest.approx([0.1, 0.1, 0.2]) and c["n"] == 3


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(values=[0.5]), "at least 2"),
        (dict(values=[]), "at least 2"),
        (dict(values=[0.1, float("nan")]), "finite"),
        (dict(values=None, better_values={0: 1, 1: 2}, worse_values={0: 1, 2: 2}), "seeds differ"),
        (dict(values=None), "pass values"),
        (dict(values=[1, 2], better_values={0: 1, 1: 2}, worse_values={0: 1, 1: 2}), "not both"),
    ],
)
def test_errors(kwargs, match):
    values = kwargs.pop("values")
    with pytest.raises(LabkitError, match=match):
        claim("a", "c", "m", "x", "y", values, **kwargs)


def test_learning_rows_against_hand_values():
    from labkit.lab.claims import learning

    # arm a: [0.5, 0.6, 0.7] mean 0.6, s 0.1, half-width 4.302653 * 0.1 / sqrt(3) = 0.248414 -> lo 0.351586
    rows = learning(
        {"a": {2: 0.7, 0: 0.5, 1: 0.6}, "b": {0: 0.3, 1: 0.31}}, {"a": 0.25, "b": 0.3}, "test accuracy", chance=0.25
    )
    a, b = rows
    assert (a["arm"], a["n"], a["step0"], a["chance"]) == ("a", 3, 0.25, 0.25)
    assert a["final"] == pytest.approx(0.6) and a["gain_over_step0"] == pytest.approx(0.35)
    assert a["ci95"] == pytest.approx([0.351586, 0.848414], abs=1e-6) and a["learns"] is True
    # b: mean 0.305 but the interval (two seeds, t = 12.706) reaches below step 0 and chance
    assert b["learns"] is False and b["gain_over_step0"] == pytest.approx(0.005)
    # a shared step 0 (one initial student) and no chance; a lower end above step 0 but below chance fails
    assert learning({"x": {0: 1.0, 1: 1.1, 2: 1.2}}, 0.0, "loglik")[0]["learns"] is True
    assert learning({"x": {0: 0.30, 1: 0.31, 2: 0.32}}, 0.1, "acc", chance=0.5)[0]["learns"] is False
    assert learning({"x": {0: 0.9}}, 0.1, "acc")[0]["learns"] is False  # one seed: no interval


def test_not_holding_names_the_measured_effect_and_the_reading():
    from labkit.lab.claims import not_holding

    cs = [
        claim("a:acc", "c", "acc", "x", "y", [1, 2, 3]),
        claim("b", "c", "m", "x", "y", [0.1, 0.12, 0.14]),
        claim("c", "c", "m", "x", "y", [-0.1, -0.2, -0.3]),
    ]
    notes = not_holding(cs, {"a": "too few steps"}, default="spread")
    assert list(notes) == ["a:acc", "c"]  # b holds: no note
    assert notes["a:acc"] == (
        "a:acc: mean effect +2.000, 95% CI [-0.484, +4.484] (3 seeds) does not lie above 0; every "
        "seed's effect is positive (+1.000, +2.000, +3.000), but 3 seeds give a wide interval "
        "— too few steps"
    )
    assert notes["c"].endswith("— spread") and not_holding(cs[2:], {})["c"].endswith("above 0.")


def test_not_holding_takes_the_longest_matching_key():
    from labkit.lab.claims import not_holding

    c = [
        claim("same-tok>hybrid(KD only):digits", "c", "m", "x", "y", [1, 2, 3]),
        claim("same-tok>hybrid:digits", "c", "m", "x", "y", [1, 2, 3]),
    ]
    notes = not_holding(c, {"same-tok>hybrid": "short", "same-tok>hybrid(KD only)": "long"})
    assert notes[c[0]["id"]].endswith("— long") and notes[c[1]["id"]].endswith("— short")


def test_not_learning_gives_each_arm_that_does_not_learn_its_reading():
    from labkit.lab.claims import learning, learning_metrics, not_learning

    rows = learning(
        {
            "sft": {0: 0.5, 1: 0.6, 2: 0.7},
            "minillm −len": {0: 0.2, 1: 0.2, 2: 0.21},
            "kd": {0: 0.1, 1: 0.5, 2: 0.3},
            "gkd": {0: 0.3, 1: 0.4, 2: 0.2},
        },
        0.25,
        "test accuracy",
    )
    why = {"minillm": "collapses", "kd|test accuracy": "exact", "kd": "prefix only"}
    notes = not_learning(rows, why)
    assert list(notes) == ["minillm −len · test accuracy", "kd · test accuracy", "gkd · test accuracy"]  # sft learns
    assert notes["minillm −len · test accuracy"] == "collapses"  # the longest arm prefix
    assert notes["kd · test accuracy"] == "exact"  # "arm|metric" before the arm prefix
    # no reading: what the numbers say (gkd's mean 0.3 is above step 0 0.25, its interval is not)
    assert (
        notes["gkd · test accuracy"]
        == "the mean is above step 0, but the seeds spread more than the gain at this budget (3 seeds)."
    )
    below = not_learning(learning({"x": {0: 0.1, 1: 0.2}}, 0.25, "acc", chance=0.25), {})
    assert below == {"x · acc": "the mean is not above step 0 at this budget (2 seeds)."}
    assert set(not_learning(rows, {"test accuracy": "short budget"}).values()) == {"short budget"}
    assert learning_metrics(rows, why) == {"learning": rows, "not_learning": notes}


def test_notebook_readings_of_arms_that_do_not_learn_apply_at_their_profile_only():
    from labkit.lab import arms as A
    from labkit.lab import papers, students, whitebox

    runs = [
        A.Run("minillm α=0", s, {"test": {"rouge_l": v, "teacher_loglik": -4.0, "accuracy": 0.07}})
        for s, v in enumerate([0.5, 0.4, 0.6])
    ]
    runs += [
        A.Run("student (init)", s, {"test": {"rouge_l": 0.53, "teacher_loglik": -4.9, "accuracy": 0.07}})
        for s in range(3)
    ]
    numbers = {
        **A.numbers(runs, whitebox.METRICS),
        "steps": 60,
        "batch_size": 8,
        "init_steps": 300,
        "teacher_steps": 3000,
        "teacher_layers": 4,
    }
    got = whitebox.learning_metrics(runs, "03", numbers, "default")
    at_default = got["not_learning"]
    assert at_default["minillm α=0 · test rouge_l"] == papers.READINGS["03"]["learn:minillm"]
    # task accuracy is not the white-box papers' metric: shown, not judged, no reading
    acc = [r for r in got["learning"] if r["metric"] == "test accuracy"]
    assert acc and all(r["counts"] is False and "task accuracy" in r["not_counted"] for r in acc)
    assert not any(k.endswith("test accuracy") for k in at_default)
    assert "minillm α=0 · test teacher_loglik" not in at_default  # -4.0 every seed, above -4.9: learns
    # on a known teacher ROUGE-L against one template is not judged either
    known = whitebox.learning_metrics(runs, "03", numbers, "default", known=True)
    assert not known["not_learning"] and all(not r["counts"] for r in known["learning"] if "rouge" in r["metric"])
    at_smoke = whitebox.learning_metrics(runs, "03", numbers, "smoke")["not_learning"]
    assert all(v.endswith("(3 seeds).") for v in at_smoke.values())
    runs = [
        A.Run("label only (fine-tuning)", s, {"test": {"accuracy": v}}, step0={"test": {"accuracy": 0.25}})
        for s, v in enumerate([0.27, 0.25, 0.3])
    ]
    key = "label only (fine-tuning) · test accuracy"
    got = students.learning_metrics(runs, "02", chance=0.25, numbers={"steps": 360})["not_learning"][key]
    assert got == papers.READINGS["02"]["learn:label only"].format(steps=360)
    assert (
        students.learning_metrics(runs, "02", "real", chance=0.25)["not_learning"][key]
        == papers.READINGS["02"]["real:*"]
    )


def test_fill_puts_the_runs_numbers_into_a_reading():
    from labkit.lab.claims import fill

    assert fill("gain {gain:+.2f} over {n} seeds", {"gain": 0.1234, "n": 5}) == "gain +0.12 over 5 seeds"
    assert fill("missing {x:.1f}", {"y": 1}) == "missing n/a"
    assert fill("no fields", {"y": 1}) == "no fields"


def test_not_holding_fills_its_reading_from_numbers():
    from labkit.lab import claims as C

    c = C.claim("a>b", "a beats b", "acc", "a", "b", [0.1, -0.2, 0.05])
    out = C.not_holding([c], {"a>b": "b already at {b_acc:.2f}"}, numbers={"b_acc": 0.91})
    assert out["a>b"].endswith("b already at 0.91")
