"""What a batch needs before its first run: the papers' data files, checked once for every run.

A run reads the papers' data when its dataset (the `dataset` parameter the grid or plan sets, else the
notebook's profile row in labkit.lab.profiles) is a file family of labkit.data: ``tinyllm:obqa``,
``tinyllm:arc`` (TinyLLM's release) or ``dss:cqa``, ``dss:svamp`` (distilling step-by-step's release).
The folder is the run's `data_dir` parameter, else $LABKIT_DATA, else $LABKIT_HOME/data, where
``labkit data fetch tinyllm dss`` puts them; labkit.data finds a dataset there exactly as the notebook will.

    missing = needs.missing_data(runs)       # [] when every run finds its files
    needs.check_data(runs)                   # raises LabkitError naming the folder and the command

Synthetic tasks need nothing; hub datasets and hub models are downloaded by the run itself, and the
embedded models are fetched on first use, so neither is checked here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from labkit import data
from labkit.errors import LabkitError
from labkit.lab.profiles import BY_NOTEBOOK
from labkit.paths import data_home, labkit_home
from labkit.runs.layout import metrics_complete


def run_dataset(run) -> str:
    """The dataset a run reads: its `dataset` parameter, else its notebook's profile row ("" when neither)."""
    given = run.parameters.get("dataset")
    if given:
        return str(given)
    row = BY_NOTEBOOK.get(run.notebook, {}).get(run.parameters.get("profile"), {})
    return str(row.get("dataset") or "")


def _file_family(dataset: str) -> tuple[str, str] | None:
    """("tinyllm", "obqa") for a dataset read from the papers' files, None for anything else."""
    family, _, short = dataset.partition(":")
    return (family, short) if short and family in data.FILE_DATASETS else None


def reads_paper_data(run) -> bool:
    """True when the run reads the papers' data files (TinyLLM's or distilling step-by-step's release)."""
    return _file_family(run_dataset(run)) is not None


def run_data_dir(run) -> Path | None:
    """Where the run will look for its files: its data_dir parameter, else $LABKIT_DATA / $LABKIT_HOME/data."""
    given = run.parameters.get("data_dir")
    return Path(given).expanduser() if given else data.default_data_dir()


@dataclass
class MissingData:
    """Runs whose datasets are not in one data folder."""

    folder: Path  # where they looked (data_home() when nothing is set)
    families: list[str] = field(default_factory=list)  # releases to fetch: tinyllm, dss
    datasets: list[str] = field(default_factory=list)
    runs: list = field(default_factory=list)

    def fetch_command(self) -> str:
        """`labkit data fetch ...`, with --dest unless the folder is $LABKIT_HOME/data (where --data-dir sets
        $LABKIT_DATA for the runs only, a bare fetch in the user's shell would land elsewhere)."""
        dest = "" if self.folder == labkit_home() / "data" else f" --dest {self.folder}"
        return f"labkit data fetch {' '.join(self.families)}{dest}"


def missing_data(runs, *, redo: bool = False) -> list[MissingData]:
    """The runs (still to do: complete ones are skipped by the batch unless redo) whose dataset files
    are not where the run will look, grouped by folder."""
    groups: dict[Path, MissingData] = {}
    found: dict[tuple, bool] = {}
    for run in runs:
        if not redo and metrics_complete(Path(run.out_dir), run.parameters):
            continue
        dataset = run_dataset(run)
        family = _file_family(dataset)
        if family is None:
            continue
        folder = run_data_dir(run)
        key = (folder, *family)
        if key not in found:
            try:
                data._dataset_dir(*family, folder)  # the notebook's own lookup (labkit.data)
                found[key] = True
            except LabkitError:
                found[key] = False
        if found[key]:
            continue
        group = groups.setdefault(folder or data_home(), MissingData(folder=folder or data_home()))
        group.runs.append(run)
        if family[0] not in group.families:
            group.families = [f for f in data.FILE_DATASETS if f in {*group.families, family[0]}]
        if dataset not in group.datasets:
            group.datasets.append(dataset)
    return list(groups.values())


def describe(missing: list[MissingData], n_runs: int) -> str:
    """One message for every run that lacks its data: how many, which notebooks at which profile, the folder
    and the command that provides it."""
    lines = []
    for group in missing:
        notebooks = sorted({r.notebook[:2] for r in group.runs})
        profiles = sorted({str(r.parameters.get("profile")) for r in group.runs})
        lines.append(
            f"{len(group.runs)} of {n_runs} runs need the papers' data ({', '.join(group.datasets)}) in "
            f"{group.folder}, which does not hold it (notebook{'s' * (len(notebooks) > 1)} "
            f"{', '.join(notebooks)} at profile {', '.join(profiles)}):"
        )
        lines.append(
            f"  run `{group.fetch_command()}`, or pass --data-dir DIR (or set LABKIT_DATA=DIR) for a "
            f"folder holding tinyllm/ and dss/"
        )
        per_notebook = {}
        for r in group.runs:
            per_notebook[r.notebook] = per_notebook.get(r.notebook, 0) + 1
        lines.append("  runs: " + ", ".join(f"{nb} ({n})" for nb, n in sorted(per_notebook.items())))
    return "\n".join(lines)


def check_data(runs, *, redo: bool = False) -> None:
    """Raise before anything runs when some run would not find its data (see missing_data); nothing is written."""
    missing = missing_data(runs, redo=redo)
    if missing:
        raise LabkitError(describe(missing, len(runs)) + "\nnothing was run (runs on synthetic data need no files)")
