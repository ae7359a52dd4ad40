"""Batch reproduction: the lab's notebooks run headless through papermill, over grids, locally or on Ray.

    labkit reproduce --profile default --out runs/default      # every notebook (+ the profile's grids), then the report
    labkit batch notebooks/grids/tinyllm_alpha.yaml --profile paper --executor ray
    labkit report runs/default                                 # collect results.csv + report.md again

A **grid file** (YAML, in notebooks/grids/) names one notebook and the runs to make of it; its first line
is a comment with the exact command that runs it:

    # labkit batch notebooks/grids/gkd_grid.yaml --profile paper --out runs/paper
    notebook: 04_gkd_on_policy.ipynb     # relative to notebooks/ (or to the grid file, or absolute)
    description: GKD, on-policy fraction lambda x JSD beta
    parameters: {dataset: "synthetic:arithmetic"}   # base parameters, the same for every run
    axes:                                           # cartesian product, one run per combination
      lmbdas: [[0.0], [0.5], [1.0]]
      betas: [[0.0], [0.5], [1.0]]
    variants:                                       # optional: named parameter sets (ablations), x axes
      - {label: full}
      - {label: w/o in-context, in_context: 0}
    seeds: [0, 1, 2]
    resources: {gpus: 1}                            # per run, for --executor ray
    profiles:                                       # optional overrides per profile
      smoke: {axes: {lmbdas: [[0.0], [1.0]]}, seeds: [0]}

Every run gets the parameters profile, seed, interactive=False and out_dir, and lands in

    OUT/<notebook-stem>/<run-id>/{output.ipynb, metrics.json, run.json, *.png}

with a run id readable from its parameters, e.g. ``alphas=0.5,teachers=oracle+noisy-oracle,seed=1``.
``run.json`` records the parameters, status, wall time and, for a failed run, the error and the source
of the cell that raised. A re-run skips runs whose metrics.json is complete (and made with the same
parameters); a run interrupted midway (no complete metrics.json) is done again.

**Reproduce plans** (notebooks/grids/reproduce_<profile>.yaml) list what ``labkit reproduce`` runs at a
profile: every notebook once per seed, plus grid files.
"""

from __future__ import annotations

import concurrent.futures as cf
import itertools
import multiprocessing
import os
import re
import sys
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml
from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel
from tqdm.auto import tqdm

from labkit.errors import LabkitError
from labkit.lab.profiles import PROFILES
from labkit.runs.layout import make_run_id, metrics_complete, now, strip_ansi, write_json

NOTEBOOKS_DIR = Path(__file__).resolve().parents[2] / "notebooks"
GRIDS_DIR = NOTEBOOKS_DIR / "grids"
RESERVED = ("profile", "seed", "interactive", "out_dir")  # set by the batch runner, never by a grid
GRID_KEYS = {
    "notebook",
    "description",
    "parameters",
    "axes",
    "variants",
    "seeds",
    "resources",
    "profile",
    "profiles",
    "timeout",
}
OVERRIDE_KEYS = {"parameters", "axes", "variants", "seeds", "resources", "timeout"}
PLAN_KEYS = {"profile", "description", "notebooks", "seeds", "resources", "parameters", "grids", "timeout"}
MAX_SHIPPED_BYTES = 64 * 1024 * 1024  # files a Ray task sends back when the driver cannot see its disk


def resolve_notebook(name: str, relative_to: Path | None = None) -> Path:
    """A notebook named in a grid: absolute, relative to the grid file, or in notebooks/ (with or
    without .ipynb, or by its number prefix such as '02')."""
    candidates = []
    p = Path(name).expanduser()
    if p.is_absolute():
        candidates.append(p)
    else:
        if relative_to is not None:
            candidates.append(relative_to / p)
        candidates.append(NOTEBOOKS_DIR / p)
    for c in list(candidates):
        if c.suffix != ".ipynb":
            candidates.append(c.with_name(c.name + ".ipynb"))
    for c in candidates:
        if c.is_file():
            return c.resolve()
    matches = sorted(NOTEBOOKS_DIR.glob(f"{name}_*.ipynb")) if re.fullmatch(r"\d\d", name) else []
    if len(matches) == 1:
        return matches[0].resolve()
    raise LabkitError(f"notebook {name!r} not found (looked in {', '.join(str(c.parent) for c in candidates[:2])})")


def lab_notebooks() -> list[Path]:
    """The lab's notebooks: notebooks/NN_*.ipynb, in order."""
    return sorted(p.resolve() for p in NOTEBOOKS_DIR.glob("[0-9][0-9]_*.ipynb"))


def notebook_parameters(path: Path) -> dict:
    """Names declared in the notebook's `parameters` cell (papermill's view of it)."""
    import papermill as pm  # lazy: papermill pulls in nbclient and friends; only runs need it

    return dict(pm.inspect_notebook(str(path)))


def pick_kernel() -> str:
    """Kernel name that runs this same interpreter: the `labkit` kernel (make setup installs it with
    --sys-prefix) or `python3` when its spec starts `python` (jupyter_client then uses sys.executable)."""
    ksm = KernelSpecManager()
    here = os.path.abspath(sys.executable)
    for name in ("labkit", "python3"):
        try:
            exe = ksm.get_kernel_spec(name).argv[0]
        except (NoSuchKernel, IndexError, OSError):
            continue
        if (
            exe in ("python", "python3", f"python{sys.version_info[0]}.{sys.version_info[1]}")
            or os.path.abspath(exe) == here
            or os.path.dirname(os.path.abspath(exe)) == os.path.dirname(here)
        ):
            return name
    return "python3"


# --------------------------------------------------------------------------- grids


@dataclass
class Run:
    """One notebook execution."""

    notebook: str  # stem, e.g. "02_tinyllm_multi_teacher"
    notebook_path: str
    run_id: str
    out_dir: str
    parameters: dict  # everything papermill injects (incl. profile, seed, out_dir)
    seed: int
    grid: str = ""  # grid / plan file stem
    label: str = ""  # variant label, if any
    gpus: float = 0.0
    cpus: float = 1.0
    timeout: float | None = None  # per cell, seconds

    @property
    def name(self) -> str:
        return f"{self.notebook}/{self.run_id}"


@dataclass
class Grid:
    """A parsed grid file at one profile."""

    path: Path | None
    notebook: Path
    profile: str
    parameters: dict = field(default_factory=dict)
    axes: dict = field(default_factory=dict)
    variants: list = field(default_factory=list)
    seeds: list = field(default_factory=lambda: [0])
    resources: dict = field(default_factory=dict)
    description: str = ""
    timeout: float | None = None
    command: str = ""

    @property
    def name(self) -> str:
        return self.path.stem if self.path else self.notebook.stem


def _where(path, key) -> str:
    return f"{path}: {key}" if path else key


def _check_mapping(doc, allowed: set, where: str) -> dict:
    if not isinstance(doc, dict):
        raise LabkitError(f"{where}: expected a mapping, got {type(doc).__name__}")
    unknown = set(doc) - allowed
    if unknown:
        raise LabkitError(f"{where}: unknown key(s) {sorted(unknown)}; expected some of {sorted(allowed)}")
    return doc


def _check_grid_parts(parts: dict, where: str) -> None:
    params = parts.get("parameters", {})
    if not isinstance(params, dict):
        raise LabkitError(f"{where}.parameters: expected a mapping name -> value")
    axes = parts.get("axes", {})
    if not isinstance(axes, dict):
        raise LabkitError(f"{where}.axes: expected a mapping name -> list of values")
    for name, values in axes.items():
        if not isinstance(values, list) or not values:
            raise LabkitError(f"{where}.axes.{name}: expected a non-empty list of values, got {values!r}")
    variants = parts.get("variants", [])
    if not isinstance(variants, list) or not all(isinstance(v, dict) for v in variants):
        raise LabkitError(f"{where}.variants: expected a list of mappings (label + parameters)")
    names = [*params, *axes, *(k for v in variants for k in v if k != "label")]
    bad = [n for n in names if n in RESERVED]
    if bad:
        raise LabkitError(
            f"{where}: parameter(s) {bad} are set by the runner (profile comes from "
            f"--profile, seeds from `seeds:`, out_dir from --out)"
        )
    seeds = parts.get("seeds", [0])
    if (
        not isinstance(seeds, list)
        or not seeds
        or not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds)
    ):
        raise LabkitError(f"{where}.seeds: expected a non-empty list of integers, got {seeds!r}")
    res = parts.get("resources", {})
    if not isinstance(res, dict) or set(res) - {"gpus", "cpus"}:
        raise LabkitError(f"{where}.resources: expected {{gpus: N, cpus: N}}, got {res!r}")


def parse_grid(doc: dict, *, path: Path | None = None, profile: str | None = None, check_notebook: bool = True) -> Grid:
    """Validate a grid mapping and apply the profile's overrides.

    Raises:
        LabkitError naming the file and key that is wrong, or a parameter the notebook does not declare.
    """
    where = str(path) if path else "grid"
    _check_mapping(doc, GRID_KEYS, where)
    if "notebook" not in doc:
        raise LabkitError(f"{where}: missing `notebook:` (e.g. notebook: 02_tinyllm_multi_teacher.ipynb)")
    profile = profile or doc.get("profile", "default")
    if profile not in PROFILES:
        raise LabkitError(f"{_where(path, 'profile')}: {profile!r}; expected one of {', '.join(PROFILES)}")
    _check_grid_parts(doc, where)
    parts = {k: doc.get(k) for k in OVERRIDE_KEYS if k in doc}
    overrides = doc.get("profiles") or {}
    _check_mapping(overrides, set(PROFILES), f"{where}.profiles")
    if profile in overrides:
        over = _check_mapping(overrides[profile] or {}, OVERRIDE_KEYS, f"{where}.profiles.{profile}")
        _check_grid_parts(over, f"{where}.profiles.{profile}")
        for key, value in over.items():
            if key in ("parameters", "axes", "resources"):
                parts[key] = {**(parts.get(key) or {}), **value}
            else:
                parts[key] = value
    notebook = resolve_notebook(str(doc["notebook"]), path.parent if path else None)
    grid = Grid(
        path=path,
        notebook=notebook,
        profile=profile,
        parameters=dict(parts.get("parameters") or {}),
        axes=dict(parts.get("axes") or {}),
        variants=list(parts.get("variants") or []),
        seeds=list(parts.get("seeds") or [0]),
        resources=dict(parts.get("resources") or {}),
        description=str(doc.get("description", "")),
        timeout=parts.get("timeout"),
    )
    if check_notebook:
        declared = notebook_parameters(notebook)
        used = [*grid.parameters, *grid.axes, *(k for v in grid.variants for k in v if k != "label")]
        unknown = sorted(set(used) - set(declared))
        if unknown:
            raise LabkitError(
                f"{where}: parameter(s) {unknown} are not in the parameters cell of "
                f"{notebook.name} (it declares: {', '.join(declared) or 'nothing'})"
            )
    return grid


def _first_comment(path: Path) -> str:
    first = path.read_text().splitlines()[:1]
    return first[0].lstrip("# ").strip() if first and first[0].startswith("#") else ""


def load_grid(path, profile: str | None = None, check_notebook: bool = True) -> Grid:
    """Read and validate a grid YAML file (see the module docstring)."""
    path = Path(path)
    if not path.is_file() and not path.is_absolute() and (GRIDS_DIR / path).is_file():
        path = GRIDS_DIR / path
    if not path.is_file():
        raise LabkitError(f"grid file {path} not found (grids live in {GRIDS_DIR})")
    try:
        doc = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise LabkitError(f"{path}: not valid YAML: {e}") from None
    grid = parse_grid(doc or {}, path=path.resolve(), profile=profile, check_notebook=check_notebook)
    grid.command = _first_comment(path)
    return grid


def expand_grid(grid: Grid, out) -> list[Run]:
    """Variants x axes (cartesian, in file order) x seeds -> runs under OUT/<notebook-stem>/<run-id>/."""
    out = Path(out).resolve()
    names = list(grid.axes)
    runs = []
    for variant in grid.variants or [{}]:
        label = str(variant.get("label", ""))
        vparams = {k: v for k, v in variant.items() if k != "label"}
        for combo in itertools.product(*(grid.axes[n] for n in names)):
            axis_params = dict(zip(names, combo))
            # run id: what varies first (axes, variant), then the base parameters the grid sets
            id_params = {
                **axis_params,
                **vparams,
                **{k: v for k, v in grid.parameters.items() if k not in axis_params and k not in vparams},
            }
            for seed in grid.seeds:
                run_id = make_run_id(id_params, seed)
                out_dir = out / grid.notebook.stem / run_id
                params = {
                    **grid.parameters,
                    **vparams,
                    **axis_params,
                    "profile": grid.profile,
                    "seed": seed,
                    "interactive": False,
                    "out_dir": str(out_dir),
                }
                runs.append(
                    Run(
                        notebook=grid.notebook.stem,
                        notebook_path=str(grid.notebook),
                        run_id=run_id,
                        out_dir=str(out_dir),
                        parameters=params,
                        seed=seed,
                        grid=grid.name,
                        label=label,
                        gpus=float(grid.resources.get("gpus", 0)),
                        cpus=float(grid.resources.get("cpus", 1)),
                        timeout=grid.timeout,
                    )
                )
    return runs


def load_plan(profile: str, plan_dir: Path | None = None) -> dict:
    """notebooks/grids/reproduce_<profile>.yaml: what `labkit reproduce` runs at that profile."""
    path = Path(plan_dir or GRIDS_DIR) / f"reproduce_{profile}.yaml"
    if not path.is_file():
        raise LabkitError(f"no reproduce plan for profile {profile!r}: {path} is missing")
    doc = _check_mapping(yaml.safe_load(path.read_text()) or {}, PLAN_KEYS, str(path))
    notebooks = doc.get("notebooks", "all")
    if notebooks != "all" and not (isinstance(notebooks, list) and all(isinstance(n, str) for n in notebooks)):
        raise LabkitError(f"{path}: notebooks: expected `all` or a list of notebook names")
    grids = doc.get("grids") or []
    if not isinstance(grids, list):
        raise LabkitError(f"{path}: grids: expected a list of grid files")
    return {**doc, "path": path, "notebooks": notebooks, "grids": grids}


def _matches(only: list[str] | None, *names: str) -> bool:
    """--only: a notebook stem, its number prefix ('00'), or a grid file stem."""
    if not only:
        return True
    return any(name == o or name.startswith(o + "_") or name == Path(o).stem for o in only for name in names)


def _planned_grids(
    profile: str, out, only: list[str] | None = None, plan_dir: Path | None = None
) -> tuple[dict, list, list[tuple[Grid, list[Run]]]]:
    """(plan, notebooks, [(grid, its runs)]) of `labkit reproduce --profile PROFILE`: one grid per notebook of
    the plan (its seeds and resources), then the plan's grid files."""
    plan = load_plan(profile, plan_dir)
    base = {
        "parameters": plan.get("parameters") or {},
        "seeds": plan.get("seeds") or [0],
        "resources": plan.get("resources") or {},
    }
    if plan.get("timeout"):
        base["timeout"] = plan["timeout"]
    notebooks = (
        lab_notebooks()
        if plan["notebooks"] == "all"
        else [resolve_notebook(n, plan["path"].parent) for n in plan["notebooks"]]
    )
    out_grids: list[tuple[Grid, list[Run]]] = []
    for nb in notebooks:
        if _matches(only, nb.stem):
            grid = parse_grid({"notebook": str(nb), **base}, path=None, profile=profile)
            out_grids.append((grid, [Run(**{**asdict(r), "grid": plan["path"].stem}) for r in expand_grid(grid, out)]))
    for g in plan["grids"]:
        gpath = Path(g) if Path(g).is_absolute() else plan["path"].parent / g
        grid = load_grid(gpath, profile=profile)
        if _matches(only, grid.notebook.stem, grid.name):
            out_grids.append((grid, expand_grid(grid, out)))
    return plan, notebooks, out_grids


def _unique(runs: list[Run]) -> list[Run]:
    unique: dict[str, Run] = {}
    for r in runs:
        unique.setdefault(r.out_dir, r)
    return list(unique.values())


def plan_runs(
    profile: str, out, only: list[str] | None = None, plan_dir: Path | None = None, dry_run: bool = False
) -> list[Run]:
    """Every run `labkit reproduce --profile PROFILE` makes, duplicates (same folder) removed.

    dry_run: check every run's Ray request against its grid's resources (labkit.runs.dryrun.check_resources),
    then keep one seed of a covering subset of each grid (dryrun.covering), asking Ray for no GPU."""
    plan, notebooks, grids = _planned_grids(profile, out, only, plan_dir)
    if dry_run:
        from labkit.runs import dryrun

        runs = []
        for grid, grid_runs in grids:
            dryrun.check_resources(grid_runs, {grid_runs[0].grid: grid.resources} if grid_runs else {})
            runs += [dryrun.on_cpu(r) for r in dryrun.covering(grid_runs, grid.axes, grid.variants)]
    else:
        runs = [r for _, grid_runs in grids for r in grid_runs]
    unique = _unique(runs)
    if only and not unique:
        raise LabkitError(
            f"--only {' '.join(only)} matches no notebook or grid of profile {profile!r} "
            f"(notebooks: {', '.join(n.stem for n in notebooks)}; grids: {', '.join(plan['grids'])})"
        )
    return unique


# --------------------------------------------------------------------------- one run

# A kernel that dies before it answers (jupyter_client picks its ports free, then binds them: two kernels started at
# the same moment can pick the same port, "ZMQError: Address already in use") ran nothing; such a run is started again.
KERNEL_START_RETRIES = 2
KERNEL_START_ERRORS = ("Kernel died before replying to kernel_info", "Address already in use")


def kernel_start_failed(error: str, tb: str | None) -> bool:
    """True when a run failed because its kernel never started (nothing of the notebook ran)."""
    return any(s in f"{error}\n{tb or ''}" for s in KERNEL_START_ERRORS)


def execute_run(run: dict, kernel_name: str = "python3") -> dict:
    """Execute one notebook with papermill into run["out_dir"]; never raises for a notebook error.

    Returns:
        the run record written to out_dir/run.json: the Run fields plus status ("ok" | "failed"),
        wall_s, started, finished, error ("Type: message"), error_cell (source of the cell that
        raised) and traceback (ANSI colours stripped).
    """
    out_dir = Path(run["out_dir"])
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "metrics.json").unlink(missing_ok=True)  # a stale result must not survive an interrupted redo
    record = {**run, "status": "running", "started": now(), "host": os.uname().nodename}
    write_json(out_dir / "run.json", record)
    t0 = time.perf_counter()
    for attempt in range(1 + KERNEL_START_RETRIES):
        error = error_cell = tb = None
        try:
            import papermill as pm  # lazy: see notebook_parameters

            pm.execute_notebook(
                run["notebook_path"],
                str(out_dir / "output.ipynb"),
                parameters=run["parameters"],
                kernel_name=kernel_name,
                progress_bar=False,
                log_output=False,
                cwd=str(Path(run["notebook_path"]).parent),
                execution_timeout=run.get("timeout"),
            )
        except Exception as e:  # noqa: BLE001 - every failure is recorded, none stops the batch
            if type(e).__name__ == "PapermillExecutionError":
                error = f"{e.ename}: {e.evalue}"
                error_cell = e.source
                tb = strip_ansi("\n".join(e.traceback))
            else:
                error = f"{type(e).__name__}: {e}"
                tb = traceback.format_exc()
        if not (error and error_cell is None and kernel_start_failed(error, tb)):
            break
        record["kernel_start_retries"] = attempt + 1  # the kernel never ran a cell: start it again
        time.sleep(1.0 + attempt)
    wall = time.perf_counter() - t0
    if error is None and not metrics_complete(out_dir):
        error = (
            "the notebook ran to the end but wrote no complete metrics.json into out_dir "
            "(its last cell should call lk.lab.metrics.write_metrics(out_dir, ...))"
        )
    record.update(
        status="failed" if error else "ok",
        wall_s=round(wall, 2),
        finished=now(),
        error=error,
        error_cell=error_cell,
        traceback=tb[-6000:] if tb else None,
    )
    write_json(out_dir / "run.json", record)
    return record


def _worker_init(threads: int | None) -> None:
    """Pool worker: give each concurrent run its share of the cores (kernels inherit the environment)."""
    if threads:
        for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
            os.environ.setdefault(var, str(threads))


def _failed_record(run: Run, error: str) -> dict:
    return {
        **asdict(run),
        "status": "failed",
        "wall_s": None,
        "finished": now(),
        "error": error,
        "error_cell": None,
        "traceback": None,
    }


def _ray_execute(run: dict, kernel_name: str) -> tuple[dict, dict]:
    """Ray task body: run, then send back the run's files (the driver writes those it cannot see)."""
    record = execute_run(run, kernel_name)
    files, total = {}, 0
    for p in sorted(Path(run["out_dir"]).iterdir()):
        if p.is_file() and not p.name.endswith(".tmp") and total + p.stat().st_size <= MAX_SHIPPED_BYTES:
            files[p.name] = p.read_bytes()
            total += len(files[p.name])
    return record, files


# --------------------------------------------------------------------------- executors


def _run_local(runs: list[Run], jobs: int, kernel: str, done) -> None:
    threads = max(1, (os.cpu_count() or 1) // jobs) if jobs > 1 else None
    ctx = multiprocessing.get_context("spawn")
    with cf.ProcessPoolExecutor(
        max_workers=jobs, mp_context=ctx, initializer=_worker_init, initargs=(threads,)
    ) as pool:
        futures = {pool.submit(execute_run, asdict(r), kernel): r for r in runs}
        try:
            for fut in cf.as_completed(futures):
                run = futures[fut]
                try:
                    record = fut.result()
                except Exception as e:  # noqa: BLE001 - a dead worker fails its run only
                    record = _failed_record(run, f"{type(e).__name__}: {e}")
                    write_json(Path(run.out_dir) / "run.json", record)
                done(run, record)
        except KeyboardInterrupt:
            pool.shutdown(wait=False, cancel_futures=True)
            raise


def _run_ray(runs: list[Run], jobs: int, kernel: str, done) -> None:
    """Each run a Ray task asking for the grid's GPUs; ray.init() joins RAY_ADDRESS when set, else
    starts a local instance (or uses the one already initialised in this process)."""
    try:
        import ray  # lazy: optional (labkit[cluster]), heavy
    except ImportError:
        raise LabkitError("--executor ray needs ray: pip install 'labkit[cluster]'") from None
    started_here = False
    if not ray.is_initialized():
        address = os.environ.get("RAY_ADDRESS")
        if address:
            ray.init(address=address)
        else:
            ray.init(num_cpus=max(jobs, 1), include_dashboard=False)
        started_here = True
    try:
        from labkit.runs import dryrun

        task = ray.remote(_ray_execute)
        env = dryrun.passed_env()  # a dry run's variables reach workers on every node
        extra = {"runtime_env": {"env_vars": env}} if env else {}
        pending = {task.options(**dryrun.ray_options(r), **extra).remote(asdict(r), kernel): r for r in runs}
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                run = pending.pop(ref)
                try:
                    record, files = ray.get(ref)
                    out_dir = Path(run.out_dir)
                    out_dir.mkdir(parents=True, exist_ok=True)
                    for name, data in files.items():  # the task ran on another machine's disk
                        if not (out_dir / name).exists():
                            (out_dir / name).write_bytes(data)
                except Exception as e:  # noqa: BLE001 - a lost worker/node fails its run only
                    record = _failed_record(run, f"{type(e).__name__}: {e}")
                    write_json(Path(run.out_dir) / "run.json", record)
                done(run, record)
    finally:
        if started_here:
            ray.shutdown()


# --------------------------------------------------------------------------- entry points


@dataclass
class BatchResult:
    """What a batch did. `failed` lists the run records that failed in this invocation."""

    out: Path
    runs: int = 0
    ok: int = 0
    skipped: int = 0
    failed: list = field(default_factory=list)
    wall_s: float = 0.0

    @property
    def exit_code(self) -> int:
        """Number of failed runs, capped at 100 (0 = all fine)."""
        return min(len(self.failed), 100)


def execute_runs(
    runs: list[Run], out, *, executor: str = "local", jobs: int = 1, redo: bool = False, progress: bool = True
) -> BatchResult:
    """Run (or skip, when complete) every run; print one status line per run.
    (labkit.runs.reproduce runs a batch and then writes the report.)

    Args:
        runs: from expand_grid / plan_runs.
        out: the output folder (results.csv and report.md go there).
        executor: "local" (process pool of `jobs` workers) or "ray".
        redo: run again even when metrics.json is complete.
    """
    if executor not in ("local", "ray"):
        raise LabkitError(f"executor {executor!r}: expected local or ray")
    if jobs < 1:
        raise LabkitError(f"--jobs {jobs}: expected an integer >= 1")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    result = BatchResult(out=out, runs=len(runs))
    t0 = time.perf_counter()
    todo = [r for r in runs if redo or not metrics_complete(Path(r.out_dir), r.parameters)]
    result.skipped = len(runs) - len(todo)
    bar = tqdm(
        total=len(runs),
        desc=f"runs ({executor}, jobs={jobs})",
        unit="run",
        disable=not progress,
        file=sys.stderr,
        dynamic_ncols=True,
    )
    say = bar.write if progress else print
    if result.skipped:
        say(
            f"skipping {result.skipped} of {len(runs)} runs already complete in {out} (their metrics.json "
            f"is finished; use a new --out or delete a run's folder to redo it)"
        )
        for r in runs:
            if r not in todo:
                say(f"skipped {r.name}  (complete)")
        bar.update(result.skipped)

    def done(run: Run, record: dict) -> None:
        wall = record.get("wall_s")
        line = (
            f"{record['status']:7} {run.name}  {wall:.1f} s" if wall is not None else f"{record['status']:7} {run.name}"
        )
        if record["status"] == "ok":
            result.ok += 1
        else:
            result.failed.append(record)
            line += f"\n        {record.get('error')}"
        say(line)
        bar.update(1)

    try:
        if todo:
            kernel = pick_kernel()
            (_run_ray if executor == "ray" else _run_local)(todo, jobs, kernel, done)
    finally:
        bar.close()
        result.wall_s = time.perf_counter() - t0
    print(
        f"{result.runs} runs: {result.ok} ok, {len(result.failed)} failed, {result.skipped} skipped "
        f"(already complete); {result.wall_s / 60:.1f} min"
    )
    for rec in result.failed:
        print(f"  failed: {rec['notebook']}/{rec['run_id']}: {rec.get('error')}  (see {rec['out_dir']}/output.ipynb)")
    return result
