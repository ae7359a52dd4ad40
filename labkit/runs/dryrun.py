"""Dry run of the paper path on a CPU: `labkit reproduce --profile paper --dry-run`, `labkit batch GRID --dry-run`.

Every notebook and every paper grid runs through the real code path (papermill kernels, the grid's parameters,
the local pool or Ray) with three things changed, all through one environment variable that kernels and
workers inherit ($LABKIT_DRY_RUN=1, read only by labkit.tiny.dry_run):

* models: every hub id and embedded catalog model loads a tiny random-init stand-in of the same architecture
  class and tokenizer conventions (labkit.tiny.stand_in: T5/FLAN-T5 -> tiny T5, GPT-2 -> tiny GPT-2,
  SmolLM2/Llama -> tiny Llama, Gemma-3 -> tiny Gemma-3), built from a config and cached in a temp folder;
  a model with no stand-in family fails the run, naming it;
* scale: labkit.lab.profiles.resolve caps the paper row (2 optimiser steps, a few examples, 2 seeds);
* the grid: each grid is expanded in full (run ids, parameters checked against the notebook, Ray resource
  requests checked against the grid's `resources:`), then one seed of a covering subset runs (every value
  of every axis and every variant at least once).

Data is the real data ($LABKIT_DATA / --data-dir). Before anything runs, environment.yml's pip list is
checked against pyproject.toml (the GPU nodes' environment), and every run that reads the papers' data files
is checked to find them (labkit.runs.needs): when some do not, the batch stops before its first run with one
message naming the folder, the runs and `labkit data fetch ...`.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import yaml

from labkit.errors import LabkitError

ROOT = Path(__file__).resolve().parents[2]


def enable(cache: str | os.PathLike | None = None, data_dir: str | os.PathLike | None = None) -> dict:
    """Turn the dry run on for this process and everything it starts (papermill kernels, pool workers); returns
    the variables set, which Ray tasks also receive (runtime_env), so workers on other nodes see them too."""
    from labkit import tiny  # lazy (torch): the CLI driver imports this module

    env = {tiny.DRY_RUN_ENV: "1", tiny.DRY_RUN_CACHE_ENV: str(Path(cache or tiny.dry_run_cache()).resolve())}
    if data_dir:
        if not Path(data_dir).is_dir():
            raise LabkitError(f"--data-dir {data_dir}: no such folder (expected one holding tinyllm/ and dss/)")
        env["LABKIT_DATA"] = str(Path(data_dir).resolve())
    os.environ.update(env)
    return env


def passed_env() -> dict:
    """The variables a dry run passes to Ray workers ({} outside a dry run)."""
    from labkit import tiny

    if not tiny.dry_run():
        return {}
    names = (tiny.DRY_RUN_ENV, tiny.DRY_RUN_CACHE_ENV, "LABKIT_DATA", "LABKIT_HOME")
    return {n: os.environ[n] for n in names if os.environ.get(n)}


# --------------------------------------------------------------------------- environment.yml vs pyproject


def _requirement_key(line: str):
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import canonicalize_name

    try:
        req = Requirement(line)
    except InvalidRequirement as e:
        raise LabkitError(f"environment.yml: pip entry {line!r} is not a requirement: {e}") from None
    return canonicalize_name(req.name), frozenset(req.extras), str(req.specifier)


def check_environment(root: Path = ROOT) -> list[str]:
    """Problems of environment.yml (the GPU nodes' conda environment) against pyproject.toml: a dependency missing
    from its pip list or pinned differently, or a pip entry that is neither a dependency nor an extra.
    [] when it agrees, or when the project has no environment.yml."""
    env_path, py_path = Path(root) / "environment.yml", Path(root) / "pyproject.toml"
    if not env_path.is_file():
        return []
    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomli as tomllib
    project = tomllib.loads(py_path.read_text())["project"]
    try:
        env = yaml.safe_load(env_path.read_text()) or {}
    except yaml.YAMLError as e:
        return [f"environment.yml is not valid YAML: {e}"]
    pips = [d["pip"] for d in env.get("dependencies") or [] if isinstance(d, dict) and "pip" in d]
    if len(pips) != 1:
        return [f"environment.yml: expected one `pip:` list under dependencies, found {len(pips)}"]
    entries = {}
    for line in pips[0]:
        if not str(line).strip().startswith("-"):
            key = _requirement_key(str(line))
            entries[key[0]] = (key, line)
    problems = []
    for line in project.get("dependencies", []):
        key = _requirement_key(line)
        if key[0] not in entries:
            problems.append(f"pyproject dependency {line!r} is missing from environment.yml's pip list")
        elif entries[key[0]][0] != key:
            problems.append(f"pyproject {line!r} vs environment.yml {entries[key[0]][1]!r}")
    allowed = {_requirement_key(x) for x in project.get("dependencies", [])}
    for lines in project.get("optional-dependencies", {}).values():
        allowed |= {_requirement_key(x) for x in lines}
    deps = {_requirement_key(x)[0] for x in project.get("dependencies", [])}  # reported above if they differ
    problems += [
        f"environment.yml entry {line!r} is neither a pyproject dependency nor an extra (same spec)"
        for key, line in entries.values()
        if key not in allowed and key[0] not in deps
    ]
    return problems


# --------------------------------------------------------------------------- Ray resource requests


def ray_options(run) -> dict:
    """What a Ray task of `run` asks for (labkit.runs.batch._run_ray submits exactly this)."""
    return {"num_gpus": float(run.gpus), "num_cpus": float(run.cpus)}


def check_resources(runs, grids: dict) -> list[dict]:
    """Each run's Ray request against its grid's `resources:` (grids: {grid name: resources mapping}).

    Returns one row per grid: {"grid", "runs", "resources" (the spec), "request" (ray_options)}.
    Raises LabkitError for a request that differs from the spec, one that is negative or not a number,
    or runs of one grid asking for different resources."""
    rows: dict[str, dict] = {}
    for run in runs:
        spec = grids.get(run.grid, {})
        want = {"num_gpus": float(spec.get("gpus", 0)), "num_cpus": float(spec.get("cpus", 1))}
        got = ray_options(run)
        if got != want:
            raise LabkitError(
                f"dry run: {run.name} (grid {run.grid}) would ask Ray for {got}, but the grid's "
                f"resources: {spec} mean {want}"
            )
        if any(v < 0 for v in got.values()):
            raise LabkitError(f"dry run: grid {run.grid}: negative resource request {got}")
        row = rows.setdefault(run.grid, {"grid": run.grid, "runs": 0, "resources": spec, "request": got})
        if row["request"] != got:
            raise LabkitError(
                f"dry run: grid {run.grid}: runs ask for different resources ({row['request']} and {got})"
            )
        row["runs"] += 1
    return list(rows.values())


# --------------------------------------------------------------------------- which runs execute


def covering(runs, axes: dict, variants: list) -> list:
    """One seed (the first) of a covering subset of a grid's runs: run i takes value i mod n of each axis and
    variant i mod m, for i < max(n, m), so every axis value and every variant runs at least once."""
    if not runs:
        return []
    first_seed = runs[0].seed
    labels = [str(v.get("label", "")) for v in variants] or [""]
    n = max([len(v) for v in axes.values()] + [len(labels)])
    keep = []
    for i in range(n):
        want = {name: values[i % len(values)] for name, values in axes.items()}
        label = labels[i % len(labels)]
        for r in runs:
            if r.seed == first_seed and r.label == label and all(r.parameters.get(k) == v for k, v in want.items()):
                if r not in keep:
                    keep.append(r)
                break
        else:  # expand_grid made every combination; not finding one is a bug here
            raise LabkitError(f"dry run: no run of grid {runs[0].grid} with {want} (variant {label!r})")
    return keep


def on_cpu(run):
    """The run as the dry run executes it: the same, asking Ray for no GPU (its request was checked)."""
    return replace(run, gpus=0.0)
