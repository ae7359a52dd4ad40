"""Notebook 06 (cross-tokenizer KD) runs headless through papermill at profile "smoke": its alignment counts add
up, the miniature's numbers are all merged chunks, every arm ran for every seed, the claims have one effect per
seed, and a wrong parameter fails in the check cell."""

from __future__ import annotations

import math

import pytest

NB = "06_cross_tokenizer.ipynb"


@pytest.fixture(scope="module")
def nb06(tmp_path_factory, run_notebook):
    out = tmp_path_factory.mktemp("nb06")
    return out, run_notebook(NB, out)


@pytest.mark.slow
def test_06_alignment_counts_add_up(nb06):
    out, doc = nb06
    assert doc["notebook"] == "06_cross_tokenizer" and doc["parameters"]["profile"] == "smoke"
    counts = doc["metrics"]["alignment"]
    assert counts
    for source, c in counts.items():
        for side in ("teacher", "student"):
            assert c[side]["exact"] + c[side]["merged"] + c[side]["unmatched"] == c[side]["tokens"] > 0, source
        assert c["chunks"]["exact"] + c["chunks"]["merged"] > 0
        # an exact chunk is one token on each side: the exact counts of both sides and of the chunks agree
        assert c["teacher"]["exact"] == c["student"]["exact"] == c["chunks"]["exact"], source
    task = next(c for s, c in counts.items() if "task test solutions" in s)
    # whole numbers vs digits: every chunk holding a digit is merged, and each is one unmatched teacher token
    assert task["digit_chunks"]["exact"] == 0 and task["digit_chunks"]["merged"] == task["chunks"]["merged"] > 0
    assert task["teacher"]["unmatched"] == task["chunks"]["merged"]
    assert task["student"]["tokens"] > task["teacher"]["tokens"]
    if doc["metrics"]["real_pair"]:
        real = [c for s, c in counts.items() if s.startswith("Gemma-3 vs SmolLM2")]
        assert real and all(c["digit_chunks"]["merged"] == 0 for c in real)  # both split digits
    assert (out / "alignment.png").stat().st_size > 5000


@pytest.mark.slow
def test_06_arms_over_seeds_and_claims(nb06):
    out, doc = nb06
    m, p = doc["metrics"], doc["parameters"]
    seeds, arms = p["seeds"], p["arms"]
    assert len(seeds) >= 3 and set(arms) == {"sft", "uld", "hybrid", "same-tok KD"}
    got = {(r["arm"], r["seed"]) for r in m["runs"]}
    assert got == {(a, s) for a in [*arms, "student (init)"] for s in seeds}
    for r in m["runs"]:
        f = r["metrics"]["test"]
        assert 0.0 <= f["accuracy"] <= 1.0
        assert math.isfinite(f["digit_logprob"]) and f["digit_logprob"] < 0
        assert math.isfinite(f["other_logprob"]) and f["other_logprob"] < 0
    init = [r["metrics"] for r in m["runs"] if r["arm"] == "student (init)"]
    assert all(f == init[0] for f in init)  # one init, scored once, the same for every seed
    kd = next(r["curves"] for r in m["runs"] if (r["arm"], r["seed"]) == ("uld", seeds[0]))
    assert len(kd["loss/kd"]) == p["max_steps"] and all(v >= 0 for _, v in kd["loss/kd"])
    rows = m["chunk_terms"]  # one solution, chunk by chunk: numbers are merged
    assert rows and all(r["kind"] == "merged" for r in rows if any(ch.isdigit() for ch in r["chunk"]))
    assert all(r["ULD term"] >= 0 and r["hybrid term"] >= 0 for r in rows)
    C = {c["id"]: c for c in m["claims"]}
    cuts = [c["cut"] for c in m["cut_sweep"]]
    assert cuts[0] == "1:1" and {"1:2", "1:3"} <= set(cuts)  # words; one- and two-digit numbers
    assert {
        "hybrid>uld:cut_differently",
        "uld>sft:accuracy",
        "hybrid>uld:accuracy",
        "same-tok>hybrid:accuracy",
        "uld>sft:digit_logprob",
        "hybrid>uld:digit_logprob",
        "same-tok>hybrid:digit_logprob",
        *(f"hybrid>uld@cut={c}" for c in cuts),
    } == set(C)
    assert [c["id"] for c in m["claims"] if c.get("headline")] == ["hybrid>uld:cut_differently"]
    assert m["where_it_holds"].startswith("it holds")
    by = {(r["arm"], r["seed"]): r["metrics"]["test"] for r in m["runs"]}
    for c in C.values():
        metric = c["metric"]
        assert c["n"] == len(seeds) and len(c["values"]) == len(seeds)
        want = [by[(c["better"], s)][metric] - by[(c["worse"], s)][metric] for s in sorted(seeds)]
        assert c["values"] == pytest.approx(want)
        lo, hi = c["ci95"]
        assert lo <= c["mean"] <= hi and c["holds"] == (lo > 0)
    assert set(m["claims_not_holding"]) == {i for i, c in C.items() if not c["holds"]}
    assert "X-Token" in C["same-tok>hybrid:accuracy"]["claim"] and "2402.12030" in C["uld>sft:accuracy"]["claim"]
    assert set(m["figures"]) == {
        "alignment.png",
        "xtok_live.png",
        "xtok_arms.png",
        "xtok_losses.png",
        "xtok_cut_sweep.png",
    }
    assert all((out / f).stat().st_size > 5000 for f in m["figures"])


@pytest.mark.slow
def test_06_bad_parameter_fails_in_the_check_cell(tmp_path, run_notebook):
    pm = pytest.importorskip("papermill")
    with pytest.raises(pm.PapermillExecutionError, match="arms"):
        run_notebook(NB, tmp_path, arms=["sft", "kd"])
