"""Notebook 05 (the survey's map) runs headless at smoke and writes claims recomputable from its per-seed tables."""

import pytest

pytest.importorskip("papermill")


@pytest.mark.slow
def test_05_survey_map(run_notebook, tmp_path):
    doc = run_notebook("05_survey_map.ipynb", tmp_path)
    m = doc["metrics"]
    assert doc["parameters"]["profile"] == "smoke"
    assert {
        "survey_map.png",
        "finetune_cot_accuracy.png",
        "scott_faithfulness.png",
        "socratic_accuracy.png",
        "icl_accuracy.png",
        "lion_accuracy.png",
    } <= {f.split("/")[-1] for f in m["figures"]}
    for f in m["figures"]:
        assert (tmp_path / f).stat().st_size > 5000, f
    assert [r["runs in"] for r in m["tables"]["methods"]][:5] == ["05 §1", "05 §2", "05 §3", "05 §4", "05 §5"]
    claims = {c["id"]: c for c in m["claims"]}
    assert set(claims) == {
        "05.ftcot.diverse>single",
        "05.scott.faithful",
        "05.scott.accuracy",
        "05.socratic>cot",
        "05.icl.multitask>meta",
        "05.icl.meta>ft",
        "05.lion.hard>random",
    }
    per_seed = {(t, r["arm"]): r for t in ("finetune_cot", "scott", "socratic", "icl", "lion") for r in m["tables"][t]}
    for c in claims.values():
        table = {
            "05.ftcot": "finetune_cot",
            "05.scott": "scott",
            "05.socratic>cot": "socratic",
            "05.icl": "icl",
            "05.lion": "lion",
        }
        t = next(v for k, v in table.items() if c["id"].startswith(k))
        key = "faithfulness per seed" if c["metric"] == "test faithfulness" else "accuracy per seed"
        better, worse = per_seed[(t, c["better"])][key], per_seed[(t, c["worse"])][key]
        assert c["n"] == 3 and c["values"] == pytest.approx([b - w for b, w in zip(better, worse)], abs=2e-3)
        assert c["holds"] == (c["ci95"][0] > 0)
    # the data each arm saw: k paths give more kept paths than one; the SCOTT filter drops the inconsistent ones
    ft = {r["arm"]: r for r in m["tables"]["finetune_cot_data"]}
    assert ft["k=4 (T=1)"]["kept"] > ft["k=1 (greedy)"]["kept"]
    sc = {r["arm"]: r for r in m["tables"]["scott_data"]}
    assert sc["consistent only"]["kept"] == sc["consistent only"]["consistent"] < sc["unfiltered"]["kept"]
    lion = m["tables"]["lion_data"]  # both arms grow the same pool by the same number of questions
    assert [r["pool"] for r in lion] == [16, 16] and [r["new"] for r in lion] == [8, 8]
    assert m["single_run"] and m["single_run"][0]["arm"] in ("k=1 (greedy)", "k=4 (T=1)")
    # every run of the experiment layer: its curve over the steps; step 0 measured on the first seed only
    for mini, runs in m["runs"].items():
        for r in runs:
            assert all(
                len(c) == doc["parameters"]["max_steps"]
                for k, c in r["curves"].items()
                if k != "loss" or mini != "lion"
            ), (mini, r["arm"])
            assert bool(r["step0"]) == (r["seed"] == m["seeds"][0])
    assert {r["arm"] for r in m["learning"]} == {
        f"{t}: {a}" for t, rs in m["runs"].items() for a in {r["arm"] for r in rs}
    }


def test_05_rejects_an_unknown_method(run_notebook, tmp_path):
    pm = pytest.importorskip("papermill")
    with pytest.raises(pm.PapermillExecutionError, match="methods=\\['distil'\\]"):
        run_notebook("05_survey_map.ipynb", tmp_path, methods=["distil"])
