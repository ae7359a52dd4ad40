"""labkit.runs.batch (and runs.reproduce): grids, run ids, real papermill runs (a failing one among them), resume,
Ray, reproduce.

The notebooks executed here are small real notebooks written into tmp_path with nbformat (a parameters
cell, a cell that raises when asked to, a last cell calling lk.lab.metrics.write_metrics), run through
papermill in real kernels; the lab's own notebooks are used when present (smoke profile).
"""

import csv
import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from labkit.errors import LabkitError
from labkit.runs import batch, layout, reproduce

ROOT = Path(__file__).resolve().parents[2]

PARAMS_CELL = """\
profile: str = "smoke"  # smoke | default | paper
seed: int = 0  # random seed
interactive: bool = True  # widgets in a live kernel
out_dir: str = "out"  # where metrics.json goes
value: float = 0.5  # the toy metric
fail: bool = False  # raise in the second cell
"""
BODY_CELL = """\
import labkit as lk
if fail:
    raise RuntimeError(f"deliberate failure for the test (value={value})")
"""
# metrics.json as lk.lab.metrics.write_metrics writes it (without importing torch for "versions": seconds)
LAST_CELL = """\
import json, pathlib
pathlib.Path(out_dir).mkdir(parents=True, exist_ok=True)
doc = {"notebook": "toy", "parameters": dict(profile=profile, seed=seed, value=value),
       "metrics": {"acc": value + 0.1 * seed, "tables": {"sweep": [{"k": "a", "acc": value}]}},
       "timings": {"total": 0.0}, "versions": {}}
(pathlib.Path(out_dir) / "metrics.json").write_text(json.dumps(doc))
"""


def write_notebook(path: Path) -> Path:
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell(PARAMS_CELL)
    params.metadata["tags"] = ["parameters"]
    nb.cells = [
        nbformat.v4.new_markdown_cell("# toy"),
        params,
        nbformat.v4.new_code_cell(BODY_CELL),
        nbformat.v4.new_code_cell(LAST_CELL),
    ]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, str(path))
    return path


@pytest.fixture()
def toy(tmp_path):
    return write_notebook(tmp_path / "07_toy.ipynb")


def toy_grid(nb: Path, **extra) -> dict:
    return {
        "notebook": str(nb),
        "profile": "smoke",
        "seeds": [0],
        "variants": [
            {"label": "low", "value": 0.25},
            {"label": "high", "value": 0.75},
            {"label": "broken", "value": 0.5, "fail": True},
        ],
        **extra,
    }


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


# --------------------------------------------------------------------------- pure parts


def test_run_ids_are_readable_sanitized_and_hashed_when_long():
    assert (
        batch.make_run_id({"alpha": 0.5, "teachers": ["oracle", "noisy-oracle"]}, 1)
        == "alpha=0.5,teachers=oracle+noisy-oracle,seed=1"
    )
    assert batch.make_run_id({"dataset": "tinyllm:arc", "path": "a/b c"}, 0) == "dataset=tinyllm-arc,path=a_b_c,seed=0"
    assert batch.make_run_id({}, 3) == "seed=3"
    long = {"teachers": [f"teacher-number-{i}" for i in range(12)]}
    rid = batch.make_run_id(long, 0)
    assert len(rid) == layout.MAX_RUN_ID and rid.startswith("teachers=teacher-number-0+")
    assert rid == batch.make_run_id(long, 0) != batch.make_run_id(long, 1)


def test_grid_expansion_order_layout_and_profile_overrides(toy, tmp_path):
    doc = {
        "notebook": str(toy),
        "parameters": {"fail": False},
        "axes": {"value": [0.1, 0.2, 0.3]},
        "seeds": [0, 1],
        "resources": {"gpus": 1},
        "profiles": {"smoke": {"axes": {"value": [0.1]}, "seeds": [5]}},
    }
    grid = batch.parse_grid(doc, profile="paper")
    runs = batch.expand_grid(grid, tmp_path / "out")
    assert [r.run_id for r in runs][:3] == [
        "value=0.1,fail=false,seed=0",
        "value=0.1,fail=false,seed=1",
        "value=0.2,fail=false,seed=0",
    ]
    assert len(runs) == 6 and all(r.gpus == 1.0 for r in runs)
    r = runs[0]
    assert Path(r.out_dir) == (tmp_path / "out" / "07_toy" / r.run_id).resolve()
    assert r.parameters == {
        "fail": False,
        "value": 0.1,
        "profile": "paper",
        "seed": 0,
        "interactive": False,
        "out_dir": r.out_dir,
    }
    smoke = batch.expand_grid(batch.parse_grid(doc, profile="smoke"), tmp_path / "out")
    assert [(s.parameters["value"], s.seed, s.parameters["profile"]) for s in smoke] == [(0.1, 5, "smoke")]


def test_grid_errors_name_the_file_and_parameter(toy, tmp_path):
    with pytest.raises(LabkitError, match=r"\['lr'\] are not in the parameters cell of 07_toy.ipynb"):
        batch.parse_grid({"notebook": str(toy), "axes": {"lr": [1, 2]}})
    with pytest.raises(LabkitError, match="set by the runner"):
        batch.parse_grid({"notebook": str(toy), "parameters": {"seed": 1}})
    with pytest.raises(LabkitError, match="axes.value: expected a non-empty list"):
        batch.parse_grid({"notebook": str(toy), "axes": {"value": 0.5}})
    with pytest.raises(LabkitError, match="unknown key"):
        batch.parse_grid({"notebook": str(toy), "axis": {"value": [1]}})
    bad = tmp_path / "bad.yaml"
    bad.write_text("# labkit batch bad.yaml\nnotebook: nope.ipynb\n")
    with pytest.raises(LabkitError, match="notebook 'nope.ipynb' not found"):
        batch.load_grid(bad)


def test_metrics_complete_checks_keys_and_profile(tmp_path):
    def write_metrics(d, nb, params, metrics, timings):
        doc = {"notebook": nb, "parameters": params, "metrics": metrics, "timings": timings, "versions": {}}
        (d / "metrics.json").write_text(json.dumps(doc))

    assert not batch.metrics_complete(tmp_path)
    (tmp_path / "metrics.json").write_text('{"notebook": "x", "parameters": {}')  # cut short
    assert not batch.metrics_complete(tmp_path)
    write_metrics(tmp_path, "x", {"profile": "smoke", "seed": 0}, {"acc": 1.0}, {})
    assert batch.metrics_complete(tmp_path)
    assert batch.metrics_complete(tmp_path, {"profile": "smoke", "seed": 0})
    assert not batch.metrics_complete(tmp_path, {"profile": "default", "seed": 0})


def test_every_grid_file_starts_with_its_command_and_validates():
    files = sorted(batch.GRIDS_DIR.glob("*.yaml"))
    assert files, "notebooks/grids/ holds no grid files"
    for path in files:
        first = path.read_text().splitlines()[0]
        assert first.startswith("# labkit ") and path.name in first or first.startswith("# labkit reproduce"), (
            f"{path.name}: first line must be the exact command, got {first!r}"
        )
        if path.stem.startswith("reproduce_"):
            plan = batch.load_plan(path.stem.removeprefix("reproduce_"))
            assert f"--profile {path.stem.removeprefix('reproduce_')}" in first
            for g in plan["grids"]:
                assert (batch.GRIDS_DIR / g).is_file(), f"{path.name} names a missing grid {g}"
            continue
        import yaml

        doc = yaml.safe_load(path.read_text())
        try:
            nb = batch.resolve_notebook(doc["notebook"])
        except LabkitError:
            continue  # notebook not written yet
        for profile in batch.PROFILES:
            grid = batch.load_grid(path, profile=profile)  # parameters exist in the notebook
            assert grid.notebook == nb and batch.expand_grid(grid, "runs/x")


# --------------------------------------------------------------------------- real papermill runs


def test_failure_is_isolated_recorded_then_resume_skips_and_redoes(toy, tmp_path, capsys):
    out = tmp_path / "runs"
    res = reproduce.run_grid(toy_grid(toy), out, jobs=2, progress=False)
    assert (res.ok, len(res.failed), res.skipped, res.exit_code) == (2, 1, 0, 1)

    rows = {r["label"]: r for r in read_csv(out / "results.csv")}
    assert set(rows) == {"low", "high", "broken"}
    assert rows["low"]["status"] == rows["high"]["status"] == "ok"
    assert float(rows["low"]["metric.acc"]) == 0.25 and float(rows["high"]["metric.acc"]) == 0.75
    assert rows["broken"]["status"] == "failed" and rows["broken"]["metric.acc"] == ""
    assert rows["broken"]["error"] == "RuntimeError: deliberate failure for the test (value=0.5)"
    assert json.loads(rows["low"]["parameters"]) == {"profile": "smoke", "seed": 0, "value": 0.25}
    broken_dir = out / "07_toy" / "value=0.5,fail=true,seed=0"
    record = json.loads((broken_dir / "run.json").read_text())
    assert "raise RuntimeError" in record["error_cell"] and "deliberate failure" in record["traceback"]
    assert (broken_dir / "output.ipynb").is_file()  # papermill kept the executed notebook with its error
    report = (out / "report.md").read_text()
    assert "## Failed runs" in report and "raise RuntimeError" in report and "1/1 ok" in report
    text = capsys.readouterr().out
    assert "3 runs: 2 ok, 1 failed, 0 skipped" in text

    # interrupt "high": output written, metrics.json not (as if killed mid-run); keep "low" as finished
    low_dir = out / "07_toy" / "value=0.25,seed=0"
    high_dir = out / "07_toy" / "value=0.75,seed=0"
    (high_dir / "metrics.json").unlink()
    low_mtime = (low_dir / "metrics.json").stat().st_mtime_ns
    res2 = reproduce.run_grid(toy_grid(toy), out, jobs=1, progress=False)
    assert (res2.skipped, res2.ok, len(res2.failed)) == (1, 1, 1)
    assert (low_dir / "metrics.json").stat().st_mtime_ns == low_mtime  # not redone
    assert json.loads((high_dir / "metrics.json").read_text())["metrics"]["acc"] == 0.75  # redone
    assert "skipping 1 of 3 runs already complete" in capsys.readouterr().out
    assert len(read_csv(out / "results.csv")) == 3


def test_cli_batch_and_report(toy, tmp_path):
    grid = tmp_path / "toy_grid.yaml"
    grid.write_text(
        f"# labkit batch {grid} --out {tmp_path / 'cli'}\n"
        f"notebook: {toy.name}\nprofile: smoke\naxes:\n  value: [0.5]\nseeds: [2]\n"
    )
    cmd = [sys.executable, "-m", "labkit.cli"]
    p = subprocess.run(cmd + ["batch", str(grid), "--out", str(tmp_path / "cli")], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert "1 runs: 1 ok, 0 failed, 0 skipped" in p.stdout
    rows = read_csv(tmp_path / "cli" / "results.csv")
    assert [(r["run_id"], r["seed"], float(r["metric.acc"])) for r in rows] == [("value=0.5,seed=2", "2", 0.7)]
    p = subprocess.run(cmd + ["report", str(tmp_path / "cli")], capture_output=True, text=True)
    assert p.returncode == 0 and (tmp_path / "cli" / "report.html").is_file()
    p = subprocess.run(cmd + ["batch", str(tmp_path / "missing.yaml")], capture_output=True, text=True)
    assert p.returncode == 2 and "missing.yaml not found" in p.stderr and "Traceback" not in p.stderr


@pytest.mark.slow
def test_ray_executor_on_a_local_instance(toy, tmp_path):
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, object_store_memory=80 * 1024**2, log_to_driver=False)
    try:
        res = reproduce.run_grid(toy_grid(toy, seeds=[0]), tmp_path / "ray", executor="ray", progress=False)
    finally:
        ray.shutdown()
    assert (res.ok, len(res.failed)) == (2, 1)
    rows = {r["label"]: r for r in read_csv(tmp_path / "ray" / "results.csv")}
    assert float(rows["high"]["metric.acc"]) == 0.75 and rows["broken"]["status"] == "failed"
    assert "deliberate failure" in rows["broken"]["error"]


# --------------------------------------------------------------------------- the lab's own notebooks


@pytest.mark.slow
def test_reproduce_smoke_on_the_mode_seeking_notebook(tmp_path):
    if not (batch.NOTEBOOKS_DIR / "00_kl_mode_seeking.ipynb").is_file():
        pytest.skip("notebooks/00_kl_mode_seeking.ipynb not written yet")
    runs = batch.plan_runs("smoke", tmp_path, only=["00_kl_mode_seeking"])
    assert [r.run_id for r in runs] == ["seed=0"]
    res = reproduce.reproduce("smoke", tmp_path, only=["00_kl_mode_seeking"], progress=False)
    assert res.exit_code == 0, res.failed
    run_dir = tmp_path / "00_kl_mode_seeking" / "seed=0"
    doc = json.loads((run_dir / "metrics.json").read_text())
    assert doc["parameters"]["profile"] == "smoke" and (run_dir / "output.ipynb").is_file()
    report = (tmp_path / "report.md").read_text()
    assert "## 00_kl_mode_seeking" in report and "Bishop" in report


def test_a_kernel_that_dies_at_start_is_started_again_and_a_notebook_error_is_not(tmp_path, monkeypatch):
    import papermill

    calls = []

    def flaky(path, output, parameters=None, **kw):
        calls.append(parameters["value"])
        if len(calls) == 1:  # jupyter_client's port race: the kernel dies before it answers
            raise RuntimeError("Kernel died before replying to kernel_info")
        if parameters["value"] == "bad":
            raise ValueError("a real failure")
        (Path(output).parent / "metrics.json").write_text(
            json.dumps({"notebook": "x", "parameters": parameters, "metrics": {}, "timings": {}, "versions": {}})
        )

    monkeypatch.setattr(batch.time, "sleep", lambda s: None)
    monkeypatch.setattr(papermill, "execute_notebook", flaky)
    run = {"notebook_path": str(tmp_path / "nb.ipynb"), "out_dir": str(tmp_path / "a"), "parameters": {"value": 1}}
    rec = batch.execute_run(run)
    assert rec["status"] == "ok" and rec["kernel_start_retries"] == 1 and calls == [1, 1]
    calls.clear()
    rec = batch.execute_run({**run, "out_dir": str(tmp_path / "b"), "parameters": {"value": "bad"}})
    assert rec["status"] == "failed" and rec["error"] == "ValueError: a real failure" and calls == ["bad", "bad"]
    assert batch.kernel_start_failed("RuntimeError: x", "zmq.error.ZMQError: Address already in use")
    assert not batch.kernel_start_failed("ValueError: a real failure", "Traceback ...")


def test_reproduce_real_plans_notebooks_01_and_02_at_the_real_profile(tmp_path):
    runs = batch.plan_runs("real", tmp_path)
    assert [(r.notebook, r.parameters["profile"]) for r in runs] == [
        ("01_distilling_step_by_step", "real"),
        ("02_tinyllm_multi_teacher", "real"),
    ]
    assert all(r.timeout == 3600 for r in runs)  # per cell: the students' cell runs ≈ 30 min
    from labkit.lab import profiles

    dss, tinyllm = profiles.resolve("real", profiles.DSS), profiles.resolve("real", profiles.TINYLLM)
    assert (dss["dataset"], dss["teacher"], len(dss["seeds"])) == ("dss:cqa", "palm-540b", 3)
    assert (tinyllm["dataset"], tinyllm["teachers"]) == ("tinyllm:obqa", ["flan-t5-xl", "llama2-7b-chat"])
    assert dss["student"] == tinyllm["student"] == "smollm2-135m-instruct"
    with pytest.raises(LabkitError, match="no 'real' settings"):
        profiles.resolve("real", profiles.WHITEBOX)
