"""`make lab` brings the labkit kernel and the widget front-end: checked on the server the suite started
from `make lab`'s own command line (labdriver.make_lab_command) and on the page it serves."""

import json
import os
from pathlib import Path

import labdriver as L

WIDGETS = "@jupyter-widgets/jupyterlab-manager"


def test_the_server_runs_make_labs_command(lab):
    cmd = L.make_lab_command()
    assert Path(cmd[0]).name == "jupyter" and Path(cmd[0]).exists(), cmd
    assert cmd[1] == "lab" and "notebooks/" in cmd
    assert ("--allow-root" in cmd) == (os.geteuid() == 0), f"`make lab` as uid {os.geteuid()}: {cmd}"
    assert lab.proc.poll() is None, "the JupyterLab server has exited"


def test_labkit_kernel_is_listed(lab):
    specs = lab.api("/api/kernelspecs")["kernelspecs"]
    assert "labkit" in specs, f"kernel specs of `make lab`: {sorted(specs)}; expected labkit (make setup installs it)"
    spec = specs["labkit"]["spec"]
    assert spec["display_name"] == "Python (labkit)"
    python, jupyter = Path(spec["argv"][0]), Path(L.make_lab_command()[0])
    assert python.parent.resolve() == jupyter.parent.resolve(), f"labkit kernel runs {python}, not {jupyter}'s venv"


def test_widget_front_end_is_installed_and_enabled(lab, browser):
    page = browser.new_page()
    try:
        page.goto(f"{lab.url}/lab?token={lab.token}")
        config = json.loads(page.locator("#jupyter-config-data").text_content())
    finally:
        page.close()
    names = [e["name"] for e in config.get("federated_extensions", [])]
    assert WIDGETS in names, f"JupyterLab extensions of `make lab`: {names}; the ipywidgets front-end is missing"
    disabled = config.get("disabledExtensions", [])
    disabled = disabled if isinstance(disabled, list) else [k for k, v in disabled.items() if v]
    assert not any(d.startswith(WIDGETS) for d in disabled), f"{WIDGETS} is disabled: {disabled}"
