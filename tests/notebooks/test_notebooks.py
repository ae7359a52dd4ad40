"""Notebooks 00-02 run headless through papermill (profile="smoke", interactive=False) and write
metrics whose values say the method did what it should; a wrong parameter fails in the check cell."""

import json
from pathlib import Path

import pytest

pm = pytest.importorskip("papermill")

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


@pytest.fixture
def run(run_notebook):
    """run(name, out, **params): the shared papermill runner plus the checks every notebook 00-02 passes."""
    return lambda name, out, **params: _checked(run_notebook(name, out, **params), out)


def _checked(doc, out):
    assert doc["parameters"]["profile"] == "smoke"
    assert set(doc["versions"]) >= {"python", "torch", "transformers", "labkit"}
    for fig in doc["metrics"]["figures"]:
        assert (out / fig).stat().st_size > 5000, fig
    return doc


def test_notebooks_have_a_tagged_parameters_cell_and_no_outputs():
    nbformat = pytest.importorskip("nbformat")
    for name in ("00_kl_mode_seeking.ipynb", "01_distilling_step_by_step.ipynb", "02_tinyllm_multi_teacher.ipynb"):
        nb = nbformat.read(NOTEBOOKS / name, as_version=4)
        tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
        assert len(tagged) == 1, name
        assert all(not c.get("outputs") and c.get("execution_count") is None for c in nb.cells if c.cell_type == "code")
        params = pm.inspect_notebook(str(NOTEBOOKS / name))
        assert {"profile", "seed", "interactive", "out_dir"} <= set(params), name
        assert all(p["help"] for p in params.values()), name


@pytest.mark.slow
def test_00_mode_seeking(run, tmp_path):
    m = run("00_kl_mode_seeking.ipynb", tmp_path)["metrics"]
    seq = m["sequences"]
    assert seq["reverse_kl"]["void_mass"] < 0.5 * seq["forward_kl"]["void_mass"]
    assert seq["forward_kl"]["modes_covered"] >= seq["reverse_kl"]["modes_covered"]
    assert seq["forward_kl"]["modes_covered"] == 3 and seq["reverse_kl"]["modes_covered"] == 1
    assert seq["reverse_kl"]["reverse_kl"] < seq["forward_kl"]["reverse_kl"]
    tok = m["next_token"]
    assert tok["reverse_kl"]["void_mass"] < tok["forward_kl"]["void_mass"]
    assert tok["forward_kl"]["modes_covered"] >= tok["reverse_kl"]["modes_covered"]
    # scene 1: separation 5, weight 0.7 -> moment matching μ = -1, σ = 2.5; reverse KL sits on the mode at -2.5
    g = m["gaussian"]
    assert m["gaussian_closed_form"]["mu"] == pytest.approx(-1.0) and m["gaussian_closed_form"][
        "sigma"
    ] == pytest.approx(2.5)
    assert g["forward_kl"]["mu"] == pytest.approx(-1.0, abs=1e-2) and g["forward_kl"]["sigma"] == pytest.approx(
        2.5, abs=1e-2
    )
    assert g["reverse_kl"]["mu"] == pytest.approx(-2.5, abs=0.1)
    path = m["tables"]["gaussian_beta_path"]
    assert path[0]["mu"] == pytest.approx(g["forward_kl"]["mu"], abs=1e-3)
    assert path[-1]["mu"] == pytest.approx(g["reverse_kl"]["mu"], abs=1e-3)
    # scene 4: the claims over seeds, in the schema of docs/methods.md §9, each effect recomputed from per_seed
    claims = {c["id"]: c for c in m["claims"]}
    assert set(claims) == {"00.void_mass", "00.modes"} and all(c["n"] == 3 and c["holds"] for c in claims.values())
    per = m["per_seed"]
    assert claims["00.void_mass"]["values"] == pytest.approx(
        [per[s]["forward KL"]["void_mass"] - per[s]["reverse KL"]["void_mass"] for s in sorted(per)]
    )
    # scene 5: stored teacher signals; top-k + tail is biased low and converges, sampled scatters around the exact loss
    errors = m["tables"]["signal_errors"]
    topk = [r for r in errors if r["estimator"] == "top-k + tail"]
    assert all(r["loss"] <= r["exact_loss"] * (1 + 1e-5) for r in topk)  # (k = V at smoke: exact)
    assert [r["loss_rel_err"] for r in topk] == sorted((r["loss_rel_err"] for r in topk), reverse=True)
    sampled = [r for r in errors if r["estimator"] == "sampled"]  # (unbiasedness itself: tests/core/test_signals.py)
    assert [r["grad_rel_err"] for r in sampled] == sorted((r["grad_rel_err"] for r in sampled), reverse=True)
    assert claims["00.void_mass"]["headline"] is True and "headline" not in claims["00.modes"]
    # scene 6: the top-k-only reverse KL pushes a perfect student's mass out of the top k; the tail bin does not
    t = m["topk_reverse_kl"]
    assert t["top-k only"] == pytest.approx(t["truncated_optimum"], abs=2e-3) and t["top-k only"] > t["teacher"] + 0.1
    assert t["top-k + tail"] == pytest.approx(t["teacher"], abs=1e-5)


CLAIM_KEYS = {"id", "claim", "metric", "better", "worse", "values", "mean", "ci95", "holds", "n"}


def _check_claims(claims, ids, n_seeds):
    assert {c["id"] for c in claims} >= set(ids)
    for c in claims:
        assert set(c) >= CLAIM_KEYS
        assert c["ci95"][0] <= c["mean"] <= c["ci95"][1]
        assert c["holds"] == (c["ci95"][0] > 0)
        assert c["mean"] == pytest.approx(sum(c["values"]) / len(c["values"]))
    assert all(len(c["values"]) == n_seeds for c in claims if c["id"] in ids and c["id"] != "teacher-forced>cot")


@pytest.mark.slow
def test_01_distilling_step_by_step(run, tmp_path):
    doc = run("01_distilling_step_by_step.ipynb", tmp_path)
    m = doc["metrics"]
    main = {"fine-tuning", "distillation", "step-by-step", "step-by-step (gold labels)"}
    assert set(m["accuracy"]) == main | {"fine-tuning @0.5", "step-by-step (gold labels) @0.5"}
    assert all(0.0 <= a <= 1.0 for a in list(m["accuracy"].values()) + list(m["step0_accuracy"].values()))
    assert m["seeds"] == [0, 1] and m["chance"] == pytest.approx(0.25)
    # noisy-oracle@p=0.2 is wrong on roughly a fifth of the 48 training questions
    assert 0.6 <= m["teacher_accuracy"] <= 0.95
    runs = m["runs"]
    assert len(runs) == 6 * 2 and {(r["arm"], r["seed"]) for r in runs} == {
        (a, s) for a in m["accuracy"] for s in (0, 1)
    }
    assert {r["extra"]["n_train"] for r in runs if r["extra"]["fraction"] == 0.5} == {24}
    # the same seed starts every arm from the same untrained student
    for s in (0, 1):
        assert len({r["step0"]["test"]["accuracy"] for r in runs if r["seed"] == s}) == 1
    loss = {(r["arm"], r["seed"]): r["extra"]["final_loss"] for r in runs}
    # L = L_label + λ·L_rationale: the step-by-step loss carries the rationale term on top
    assert loss[("step-by-step", 0)] > loss[("distillation", 0)]
    _check_claims(m["claims"], {"dss>ft", "dss>kd", "dss@less-data>ft@all", "student>teacher"}, 2)
    st = next(c for c in m["claims"] if c["id"] == "student>teacher")
    per_seed = {r["seed"]: r["metrics"]["test"]["accuracy"] for r in runs if r["arm"] == "step-by-step"}
    assert st["values"] == pytest.approx([per_seed[s] - m["teacher_accuracy"] for s in (0, 1)])
    assert set(m["figures"]) == {"arms.png", "data_size_sweep.png", "losses.png"}


@pytest.mark.slow
def test_02_tinyllm(run, tmp_path):
    m = run("02_tinyllm_multi_teacher.ipynb", tmp_path)["metrics"]
    T1, T2 = "noisy-oracle@p=0.2", "oracle@style=terse"
    assert set(m["accuracy"]) == {"TinyLLM (full)", f"w/o {T1}", f"w/o {T2}", "label only (fine-tuning)"}
    assert all(0.0 <= a <= 1.0 for a in m["accuracy"].values())
    assert set(m["alpha_sensitivity"]) == {"0", "0.1", "1", "3"}
    # scripted teachers: w/o in-context is reported as not applicable, never trained or copied
    assert [r["arm"] for r in m["not_applicable"]] == ["w/o in-context"]
    assert not any(r["arm"] == "w/o in-context" for r in m["runs"])
    assert m["teacher_consistency"][T2] == 1.0  # the oracle explains the gold answer
    assert 0.6 <= m["teacher_consistency"][T1] <= 0.95  # the noisy one is wrong on about a fifth
    tf = m["teacher_forcing"]
    assert tf["teacher"] == "tiny" and tf["n"] == 4 and 0.0 <= tf["cot"] <= 1.0
    runs = {(r["arm"], r["seed"]) for r in m["runs"]}
    assert {("TinyLLM (full)", s) for s in (0, 1)} <= runs and {("α=3", s) for s in (0, 1)} <= runs
    _check_claims(
        m["claims"],
        {"full>label-only", f"full>w/o {T1}", f"full>w/o {T2}", "teacher-forced>cot", "alpha 1>0.1", "alpha 1>3"},
        2,
    )
    assert set(m["figures"]) == {"ablations.png", "alpha_sensitivity.png"}


@pytest.mark.slow
@pytest.mark.parametrize(
    "name,params,word",
    [
        ("00_kl_mode_seeking.ipynb", {"beta": 1.5}, "beta"),
        ("01_distilling_step_by_step.ipynb", {"dataset": "synthetic:nope"}, "dataset"),
        ("02_tinyllm_multi_teacher.ipynb", {"teachers": ["oracle", "no-such-teacher"]}, "teachers"),
        ("01_distilling_step_by_step.ipynb", {"seeds": [0, 0]}, "seeds"),
        ("02_tinyllm_multi_teacher.ipynb", {"alphas": -0.5}, "alphas"),
    ],
)
def test_wrong_parameter_fails_in_the_check_cell(run, tmp_path, name, params, word):
    with pytest.raises(pm.PapermillExecutionError) as err:
        run(name, tmp_path, **params)
    assert "LabkitError" in err.value.ename or "LabkitError" in str(err.value)
    assert f"parameter {word}" in err.value.evalue
    assert not (tmp_path / "metrics.json").exists()
    # the failing cell is the one right after the injected parameters (no heavy work ran)
    nb = json.loads((tmp_path / "output.ipynb").read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    failed = [i for i, c in enumerate(code) if any(o.get("output_type") == "error" for o in c.get("outputs", []))]
    injected = [i for i, c in enumerate(code) if "injected-parameters" in c["metadata"].get("tags", [])]
    assert failed == [injected[0] + 1]


DATA = Path(__import__("os").environ.get("LABKIT_DATA") or Path(__file__).resolve().parents[3] / "shared" / "data")


@pytest.mark.slow
@pytest.mark.skipif(not (DATA / "dss" / "svamp").is_dir(), reason="real distilling-step-by-step data not present")
def test_01_on_real_svamp_palm_rationales(run, tmp_path):
    doc = run(
        "01_distilling_step_by_step.ipynb",
        tmp_path,
        dataset="dss:svamp",
        data_dir=str(DATA),
        n_train=16,
        n_test=8,
        max_steps=4,
        fractions=[1.0],
    )
    assert doc["parameters"]["teacher"] == "palm-540b"  # the recorded teacher is picked for dss:*
    m = doc["metrics"]
    assert m["n_train"] == 16 and m["n_test"] == 8
    assert 0.5 <= m["teacher_accuracy"] < 1.0  # PaLM's recorded SVAMP labels: right, mostly
    assert {r["extra"]["n_train"] for r in m["runs"]} == {16}


@pytest.mark.slow
@pytest.mark.skipif(
    not (DATA / "dss" / "cqa").is_dir() or not (DATA / "tinyllm" / "obqa").is_dir(),
    reason="real distilling-step-by-step / TinyLLM data not present",
)
def test_profile_real_runs_the_papers_data_with_the_recorded_teachers(run_notebook, tmp_path):
    """Notebooks 01/02 at profile "real" with the student swapped for a tiny scratch one (the real student is the
    embedded SmolLM2, not downloaded in tests) and 2 steps: the profile's datasets, teachers and claims."""
    small = dict(
        profile="real",
        data_dir=str(DATA),
        student="scratch@layers=1,hidden=32",
        max_steps=2,
        n_train=16,
        n_test=8,
        seeds=[0, 1],
    )  # two seeds give an interval; the profile's three: test_batch
    doc = run_notebook("01_distilling_step_by_step.ipynb", tmp_path / "01", **small)
    p, m = doc["parameters"], doc["metrics"]
    assert (p["dataset"], p["teacher"], p["student"]) == ("dss:cqa", "palm-540b", "scratch@layers=1,hidden=32")
    assert m["n_test"] == 8 and m["chance"] == pytest.approx(0.2) and 0.5 < m["teacher_accuracy"] < 1.0
    assert {c["id"] for c in m["claims"]} == {"dss>ft", "dss>kd", "dss@less-data>ft@all", "student>teacher"}
    assert all("profile 'real'" in text for text in m["claims_not_holding"].values())
    doc = run_notebook("02_tinyllm_multi_teacher.ipynb", tmp_path / "02", live_teacher="tiny", **small)
    p, m = doc["parameters"], doc["metrics"]
    assert (p["dataset"], p["teachers"]) == ("tinyllm:obqa", ["flan-t5-xl", "llama2-7b-chat"])
    assert m["chance"] == pytest.approx(0.25) and m["not_applicable"][0]["arm"] == "w/o in-context"
    assert {"full>label-only", "full>w/o flan-t5-xl", "full>w/o llama2-7b-chat"} <= {c["id"] for c in m["claims"]}
