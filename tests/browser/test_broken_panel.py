"""The notebook checks fail, naming the notebook and the control, on a deliberately broken panel in a
temporary notebook: a callback that prints (its output lands in JupyterLab's Log Console), one that raises,
and a slider whose long label leaves no track."""

import nbformat
import pytest
from test_notebooks_in_lab import Move, Spec, check_notebook

PANELS = {
    # the old notebook 04 bug: the callback's output goes to the Log Console, not the notebook
    "prints": (
        'p = lk.lab.widgets.panel(globals(), {"x": lk.lab.widgets._slider(x, 0.0, 1.0, 0.1, "x (broken)")},\n'
        '                        on_change=lambda ns: print("result for x =", ns["x"]))'
    ),
    "raises": (
        'p = lk.lab.widgets.panel(globals(), {"x": lk.lab.widgets._slider(x, 0.0, 1.0, 0.1, "x (broken)")},\n'
        "                        on_change=lambda ns: 1 / 0)"
    ),
    # the old slider layout: a 300-px row whose long label leaves the track 0 px wide
    "no_track": (
        's = ipywidgets.FloatSlider(value=x, min=0.0, max=1.0, step=0.1, style={"description_width": "initial"},\n'
        '                           description="x (broken): a long description that takes the whole row")\n'
        'p = lk.lab.widgets.panel(globals(), {"x": s})'
    ),
}


def broken_notebook(path, kind):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "labkit", "display_name": "Python (labkit)", "language": "python"}
    nb.cells = [
        nbformat.v4.new_code_cell(
            'profile = "smoke"\ninteractive = True\nout_dir = ""\nx = 0.5', metadata={"tags": ["parameters"]}
        ),
        nbformat.v4.new_code_cell(
            "import ipywidgets\nimport labkit as lk\nfrom IPython.display import display\n"
            f"{PANELS[kind]}\ndisplay(p.widget)  # the broken panel"
        ),
    ]
    nbformat.write(nb, path)
    return path


@pytest.mark.parametrize("kind", list(PANELS))
def test_a_broken_panel_fails_naming_notebook_and_control(kind, open_notebook, out_dir, tmp_path):
    name = f"99_broken_{kind}"
    nb = open_notebook(name, source=broken_notebook(tmp_path / f"{name}.ipynb", kind))
    spec = Spec(
        panel_cell="# the broken panel",
        changes=None,
        widgets={"widget-slider": 1},
        moves=[Move("x (broken)", ("keys", "ArrowRight", 2), "x", "0.7")],
        run_timeout_s=60,
    )
    with pytest.raises(AssertionError) as failure:
        check_notebook(nb, spec, out_dir / "screenshots")
    message = str(failure.value)
    print(f"{name}: {message.splitlines()[0]}")
    assert name in message and "x (broken)" in message, message
