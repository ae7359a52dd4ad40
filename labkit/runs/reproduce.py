"""Entry points that run notebooks and then write the report (the CLI's reproduce, batch and report).

    labkit reproduce --profile default --out runs/default
    labkit batch notebooks/grids/tinyllm_alpha.yaml --profile paper --executor ray
    labkit report runs/default

labkit.runs.batch runs notebooks; labkit.runs.report reads a runs folder; this module calls one, then the
other, so that neither imports the other.
"""
from __future__ import annotations

from pathlib import Path

from labkit.errors import LabkitError
from labkit.lab.profiles import PROFILES
from labkit.runs import batch, report


def _write_report(out) -> dict:
    paths = report.write_report(out)
    print(f"results: {paths['csv']}\nreport:  {paths['md']}")
    return paths


def run_grid(grid, out, *, profile: str | None = None, executor: str = "local", jobs: int = 1,
             redo: bool = False, report: bool = True, progress: bool = True) -> batch.BatchResult:
    """Run one grid (a Grid, a YAML path or a mapping) into OUT, then (report) write the report.
    See batch.execute_runs for the options."""
    if isinstance(grid, dict):
        grid = batch.parse_grid(grid, profile=profile)
    elif not isinstance(grid, batch.Grid):
        grid = batch.load_grid(grid, profile=profile)
    try:
        return batch.execute_runs(batch.expand_grid(grid, out), out, executor=executor, jobs=jobs, redo=redo,
                                  progress=progress)
    finally:
        if report:
            _write_report(out)


def reproduce(profile: str = "default", out=None, executor: str = "local", jobs: int = 1,
              only: list[str] | None = None, *, plan_dir: Path | None = None, progress: bool = True) -> batch.BatchResult:
    """Every notebook at the profile plus the profile's grids (reproduce_<profile>.yaml), then the report."""
    if profile not in PROFILES:
        raise LabkitError(f"profile {profile!r}: expected one of {', '.join(PROFILES)}")
    out = Path(out or f"runs/{profile}")
    runs = batch.plan_runs(profile, out, only=only, plan_dir=plan_dir)
    try:
        return batch.execute_runs(runs, out, executor=executor, jobs=jobs, progress=progress)
    finally:
        _write_report(out)


def cli_reproduce(args) -> int:
    result = reproduce(args.profile, args.out, executor=args.executor, jobs=args.jobs, only=args.only)
    return result.exit_code


def cli_batch(args) -> int:
    grid = batch.load_grid(args.grid, profile=args.profile)
    if grid.command:
        print(f"grid {grid.name}: {grid.command}")
    out = args.out or f"runs/{grid.name}-{grid.profile}"
    return run_grid(grid, out, executor=args.executor, jobs=args.jobs).exit_code


def cli_report(args) -> int:
    if not Path(args.out).is_dir():
        raise LabkitError(f"runs folder {args.out} not found")
    paths = report.write_report(args.out)
    print(f"results: {paths['csv']}\nreport:  {paths['md']}\nhtml:    {paths['html']}")
    return 0
