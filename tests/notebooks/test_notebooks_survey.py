"""Notebook 05 (the survey's map) runs headless at smoke: every miniature swept over its regime knob, claims
recomputable from its per-seed tables, one claim per knob value, the headline at the paper's value."""

import pytest

pytest.importorskip("papermill")


@pytest.mark.slow
def test_05_survey_map(run_notebook, tmp_path):
    doc = run_notebook("05_survey_map.ipynb", tmp_path)
    m, params = doc["metrics"], doc["parameters"]
    assert params["profile"] == "smoke"
    assert {
        "survey_map.png",
        "finetune_cot_regimes.png",
        "scott_regimes.png",
        "socratic_regimes.png",
        "lion_regimes.png",
        "regimes.png",
        "icl_accuracy.png",
    } <= {f.split("/")[-1] for f in m["figures"]}
    for f in m["figures"]:
        assert (tmp_path / f).stat().st_size > 5000, f
    assert [r["runs in"] for r in m["tables"]["methods"]][:5] == ["05 §1", "05 §2", "05 §3", "05 §4", "05 §5"]
    claims = {c["id"]: c for c in m["claims"]}
    knobs = {
        "ftcot": ("n", "ftcot_n_train"),
        "scott": ("p", "scott_noise"),
        "socratic": ("steps", "socratic_task_steps"),
    }
    swept = {
        f"{cid}@{knobs[cid.split('.')[1].split('>')[0]][0]}={v:g}"
        for cid in ("05.ftcot.diverse>single", "05.scott.faithful", "05.scott.accuracy", "05.socratic>cot")
        for v in params[knobs[cid.split(".")[1].split(">")[0]][1]]
    }
    swept |= {f"05.lion.hard>random@imitation={v:g}" for v in params["lion_imitation"]}
    assert set(claims) == swept | {"05.icl.multitask>meta", "05.icl.meta>ft"}
    headline = sorted(c for c in claims if claims[c].get("headline"))
    assert headline == sorted(
        [
            f"05.ftcot.diverse>single@n={params['ftcot_paper']}",
            f"05.scott.faithful@p={params['scott_paper']:g}",
            f"05.socratic>cot@steps={params['socratic_paper']}",
            f"05.lion.hard>random@imitation={params['lion_paper']:g}",
        ]
    )
    per_seed = {(t, r["arm"]): r for t in ("finetune_cot", "scott", "socratic", "icl", "lion") for r in m["tables"][t]}
    for c in claims.values():
        t = c.get("miniature", "icl")
        key = "faithfulness per seed" if c["metric"] == "test faithfulness" else "accuracy per seed"
        better, worse = per_seed[(t, c["better"])][key], per_seed[(t, c["worse"])][key]
        assert c["n"] == len(params["headline_seeds"] if c.get("headline") else params["seeds"])
        assert c["values"] == pytest.approx([b - w for b, w in zip(better, worse)], abs=2e-3)
        assert c["holds"] == (c["ci95"][0] > 0)
    assert set(m["where_it_holds"]) == {c["base_id"] for c in claims.values() if "base_id" in c}
    # the data each arm saw: k paths give more kept paths than one; the SCOTT filter drops the disagreeing ones
    ft = {r["arm"]: r for r in m["tables"]["finetune_cot_data"]}
    n0 = params["ftcot_n_train"][0]
    assert ft[f"k=4 (T=1) · n={n0}"]["kept"] > ft[f"k=1 (greedy) · n={n0}"]["kept"]
    sc = {r["arm"]: r for r in m["tables"]["scott_data"]}
    dropped = [
        sc[f"unfiltered · p={v:g}"]["kept"] - sc[f"consistent only · p={v:g}"]["kept"] for v in params["scott_noise"]
    ]
    assert all(d > 0 for d in dropped)  # every swept rate > 0 gives the filter something to drop
    assert m["single_run"] and m["single_run"][0]["arm"].endswith(f"· n={params['ftcot_paper']}")
    # every run of the experiment layer: its curve over the steps; its untrained student scored once, on the first
    # seed, at the paper's knob value (Lion: one pool scored at each imitation length; ICL: not swept)
    tags = {
        "finetune_cot": f"n={params['ftcot_paper']:g}",
        "scott": f"p={params['scott_paper']:g}",
        "socratic": f"steps={params['socratic_paper']:g}",
    }
    for mini, runs in m["runs"].items():
        for r in runs:
            if mini != "lion":
                assert all(len(c) == params["max_steps"] for c in r["curves"].values()), (mini, r["arm"])
            at_paper = mini not in tags or r["arm"].endswith(f"· {tags[mini]}")  # icl: not swept
            assert bool(r["step0"]) == (r["seed"] == m["seeds"][0] and at_paper), (mini, r["arm"], r["seed"])
    # "does every arm learn?": every arm whose untrained student was scored, and only those
    assert {r["arm"] for r in m["learning"]} == {
        f"{t}: {r['arm']}" for t, rs in m["runs"].items() for r in rs if r["step0"]
    }


def test_05_rejects_an_unknown_method(run_notebook, tmp_path):
    pm = pytest.importorskip("papermill")
    with pytest.raises(pm.PapermillExecutionError, match="methods=\\['distil'\\]"):
        run_notebook("05_survey_map.ipynb", tmp_path, methods=["distil"])
