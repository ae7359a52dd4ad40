"""Notebooks 03 (MiniLLM) and 04 (GKD) on the known teacher (kit="known"), headless at profile "smoke": the exact
measurements are in range and the headline claims are the ones written in labkit.lab.papers. (A file of its own, so
that pytest-xdist runs it beside test_notebooks_kd.py instead of after it.)"""

from __future__ import annotations

import math

import pytest


def _finite(x):
    return isinstance(x, (int, float)) and math.isfinite(x)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["03_minillm_reverse_kl", "04_gkd_on_policy"])
def test_notebooks_run_on_the_known_teacher_with_exact_measurements(tmp_path, run_notebook, name):
    params = {"kit": "known"} if name.startswith("03") else {"kit": "known", "betas": [0.0, 0.5]}
    doc = run_notebook(f"{name}.ipynb", tmp_path, **params)
    m = doc["metrics"]
    assert doc["parameters"]["kit"] == "known" and m["kit"]["recipe"]["kit"] == "known"
    for r in m["runs"]:
        f = r["metrics"]["test"]
        assert 0.0 <= f["void_mass"] <= 1.0 and 0.0 <= f["modes_covered"] <= doc["parameters"]["modes"]
        assert f["forward_kl"] > -1.0 and f["reverse_kl"] > -1.0  # Monte Carlo estimates of a KL: about >= 0
        assert 0.0 <= f["own_prefix_jsd"] <= math.log(2) + 1e-6 and _finite(f["exposure_gap"])
        assert all(
            s["template"] is None or 0 <= s["template"] < doc["parameters"]["modes"] for s in r["extra"]["labelled"]
        )
    heads = [c for c in m["claims"] if c.get("headline")]
    assert len(heads) == 1 and set(m["claims_not_holding"]) == {c["id"] for c in m["claims"] if not c["holds"]}
    if name.startswith("03"):
        assert heads[0]["id"] == "minillm<kd:void_mass" and (tmp_path / "samples_by_template.png").exists()
    else:
        assert heads[0]["id"] == "onpolicy<supervised:own_prefix_jsd:beta=0.5"
        ids = {c["id"] for c in m["claims"]}
        assert "onpolicy≥supervised:modes_covered:beta=0.5" in ids and not any("accuracy" in i for i in ids)
        assert m["grid"]["metric"] == "own_prefix_jsd" and set(m["best"]) >= {"lmbda", "beta", "separated"}
    # learning is judged on the papers' own metrics: task accuracy and ROUGE-L (one template) are shown, not judged
    assert all(not r["counts"] for r in m["learning"] if r["metric"] in ("test accuracy", "test rouge_l"))
    assert not any("gold" in text for text in m["claims_not_holding"].values())  # the known teacher's readings
