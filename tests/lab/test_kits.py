"""labkit.lab.kits (`labkit kits build`): the kits a profile's notebooks read are built once into $LABKIT_HOME and
loaded by the notebooks' own loaders; the paper profile has none; a bad name fails before anything is built."""

from __future__ import annotations

import json

import pytest

from labkit.cli import main as cli
from labkit.errors import LabkitError
from labkit.lab import kits, task_teacher, xtok


def test_build_writes_the_kits_the_notebooks_then_load(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LABKIT_HOME", str(tmp_path))
    assert cli(["kits", "build", "--profile", "smoke"]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in printed] == ["task", "task", "xtok", "xtok"]  # what it does, then what it did
    assert "03_minillm_reverse_kl, 04_gkd_on_policy" in printed[0] and printed[3].split()[1] == "smoke"
    assert kits.used_by("xtok") == ["06_cross_tokenizer"]
    task_dir = tmp_path / "task_teachers" / task_teacher.recipe_hash(task_teacher.RECIPES["smoke"])
    xtok_dir = tmp_path / "xtok_kits" / xtok.recipe_hash(xtok.check_recipe(dict(xtok.RECIPES["smoke"])))
    for d in (task_dir, xtok_dir):
        assert json.loads((d / "manifest.json").read_text())["recipe"]
    # what notebooks 03/04 and 06 load is that cache: same paths, nothing rebuilt (the manifests' build stamps stay)
    stamps = {d: (d / "manifest.json").stat().st_mtime_ns for d in (task_dir, xtok_dir)}
    assert task_teacher.task_kit("smoke").path == task_dir
    assert xtok.xtok_kit("smoke").path == xtok_dir
    assert {d: (d / "manifest.json").stat().st_mtime_ns for d in stamps} == stamps
    (row,) = kits.build("smoke", ["task"])
    assert row["path"] == str(task_dir) and row["manifest"]["teacher_valid_accuracy"] >= 0


def test_profiles_without_kits_and_bad_names(tmp_path, monkeypatch):
    monkeypatch.setenv("LABKIT_HOME", str(tmp_path))
    rows = kits.build("paper")
    assert [(r["kit"], r["recipe"], r["path"]) for r in rows] == [("task", "", None), ("xtok", "", None)]
    assert (kits.recipe_of("task", "smoke"), kits.recipe_of("xtok", "real")) == ("smoke", "")
    with pytest.raises(LabkitError, match="kit 'bogus': expected one of task, xtok"):
        kits.build("smoke", ["task", "bogus"])
    with pytest.raises(LabkitError, match="profile='nope'"):
        kits.build("nope")
    assert not any(tmp_path.iterdir())  # nothing built before the error


def test_a_known_teacher_profile_has_no_kit_to_build(monkeypatch, capsys):
    from argparse import Namespace

    from labkit.lab import profiles

    assert profiles.WHITEBOX["default"]["kit"] == "known" and kits.recipe_of("task", "default") == ""
    assert kits.cli_build(Namespace(names=["task"], profile="default")) == 0
    assert "a known teacher, defined not trained: nothing to build" in capsys.readouterr().out
    monkeypatch.setitem(profiles.WHITEBOX, "default", {**profiles.WHITEBOX["default"], "kit": "default"})
    assert kits.recipe_of("task", "default") == "default"
