"""Packaging: environment.yml's pip list agrees with pyproject.toml; the `labkit` command runs."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

try:
    import tomllib
except ImportError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")

ROOT = Path(__file__).resolve().parents[1]


def _key(req: Requirement) -> tuple:
    """What must agree: normalised name, extras and the version specifier set."""
    return canonicalize_name(req.name), frozenset(req.extras), req.specifier


def pyproject() -> dict:
    with open(ROOT / "pyproject.toml", "rb") as f:
        return tomllib.load(f)["project"]


def env_pip_requirements() -> list[Requirement]:
    """The requirement lines of environment.yml's pip section (pip options such as --extra-index-url skipped)."""
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_sections = [d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d]
    assert len(pip_sections) == 1, "environment.yml should have exactly one pip: section"
    return [Requirement(line) for line in pip_sections[0] if not line.strip().startswith("-")]


def test_every_pyproject_dependency_is_in_environment_yml_with_the_same_spec():
    env = {canonicalize_name(r.name): r for r in env_pip_requirements()}
    problems = []
    for line in pyproject()["dependencies"]:
        req = Requirement(line)
        name = canonicalize_name(req.name)
        if name not in env:
            problems.append(f"{line!r} missing from environment.yml")
        elif _key(env[name]) != _key(req):
            problems.append(f"pyproject {line!r} vs environment.yml {str(env[name])!r}")
    assert not problems, "environment.yml pip list disagrees with pyproject: " + "; ".join(problems)


def test_every_environment_yml_entry_is_a_dependency_or_from_an_extra():
    project = pyproject()
    allowed = {_key(Requirement(line)) for line in project["dependencies"]}
    for extra, lines in project.get("optional-dependencies", {}).items():
        allowed |= {_key(Requirement(line)) for line in lines}
    stray = [str(r) for r in env_pip_requirements() if _key(r) not in allowed]
    assert not stray, f"environment.yml pip entries that are neither dependencies nor extras (same spec): {stray}"


def test_no_duplicate_entries_in_environment_yml():
    names = [canonicalize_name(r.name) for r in env_pip_requirements()]
    assert len(names) == len(set(names)), names


def test_console_script_is_declared():
    assert pyproject()["scripts"]["labkit"] == "labkit.cli:main"


def _help_output(cmd: list[str]) -> str:
    done = subprocess.run(cmd + ["--help"], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_labkit_help_via_module():
    out = _help_output([sys.executable, "-m", "labkit.cli"])
    for command in ("models", "data", "rationales", "reproduce", "batch", "report"):
        assert command in out


def test_labkit_help_via_console_script():
    script = Path(sys.executable).parent / "labkit"
    script = script if script.exists() else shutil.which("labkit")
    if not script:
        pytest.skip("labkit console script not installed (pip install -e . installs it)")
    assert "data" in _help_output([str(script)])
