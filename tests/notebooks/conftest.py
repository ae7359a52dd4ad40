"""The one papermill runner every notebook test uses: a notebook from notebooks/, headless (profile
"smoke", interactive=False), in the kernel that runs this interpreter (labkit.runs.batch.pick_kernel)."""

import json
from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


def execute(name: str, out: Path, **params) -> dict:
    """Run notebooks/<name> into out/output.ipynb with out_dir=out; return its metrics.json.

    A failing cell raises papermill's PapermillExecutionError (output.ipynb is still written)."""
    pm = pytest.importorskip("papermill")
    from labkit.runs.batch import pick_kernel

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    pm.execute_notebook(
        str(NOTEBOOKS / name),
        str(out / "output.ipynb"),
        kernel_name=pick_kernel(),
        cwd=str(out),
        parameters={"profile": "smoke", "interactive": False, "out_dir": str(out), **params},
        progress_bar=False,
    )
    return json.loads((out / "metrics.json").read_text())


@pytest.fixture(scope="session")
def run_notebook():
    """execute(name, out, **params) -> metrics.json of the run (see execute)."""
    return execute
