"""Each notebook's one source is notebooks/NN_name.py (jupytext percent); the paired .ipynb that papermill
and JupyterLab open must hold the same cells (`make notebooks` syncs them), without outputs."""

from pathlib import Path

import pytest

jupytext = pytest.importorskip("jupytext")
nbformat = pytest.importorskip("nbformat")

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
SCRIPTS = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.py"))


def _cells(nb) -> list[tuple]:
    return [(c.cell_type, c.source, tuple(c.metadata.get("tags", ()))) for c in nb.cells]


def test_every_notebook_has_a_text_source_and_vice_versa():
    assert SCRIPTS, "no notebooks/NN_*.py sources"
    assert {p.stem for p in SCRIPTS} == {p.stem for p in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")}


@pytest.mark.parametrize("script", SCRIPTS, ids=[p.stem for p in SCRIPTS])
def test_ipynb_agrees_with_its_percent_script(script):
    text = jupytext.read(script)
    ipynb = nbformat.read(script.with_suffix(".ipynb"), as_version=4)
    a, b = _cells(text), _cells(ipynb)
    diff = [i for i, (x, y) in enumerate(zip(a, b)) if x != y]
    assert len(a) == len(b) and not diff, (
        f"{script.name} and its .ipynb disagree (cells {diff[:5]}, {len(a)} vs {len(b)} cells): run `make notebooks`"
    )


@pytest.mark.parametrize("script", SCRIPTS, ids=[p.stem for p in SCRIPTS])
def test_ipynb_is_committed_without_outputs_and_names_the_labkit_kernel(script):
    ipynb = nbformat.read(script.with_suffix(".ipynb"), as_version=4)
    code = [c for c in ipynb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code), script.name
    assert ipynb.metadata.kernelspec.name == "labkit"
    assert ipynb.metadata.kernelspec.display_name == "Python (labkit)"
    tagged = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, f"{script.name}: expected one cell tagged parameters"


@pytest.mark.parametrize("script", SCRIPTS, ids=[p.stem for p in SCRIPTS])
def test_notebook_code_cells_are_short_glue(script):
    long = [
        c.source.splitlines()[0]
        for c in jupytext.read(script).cells
        if c.cell_type == "code" and len(c.source.splitlines()) > 15 and "parameters" not in c.metadata.get("tags", [])
    ]  # parameters: literals, one per line
    assert not long, f"{script.name}: code cells over 15 lines (move the code into labkit): {long}"
