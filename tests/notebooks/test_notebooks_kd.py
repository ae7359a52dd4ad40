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


CLAIM_KEYS = {"id", "claim", "metric", "better", "worse", "values", "mean", "ci95", "holds"}


def _check_claims(claims, n_seeds):
    assert claims
    for c in claims:
        assert CLAIM_KEYS <= set(c), c
        assert len(c["values"]) == n_seeds and all(_finite(v) for v in c["values"])
        lo, hi = c["ci95"]
        assert lo <= c["mean"] <= hi and c["holds"] == (lo > 0)
        assert "ICLR 2024" in c["claim"]


@pytest.mark.slow
def test_03_runs_every_arm_over_seeds_and_writes_claims(nb03):
    out, doc = nb03
    assert doc["notebook"] == "03_minillm_reverse_kl" and doc["parameters"]["profile"] == "smoke"
    m, seeds = doc["metrics"], doc["parameters"]["seeds"]
    assert len(seeds) >= 2
    arms = {r["arm"]: r for r in m["tables"]["arms"]}
    expected = {"student (init)", "sft", "kd", "seqkd", "minillm", "minillm −single-step", "minillm α=0",
                "minillm −length-norm"}
    assert set(arms) == expected and all(r["seeds"] == len(seeds) for r in arms.values())
    for r in m["runs"]:
        f = r["final"]
        assert 0.0 <= f["rouge_l"] <= 1.0 and 0.0 <= f["distinct_2"] <= 1.0 and 0.0 <= f["accuracy"] <= 1.0
        assert _finite(f["teacher_loglik"]) and f["teacher_loglik"] < 0
    _check_claims(m["claims"], len(seeds))
    ids = {c["id"] for c in m["claims"]}
    assert {"minillm>sft:rouge_l", "minillm>kd:teacher_loglik", "minillm~sft:distinct_2", "minillm>α=0",
            "minillm>−single-step", "minillm>−length-norm", "single-step<var"} <= ids
    assert set(m["claims_not_holding"]) == {c["id"] for c in m["claims"] if not c["holds"]}
    mini = m["curves"][f"minillm|{seeds[0]}"]
    assert all(_finite(v) and v >= 0 for _, v in mini["grad_var"]) and len(mini["grad_var"]) >= 2
    assert all(0 < v <= 1 / 0.8 + 1e-6 for _, v in mini["weight_mean"])   # α = 0.2 importance weights
    sft_loss = [v for _, v in m["curves"][f"sft|{seeds[0]}"]["loss"]]
    assert len(sft_loss) == doc["parameters"]["max_steps"]
    for png in m["figures"]:
        assert (out / png).stat().st_size > 5000
    assert set(m["figures"]) == {"minillm_curves.png", "baseline_losses.png", "metrics.png"}
    assert m["single_run"] and doc["timings"]["total"] > 0


@pytest.mark.slow
def test_04_grid_over_seeds_has_the_right_shape_and_claims(nb04):
    out, doc = nb04
    m, seeds = doc["metrics"], doc["parameters"]["seeds"]
    grid = m["grid"]
    assert grid["lmbdas"] == [0.0, 1.0] and grid["betas"] == [0.0, 0.5, 1.0]
    assert len(grid["values"]) == 2 and all(len(row) == 3 for row in grid["values"])
    assert all(_finite(v) and 0 <= v <= 1 for row in grid["values"] for v in row)      # accuracies
    assert all(_finite(v) and v >= 0 for row in grid["sd"] for v in row)
    runs = [r for r in m["runs"] if r["arm"] != "student (init)"]
    assert len(runs) == 6 * len(seeds)
    steps = doc["parameters"]["max_steps"]
    for key, curves in m["curves"].items():
        if key.startswith("λ="):
            on = sum(v for _, v in curves["on_policy"])
            assert on == (0 if key.startswith("λ=0.0 ") else steps)        # λ = 0 never samples, λ = 1 always
            assert all(_finite(v) and v >= 0 for _, v in curves["loss/jsd"])
    _check_claims(m["claims"], len(seeds))
    assert any(c["id"].startswith("onpolicy>supervised:accuracy") for c in m["claims"])
    assert m["single_run"]["lmbda"] == 0.5 and _finite(m["single_run"]["teacher_loglik"])
    for png in ("gkd_heatmap.png", "gkd_seeds.png", "gkd_losses.png"):
        assert (out / png).stat().st_size > 5000


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
