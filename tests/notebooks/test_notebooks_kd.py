"""Notebooks 03 (MiniLLM) and 04 (GKD) run headless through papermill at profile "smoke" (tiny models),
their metrics hold sensible numbers, wrong parameters fail in the check cell, and their widget panels
write changed values back."""
from __future__ import annotations

import math

import pytest


def _finite(x):
    return isinstance(x, (int, float)) and math.isfinite(x)


@pytest.fixture(scope="module")
def nb03(tmp_path_factory, run_notebook):
    out = tmp_path_factory.mktemp("nb03")
    return out, run_notebook("03_minillm_reverse_kl.ipynb", out)


@pytest.fixture(scope="module")
def nb04(tmp_path_factory, run_notebook):
    out = tmp_path_factory.mktemp("nb04")
    return out, run_notebook("04_gkd_on_policy.ipynb", out, lmbdas=[0.0, 1.0], betas=[0.0, 0.5, 1.0])


@pytest.mark.slow
def test_03_runs_and_reports_every_method(nb03):
    out, doc = nb03
    assert doc["notebook"] == "03_minillm_reverse_kl" and doc["parameters"]["profile"] == "smoke"
    m = doc["metrics"]
    rows = {r["method"]: r for r in m["tables"]["methods"]}
    expected = {"student (init)", "sft", "kd", "seqkd", "minillm", "minillm −single-step", "minillm α=0",
                "minillm −length-norm", "teacher"}
    assert set(rows) == expected
    for r in rows.values():
        assert 0.0 <= r["rouge_l"] <= 1.0 and 0.0 <= r["distinct_2"] <= 1.0
        assert _finite(r["teacher_loglik"]) and r["teacher_loglik"] < 0
    # every trained student's own training loss went down (KD: the forward KL to the teacher)
    for name in ("sft", "kd", "seqkd"):
        assert rows[name]["train_loss_last"] < rows[name]["train_loss_first"], name
    kd_curve = [v for _, v in m["curves"]["kd"]["loss/kd"]]
    assert len(kd_curve) == doc["parameters"]["max_steps"] and kd_curve[-1] < kd_curve[0]
    mini = m["curves"]["minillm"]
    single = [v for _, v in mini["loss/single"]]
    assert single[-1] < single[0]                                   # reverse KL on samples fell
    assert all(_finite(v) and v >= 0 for _, v in mini["grad_var"]) and len(mini["grad_var"]) >= 2
    assert all(0 < v <= 1 / 0.8 + 1e-6 for _, v in mini["weight_mean"])   # α = 0.2 importance weights
    assert m["best_by_teacher_loglik"] in rows
    for png in m["figures"]:
        assert (out / png).stat().st_size > 5000
    assert set(m["figures"]) == {"minillm_curves.png", "baseline_losses.png", "metrics.png"}
    assert doc["timings"]["total"] > 0


@pytest.mark.slow
def test_04_grid_has_the_right_shape_and_sensible_values(nb04):
    out, doc = nb04
    m = doc["metrics"]
    grid = m["grid"]
    assert grid["lmbdas"] == [0.0, 1.0] and grid["betas"] == [0.0, 0.5, 1.0]
    assert len(grid["values"]) == 2 and all(len(row) == 3 for row in grid["values"])
    assert all(_finite(v) and v < 0 for row in grid["values"] for v in row)    # teacher log-likelihoods
    rows = m["tables"]["gkd_grid"]
    assert len(rows) == 6
    steps = doc["parameters"]["max_steps"]
    for r in rows:
        # λ = 0 never samples from the student, λ = 1 always does
        assert r["on_policy_steps"] == (0 if r["lmbda"] == 0.0 else steps)
        assert _finite(r["jsd_last"]) and r["jsd_last"] >= 0
        assert grid["values"][grid["lmbdas"].index(r["lmbda"])][grid["betas"].index(r["beta"])] == r["teacher_loglik"]
    off_policy = [r for r in rows if r["lmbda"] == 0.0]
    assert all(r["jsd_last"] < r["jsd_first"] for r in off_policy)      # fixed data: the loss falls
    assert m["single_run"]["lmbda"] == 0.5 and _finite(m["single_run"]["teacher_loglik"])
    assert (out / "gkd_heatmap.png").stat().st_size > 5000


@pytest.mark.slow
@pytest.mark.parametrize("name,params,word", [
    ("03_minillm_reverse_kl.ipynb", {"teacher": "no-such-teacher"}, "teacher"),
    ("03_minillm_reverse_kl.ipynb", {"teacher_mix": -0.1}, "teacher_mix"),
    ("04_gkd_on_policy.ipynb", {"betas": [0.0, 1.5]}, "betas"),
    ("04_gkd_on_policy.ipynb", {"dataset": "synthetic:nope"}, "dataset"),
])
def test_a_wrong_parameter_fails_in_the_check_cell(run_notebook, tmp_path, name, params, word):
    from papermill.exceptions import PapermillExecutionError
    with pytest.raises(PapermillExecutionError) as err:
        run_notebook(name, tmp_path, **params)
    e = err.value
    assert e.ename == "LabkitError" and f"parameter {word}" in e.evalue
    assert "check_parameters" in e.source and "load_teacher_student" not in e.source   # before heavy work
    assert not (tmp_path / "metrics.json").exists()


def test_widget_panels_write_back_changed_values():
    pytest.importorskip("ipywidgets")
    from labkit.lab import widgets
    ns = {"methods": ["sft", "minillm"], "single_step": True, "teacher_mix": 0.2, "length_norm": True,
          "lm_weight": 0.0, "max_steps": 0}
    seen = []
    p = widgets.minillm_panel(ns, on_change=seen.append)
    p.controls["teacher_mix"].value = 0.5
    p.controls["single_step"].value = False
    p.controls["methods"].value = ("kd", "seqkd", "minillm")
    p.controls["max_steps"].value = 30
    assert ns["teacher_mix"] == 0.5 and ns["single_step"] is False and ns["length_norm"] is True
    assert ns["methods"] == ["kd", "seqkd", "minillm"] and ns["max_steps"] == 30
    assert seen and seen[-1]["teacher_mix"] == 0.5

    ns = {"lmbda": 0.5, "beta": 0.5, "metric": "teacher_loglik"}
    reruns = []
    p = widgets.gkd_panel(ns, on_change=reruns.append)
    p.controls["lmbda"].value = 1.0
    p.controls["beta"].value = 0.1
    p.controls["metric"].value = "rouge_l"
    assert ns == {"lmbda": 1.0, "beta": 0.1, "metric": "rouge_l"}
    assert len(reruns) == 3 and reruns[-1]["beta"] == 0.1          # each change re-runs the single-run cell
