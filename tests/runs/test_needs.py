"""labkit.runs.needs: a batch says what data its runs need before the first one starts.

No notebook runs here: the plans are the lab's own (notebooks/grids/reproduce_*.yaml and the paper grids),
expanded as `labkit reproduce` expands them; the data folders are written into tmp_path (a dataset is found
by its `<name>_<split>.json` files, as labkit.data finds it).
"""

import json
from pathlib import Path

import pytest

from labkit import cli, tiny
from labkit.errors import LabkitError
from labkit.runs import batch, needs, reproduce

PAPER_DATA = ("tinyllm:", "dss:")


@pytest.fixture()
def no_data(tmp_path, monkeypatch):
    """An empty $LABKIT_HOME, no $LABKIT_DATA and no dry run in force; returns where data would be fetched to."""
    monkeypatch.setenv("LABKIT_HOME", str(tmp_path / "home"))
    for name in ("LABKIT_DATA", tiny.DRY_RUN_ENV, tiny.DRY_RUN_CACHE_ENV):
        monkeypatch.delenv(name, raising=False)  # restored after the test, whatever the dry run sets
    return tmp_path / "home" / "data"


def write_data(root: Path, *datasets: str) -> Path:
    """A data folder holding the question files of each `family:name` (what labkit.data looks for)."""
    for ds in datasets:
        family, name = ds.split(":")
        folder = root / family / name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{name}_train.json").write_text("[]")
    return root


def test_real_profile_without_data_stops_before_any_run(no_data, tmp_path):
    out = tmp_path / "out"
    with pytest.raises(LabkitError) as err:
        reproduce.reproduce("real", out, progress=False)
    msg = str(err.value)
    assert "2 of 2 runs need the papers' data" in msg
    assert str(no_data) in msg  # the folder it looked in
    assert "`labkit data fetch tinyllm dss`" in msg  # the command that provides it
    assert "notebooks 01, 02 at profile real" in msg
    assert msg.count("need the papers' data") == 1  # said once, not per run
    assert not out.exists() or not list(out.rglob("run.json"))  # nothing ran, nothing written


def test_paper_dry_run_names_every_run_that_reads_the_papers_files(no_data, tmp_path, capsys):
    out = tmp_path / "out"
    code = cli.main(["reproduce", "--profile", "paper", "--dry-run", "--out", str(out)])
    err = capsys.readouterr().err
    runs = batch.plan_runs("paper", out, dry_run=True)
    reading = [r for r in runs if needs.run_dataset(r).startswith(PAPER_DATA)]
    assert {r.notebook[:2] for r in reading} == {"01", "02", "07"} and len(reading) < len(runs)
    assert code == 2
    assert f"{len(reading)} of {len(runs)} runs need the papers' data" in err
    assert "`labkit data fetch tinyllm dss`" in err and str(no_data) in err
    assert not list(out.rglob("run.json"))


def test_plan_with_the_data_passes_the_check(no_data, tmp_path, monkeypatch):
    data_dir = write_data(tmp_path / "data", "tinyllm:obqa", "tinyllm:arc", "dss:cqa", "dss:svamp")
    monkeypatch.setenv("LABKIT_DATA", str(data_dir))
    runs = batch.plan_runs("paper", tmp_path / "out", dry_run=True) + batch.plan_runs("real", tmp_path / "out")
    assert any(needs.reads_paper_data(r) for r in runs)
    assert needs.missing_data(runs) == []
    needs.check_data(runs)


def test_data_dir_given_but_empty_is_named_with_its_fetch_destination(no_data, tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert cli.main(["reproduce", "--profile", "real", "--out", str(tmp_path / "out"), "--data-dir", str(empty)]) == 2
    assert f"`labkit data fetch tinyllm dss --dest {empty}`" in capsys.readouterr().err


def test_only_the_missing_release_is_named_with_the_folder_given(no_data, tmp_path):
    data_dir = write_data(tmp_path / "mine", "tinyllm:obqa")  # TinyLLM's files, not step-by-step's
    runs = batch.plan_runs("real", tmp_path / "out")
    runs = [batch.Run(**{**r.__dict__, "parameters": {**r.parameters, "data_dir": str(data_dir)}}) for r in runs]
    missing = needs.missing_data(runs)
    assert [(m.folder, m.families, m.datasets) for m in missing] == [(data_dir, ["dss"], ["dss:cqa"])]
    assert [r.notebook for r in missing[0].runs] == ["01_distilling_step_by_step"]
    assert missing[0].fetch_command() == f"labkit data fetch dss --dest {data_dir}"


def test_synthetic_plans_and_finished_runs_need_nothing(no_data, tmp_path):
    assert needs.missing_data(batch.plan_runs("default", tmp_path / "default")) == []
    runs = batch.plan_runs("real", tmp_path / "real")
    finished = runs[0]
    Path(finished.out_dir).mkdir(parents=True)
    (Path(finished.out_dir) / "metrics.json").write_text(
        json.dumps({"notebook": finished.notebook, "parameters": finished.parameters, "metrics": {}})
    )
    assert [r.name for m in needs.missing_data(runs) for r in m.runs] == [r.name for r in runs[1:]]
    assert len(needs.missing_data(runs, redo=True)[0].runs) == len(runs)


def test_a_paper_grid_without_data_stops_too(no_data, tmp_path):
    with pytest.raises(LabkitError, match=r"(\d+) of \1 runs need the papers' data \(dss:cqa, dss:svamp\)"):
        reproduce.run_grid("dss_datasize.yaml", tmp_path / "out", profile="paper", report=False, progress=False)


def test_the_cli_help_says_what_is_checked(capsys):
    with pytest.raises(SystemExit):
        cli.main(["reproduce", "--help"])
    assert "nothing runs" in capsys.readouterr().out
