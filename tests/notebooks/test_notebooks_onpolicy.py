"""Notebook 07 (on-policy distillation vs RL vs SFT) headless at profile "smoke": every arm's ledger is filled, the
headline claim is the compute ratio written in labkit.lab.papers, the figures are written."""

from __future__ import annotations

import math

import pytest


@pytest.mark.slow
def test_notebook_07_runs_with_a_ledger_and_its_headline_compute_ratio(tmp_path, run_notebook):
    doc = run_notebook("07_on_policy_distillation.ipynb", tmp_path)
    m = doc["metrics"]
    assert doc["notebook"] == "07_on_policy_distillation" and doc["parameters"]["profile"] == "smoke"
    heads = [c for c in m["claims"] if c.get("headline")]
    assert [c["id"] for c in heads] == ["opd<rl:compute"] and heads[0]["n"] == len(doc["parameters"]["seeds"])
    assert math.isclose(m["compute_ratio"]["ratio"], 10 ** heads[0]["mean"])
    assert set(m["claims_not_holding"]) == {c["id"] for c in m["claims"] if not c["holds"]}
    by_arm = {}
    for r in m["runs"]:
        by_arm.setdefault(r["arm"], []).append(r)
    for name in ("opd", "rl", "rl+opd"):  # on-policy arms sample: the ledger says so, and grows step by step
        for r in by_arm[name]:
            flops = [f for _, f in r["curves"]["flops"]]
            assert r["metrics"]["test"]["flops_sample"] > 0 and flops == sorted(flops) and flops[0] == 0
    assert all(r["metrics"]["test"]["flops_teacher"] > 0 for r in by_arm["opd"] + by_arm["rl+opd"])
    assert all("flops_teacher" not in r["metrics"]["test"] for r in by_arm["rl"])
    assert all(r["curves"]["flops"][0][1] == r["metrics"]["test"]["data_flops"] > 0 for r in by_arm["sft"])
    for name in ("accuracy_vs_compute.png", "teacher_accuracy.png", "signals.png", "disagreement.png"):
        assert (tmp_path / name).exists()
