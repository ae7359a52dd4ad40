"""Entry points that run notebooks and then write the report (the CLI's reproduce, batch and report).

    labkit reproduce --profile default --out runs/default
    labkit batch notebooks/grids/tinyllm_alpha.yaml --profile paper --executor ray
    labkit reproduce --profile paper --dry-run          # the paper path on a CPU, tiny stand-in models
    labkit report runs/default

labkit.runs.batch runs notebooks; labkit.runs.report reads a runs folder; this module calls one, then the
other, so that neither imports the other.
"""

from __future__ import annotations

import os
from pathlib import Path

from labkit.errors import LabkitError
from labkit.lab.profiles import PROFILES
from labkit.runs import batch, dryrun, needs, report


def _write_report(out) -> dict:
    paths = report.write_report(out)
    print(f"results: {paths['csv']}\nreport:  {paths['md']}")
    return paths


def _start_dry_run(profile: str, data_dir) -> None:
    """--dry-run: only the paper profile has one; environment.yml must agree with pyproject; then the
    variables that kernels and workers inherit (labkit.runs.dryrun)."""
    if profile != "paper":
        raise LabkitError(
            f"--dry-run is the paper profile's check on a CPU (tiny stand-ins of the papers' models); "
            f"profile {profile!r} runs on a CPU as it is: drop --dry-run or use --profile paper"
        )
    problems = dryrun.check_environment()
    if problems:
        raise LabkitError(
            "dry run: environment.yml (the GPU nodes' environment) disagrees with pyproject.toml:\n  "
            + "\n  ".join(problems)
        )
    env = dryrun.enable(data_dir=data_dir)
    print(
        f"dry run: tiny stand-ins of the papers' models (cached in {env['LABKIT_DRY_RUN_CACHE']}), 2 optimiser "
        f"steps, a few examples, one seed of each grid's covering subset; data from "
        f"{os.environ.get('LABKIT_DATA') or 'the default data folder'}; environment.yml agrees with pyproject"
    )


def run_grid(
    grid,
    out,
    *,
    profile: str | None = None,
    executor: str = "local",
    jobs: int = 1,
    redo: bool = False,
    report: bool = True,
    progress: bool = True,
    dry_run: bool = False,
    data_dir=None,
) -> batch.BatchResult:
    """Run one grid (a Grid, a YAML path or a mapping) into OUT, then (report) write the report.
    dry_run: see labkit.runs.dryrun (the grid's profile must be "paper"). See batch.execute_runs for the options.
    Like reproduce, refuses before the first run when a run's data is missing (labkit.runs.needs)."""
    if isinstance(grid, dict):
        grid = batch.parse_grid(grid, profile=profile)
    elif not isinstance(grid, batch.Grid):
        grid = batch.load_grid(grid, profile=profile)
    runs = batch.expand_grid(grid, out)
    if dry_run:
        _start_dry_run(grid.profile, data_dir)
        rows = dryrun.check_resources(runs, {grid.name: grid.resources})
        runs = [dryrun.on_cpu(r) for r in dryrun.covering(runs, grid.axes, grid.variants)]
        print(
            f"dry run: grid {grid.name}: {len(rows and rows[0]['runs'])} runs each ask Ray for "
            f"{rows[0]['request'] if rows else '-'}; running {len(runs)} (every axis value and variant once)"
        )
    needs.check_data(runs, redo=redo)  # before the first run: say once what is missing, run nothing
    try:
        return batch.execute_runs(runs, out, executor=executor, jobs=jobs, redo=redo, progress=progress)
    finally:
        if report:
            _write_report(out)


def reproduce(
    profile: str = "default",
    out=None,
    executor: str = "local",
    jobs: int = 1,
    only: list[str] | None = None,
    *,
    plan_dir: Path | None = None,
    progress: bool = True,
    dry_run: bool = False,
    data_dir=None,
) -> batch.BatchResult:
    """Every notebook at the profile plus the profile's grids (reproduce_<profile>.yaml), then the report.
    dry_run: the paper profile on a CPU with tiny stand-in models (labkit.runs.dryrun).

    Raises:
        LabkitError before any run starts when some run needs the papers' data and its folder lacks it
        (labkit.runs.needs: the folder, the runs and the command that fetches it, in one message)."""
    if profile not in PROFILES:
        raise LabkitError(f"profile {profile!r}: expected one of {', '.join(PROFILES)}")
    if dry_run:
        _start_dry_run(profile, data_dir)
    elif data_dir:
        os.environ["LABKIT_DATA"] = str(Path(data_dir).resolve())
    out = Path(out or (f"runs/{profile}-dry-run" if dry_run else f"runs/{profile}"))
    runs = batch.plan_runs(profile, out, only=only, plan_dir=plan_dir, dry_run=dry_run)
    needs.check_data(runs)  # before the first run: say once what is missing, run nothing
    try:
        return batch.execute_runs(runs, out, executor=executor, jobs=jobs, progress=progress)
    finally:
        _write_report(out)


def cli_reproduce(args) -> int:
    result = reproduce(
        args.profile,
        args.out,
        executor=args.executor,
        jobs=args.jobs,
        only=args.only,
        dry_run=getattr(args, "dry_run", False),
        data_dir=getattr(args, "data_dir", None),
    )
    return result.exit_code


def cli_batch(args) -> int:
    dry = getattr(args, "dry_run", False)
    grid = batch.load_grid(args.grid, profile=args.profile or ("paper" if dry else None))
    if grid.command:
        print(f"grid {grid.name}: {grid.command}")
    out = args.out or f"runs/{grid.name}-{grid.profile}" + ("-dry-run" if dry else "")
    return run_grid(
        grid, out, executor=args.executor, jobs=args.jobs, dry_run=dry, data_dir=getattr(args, "data_dir", None)
    ).exit_code


def cli_report(args) -> int:
    if not Path(args.out).is_dir():
        raise LabkitError(f"runs folder {args.out} not found")
    paths = report.write_report(args.out)
    print(f"results: {paths['csv']}\nreport:  {paths['md']}\nhtml:    {paths['html']}")
    return 0
