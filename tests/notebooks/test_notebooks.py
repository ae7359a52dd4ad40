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
    assert m["gaussian_closed_form"]["mu"] == pytest.approx(-1.0) and m["gaussian_closed_form"]["sigma"] == pytest.approx(2.5)
    assert g["forward_kl"]["mu"] == pytest.approx(-1.0, abs=1e-2) and g["forward_kl"]["sigma"] == pytest.approx(2.5, abs=1e-2)
    assert g["reverse_kl"]["mu"] == pytest.approx(-2.5, abs=0.1)
    path = m["tables"]["gaussian_beta_path"]
    assert path[0]["mu"] == pytest.approx(g["forward_kl"]["mu"], abs=1e-3)
    assert path[-1]["mu"] == pytest.approx(g["reverse_kl"]["mu"], abs=1e-3)
    # scene 4: the claims over seeds, in the schema of docs/methods.md §9, each effect recomputed from per_seed
    claims = {c["id"]: c for c in m["claims"]}
    assert set(claims) == {"00.void_mass", "00.modes"} and all(c["n"] == 3 and c["holds"] for c in claims.values())
    per = m["per_seed"]
    assert claims["00.void_mass"]["values"] == pytest.approx(
        [per[s]["forward KL"]["void_mass"] - per[s]["reverse KL"]["void_mass"] for s in sorted(per)])


@pytest.mark.slow
def test_01_distilling_step_by_step(run, tmp_path):
    doc = run("01_distilling_step_by_step.ipynb", tmp_path)
    m = doc["metrics"]
    assert set(m["accuracy"]) == {"fine-tuning", "distillation", "step-by-step"}
    assert all(0.0 <= a <= 1.0 for a in m["accuracy"].values())
    # noisy-oracle@p=0.2 is wrong on roughly a fifth of the 48 training questions
    assert 0.6 <= m["teacher_accuracy"] <= 0.95
    rows = m["tables"]["data_size"]
    assert sorted({(r["fraction"], r["n_train"]) for r in rows}) == [(0.5, 24), (1.0, 48)]
    assert len(rows) == 6
    loss = {(r["fraction"], r["method"]): r["final_loss"] for r in rows}
    # L = L_label + λ·L_rationale: the step-by-step loss carries the (long) rationale term on top
    assert loss[(1.0, "step-by-step")] > loss[(1.0, "distillation")]


@pytest.mark.slow
def test_02_tinyllm(run, tmp_path):
    m = run("02_tinyllm_multi_teacher.ipynb", tmp_path)["metrics"]
    assert set(m["accuracy"]) == {"TinyLLM (full)", "w/o in-context", "w/o oracle", "w/o tiny", "label only (fine-tuning)"}
    assert all(0.0 <= a <= 1.0 for a in m["accuracy"].values())
    assert set(m["alpha_sensitivity"]) == {"0.1", "1.0", "3.0"}
    assert m["teacher_consistency"]["oracle"] == 1.0        # the oracle explains the gold answer
    assert m["teacher_consistency"]["tiny"] < 0.5           # a random-init tiny LM does not
    stats = m["rationale_stats"]
    assert stats["oracle"]["generated"] == 32 and stats["tiny"]["failed"] == 0
    ablations = {r["variant"]: r for r in m["tables"]["ablations"]}
    assert ablations["w/o oracle"]["teachers"] == ["tiny"] and ablations["label only (fine-tuning)"]["teachers"] == []


@pytest.mark.slow
@pytest.mark.parametrize("name,params,word", [
    ("00_kl_mode_seeking.ipynb", {"beta": 1.5}, "beta"),
    ("01_distilling_step_by_step.ipynb", {"dataset": "synthetic:nope"}, "dataset"),
    ("02_tinyllm_multi_teacher.ipynb", {"teachers": ["oracle", "no-such-teacher"]}, "teachers"),
    ("02_tinyllm_multi_teacher.ipynb", {"alphas": -0.5}, "alphas"),
])
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
    doc = run("01_distilling_step_by_step.ipynb", tmp_path, dataset="dss:svamp", data_dir=str(DATA), n_train=16,
              n_test=8, max_steps=4, fractions=[1.0])
    assert doc["parameters"]["teacher"] == "palm-540b"          # the recorded teacher is picked for dss:*
    m = doc["metrics"]
    assert m["n_train"] == 16 and m["n_test"] == 8
    assert 0.5 <= m["teacher_accuracy"] < 1.0                 # PaLM's recorded SVAMP labels: right, mostly
    assert {r["n_train"] for r in m["tables"]["data_size"]} == {16}
