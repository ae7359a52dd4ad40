"""JupyterLab in a headless browser: start the server as `make lab` does, drive a notebook through its UI.

The server is `make lab`'s own command line (read with `make -n lab`), pointed at a folder of prepared
notebook copies, headless, on 127.0.0.1 with a random port and a token. The browser is the distribution's
Chromium (/usr/bin/chromium, `make test-browser` installs it), driven by Python Playwright; nothing here
downloads a browser build.

`--LabApp.expose_app_in_browser` gives the page `window.jupyterapp`; the tests use it only to *read* state
(the kernel's variables, the cells' outputs); what a user does (run all, move a slider, pick an entry) goes
through the page.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
CHROMIUM = os.environ.get("LABKIT_CHROMIUM", "/usr/bin/chromium")
WARNING = re.compile(r"\b\w*Warning\b|Traceback")


# --------------------------------------------------------------------------- the server


def make_lab_command() -> list[str]:
    """`make lab`'s JupyterLab command line, as make would run it (`make -n lab`), split into words."""
    out = subprocess.run(["make", "-n", "lab"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    lines = [ln for ln in out.splitlines() if " lab " in f" {ln} " and "jupyter" in ln]
    if len(lines) != 1:
        raise RuntimeError(f"expected one `jupyter lab` line in `make -n lab`, got:\n{out}")
    return shlex.split(lines[0])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Lab:
    """A JupyterLab server started from `make lab`'s command line; stop() ends it and its kernels."""

    def __init__(self, folder: Path, log: Path):
        cmd = make_lab_command()
        if "notebooks/" not in cmd:
            raise RuntimeError(f"`make lab` no longer opens notebooks/: {cmd}; update tests/browser/labdriver.py")
        cmd[cmd.index("notebooks/")] = str(folder)
        self.port, self.token = free_port(), secrets.token_hex(16)
        self.command = cmd + [
            "--no-browser",
            "--ip=127.0.0.1",
            f"--port={self.port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={self.token}",
            "--LabApp.expose_app_in_browser=True",
            f"--LabApp.workspaces_dir={log.parent / 'workspaces'}",
        ]
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        self._log_file = open(log, "w")  # noqa: SIM115 (closed in stop())
        self.proc = subprocess.Popen(
            self.command, cwd=ROOT, stdout=self._log_file, stderr=subprocess.STDOUT, start_new_session=True
        )

    def wait_ready(self, timeout: float = 120.0):
        """Poll /api/status until the server answers (or fail with the server's log)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"JupyterLab exited with {self.proc.returncode}:\n{self.log.read_text()[-3000:]}")
            try:
                req = urllib.request.Request(f"{self.url}/api/status", headers={"Authorization": f"token {self.token}"})
                with urllib.request.urlopen(req, timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.5)
        raise RuntimeError(f"JupyterLab did not answer within {timeout:.0f} s:\n{self.log.read_text()[-3000:]}")

    def api(self, path: str, method: str = "GET"):
        req = urllib.request.Request(
            f"{self.url}{path}", method=method, headers={"Authorization": f"token {self.token}"}
        )
        with urllib.request.urlopen(req, timeout=30) as r:
            body = r.read()
        return json.loads(body) if body else None

    def delete(self, path: str):
        return self.api(path, "DELETE")

    def stop(self):
        """SIGTERM to the server's process group (its kernels are in it too), SIGKILL after 20 s."""
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(20)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait(10)
        self._log_file.close()


# --------------------------------------------------------------------------- notebooks


def prepare(name: str, folder: Path, source: Path | None = None, **params) -> Path:
    """notebooks/<name>.ipynb (or source) copied into folder/<name>.ipynb with papermill's injected-parameters
    cell (profile="smoke", interactive=True, out_dir=folder/runs/<name>, then params)."""
    from papermill.iorw import load_notebook_node
    from papermill.parameterize import parameterize_notebook

    nb = load_notebook_node(str(source or NOTEBOOKS / f"{name}.ipynb"))
    params = {"profile": "smoke", "interactive": True, "out_dir": str(folder / "runs" / name), **params}
    nb = parameterize_notebook(nb, params)
    nb.metadata.pop("papermill", None)
    path = folder / f"{name}.ipynb"
    nbformat.write(nb, path)
    return path


def chromium() -> str:
    path = shutil.which(CHROMIUM) or CHROMIUM
    if not Path(path).exists():
        raise RuntimeError(
            f"no Chromium at {CHROMIUM}: `make test-browser` installs Debian's chromium "
            f"(apt-get install chromium); or set LABKIT_CHROMIUM"
        )
    return path


# --------------------------------------------------------------------------- one notebook in the page

_PANEL = "Array.from(window.jupyterapp.shell.widgets('main')).find(w => w.context && w.context.path === path)"

_KERNEL_EVAL = f"""async ([path, code]) => {{
  const w = {_PANEL};
  const f = w.sessionContext.session.kernel.requestExecute({{code, store_history: false}});
  let out = '';
  f.onIOPub = m => {{
    const c = m.content, t = m.header.msg_type;
    if (t === 'stream') out += c.text;
    if (t === 'execute_result') out += c.data['text/plain'];
    if (t === 'error') out += 'ERROR ' + c.ename + ': ' + c.evalue;
  }};
  await f.done;
  return out;
}}"""

_CELLS = f"""(path) => {{
  const w = {_PANEL}, cells = w.content.model.cells, res = [];
  for (let i = 0; i < cells.length; i++) res.push(cells.get(i).toJSON());
  return res;
}}"""

_IDLE = f"""(path) => {{
  const w = {_PANEL};
  const k = w && w.sessionContext.session && w.sessionContext.session.kernel;
  if (!k || k.status !== 'idle') return false;
  return !Array.from(w.node.querySelectorAll('.jp-InputPrompt')).some(e => e.textContent.includes('*'));
}}"""


class NotebookPage:
    """A notebook open in the JupyterLab UI of `lab` (a Lab), in a Playwright page."""

    def __init__(self, page, lab: Lab, path: str):
        self.page, self.lab, self.path = page, lab, path
        self.name = Path(path).stem

    def open(self, timeout_ms: int = 120_000):
        # ?reset: a fresh workspace, so that the tabs of earlier tests do not reopen (and start kernels)
        self.page.goto(f"{self.lab.url}/lab/tree/{self.path}?reset&token={self.lab.token}")
        self.page.wait_for_function(
            f"(path) => {{ const w = window.jupyterapp && {_PANEL}; "
            "return !!(w && w.sessionContext.session && w.sessionContext.session.kernel "
            "&& w.sessionContext.session.kernel.status === 'idle'); }",
            arg=self.path,
            timeout=timeout_ms,
            polling=500,
        )
        # JupyterLab's toasts ("get notified about Jupyter news?") would cover the screenshots
        self.page.add_style_tag(content=".Toastify__toast-container { display: none !important; }")
        return self

    @property
    def notebook(self):
        return self.page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)")

    def kernel_name(self) -> str:
        return self.page.evaluate(f"(path) => {_PANEL}.sessionContext.kernelDisplayName", self.path)

    def kernel(self, code: str) -> str:
        """Run code in the notebook's kernel (not in a cell); its printed text."""
        return self.page.evaluate(_KERNEL_EVAL, [self.path, code])

    def cells(self) -> list[dict]:
        """The notebook's cells as nbformat dicts (with outputs), read from the page's model."""
        return self.page.evaluate(_CELLS, self.path)

    def wait_idle(self, timeout_ms: int):
        """Until the kernel is idle and no cell shows [*]."""
        from playwright.sync_api import TimeoutError as PlaywrightTimeout

        self.page.wait_for_timeout(500)
        try:
            self.page.wait_for_function(_IDLE, arg=self.path, timeout=timeout_ms, polling=1000)
        except PlaywrightTimeout:
            raise AssertionError(
                f"{self.name}: the kernel is still busy (or a cell shows [*]) after {timeout_ms / 1000:.0f} s"
            ) from None

    def menu(self, menu: str, item: str):
        self.page.locator("li.lm-MenuBar-item", has_text=menu).first.click()
        self.page.locator(".lm-Menu-item:visible", has=self.page.get_by_text(item, exact=True)).first.click()

    def run_all(self, timeout_ms: int):
        self.menu("Run", "Run All Cells")
        self.wait_idle(timeout_ms)

    def run_cell(self, contains: str, timeout_ms: int):
        """Select the code cell whose source contains `contains` and run it with Shift+Enter."""
        cell = self.code_cell(contains)
        cell.locator(".jp-InputPrompt").click()
        self.page.keyboard.press("Shift+Enter")
        self.wait_idle(timeout_ms)
        return cell

    def code_cell(self, contains: str):
        index = [i for i, c in enumerate(self.cells()) if contains in "".join(c["source"])]
        if len(index) != 1:
            raise AssertionError(f"{self.name}: expected one cell containing {contains!r}, found {len(index)}")
        return self.notebook.locator(".jp-Cell").nth(index[0])

    def problems(self) -> list[str]:
        """Error outputs, and tracebacks or library warnings in any output (cell outputs and widget Outputs)."""
        found = []
        for i, c in enumerate(self.cells()):
            for o in c.get("outputs", []):
                if o["output_type"] == "error":
                    found.append(f"cell {i}: {o['ename']}: {o['evalue']}")
                text = "".join(o.get("text", "")) + "".join(o.get("data", {}).get("text/plain", ""))
                if WARNING.search(text):
                    found.append(f"cell {i}: {o.get('name', o['output_type'])}: {text.strip()[:300]}")
        for text in self.notebook.locator(".jp-OutputArea-output").all_inner_texts():
            if WARNING.search(text) and not any(text.strip()[:80] in f for f in found):
                found.append(f"output: {text.strip()[:300]}")
        return found

    def log_console(self) -> str:
        """The text of JupyterLab's Log Console for this notebook (outputs that reached no cell)."""
        self.page.evaluate(
            "(path) => window.jupyterapp.commands.execute('logconsole:open', "
            "{source: path, insertMode: 'split-bottom'})",
            self.path,
        )
        panel = self.page.locator(".jp-LogConsolePanel").first
        panel.wait_for(state="visible", timeout=10_000)
        return panel.inner_text()

    # ------------------------------------------------------------- widgets

    def widget(self, kind: str, description: str):
        """A widget of class widget-<kind> (slider, dropdown, checkbox ...) with this description."""
        loc = self.notebook.locator(f".widget-{kind}").filter(has_text=description)
        n = loc.count()
        if n != 1:
            raise AssertionError(f"{self.name}: expected one {kind} {description!r} in the page, found {n}")
        return loc.first

    def slider_keys(self, description: str, key: str, times: int):
        handle = self.widget("slider", description).locator(".noUi-handle").first
        handle.focus()
        for _ in range(times):
            handle.press(key)

    def slider_drag(self, description: str, fraction: float):
        """Drag the slider's handle to `fraction` of its track (0 left end, 1 right end)."""
        slider = self.widget("slider", description)
        track = slider.locator(".noUi-target").first.bounding_box()
        handle = slider.locator(".noUi-handle").first.bounding_box()
        self.page.mouse.move(handle["x"] + handle["width"] / 2, handle["y"] + handle["height"] / 2)
        self.page.mouse.down()
        self.page.mouse.move(track["x"] + fraction * track["width"], track["y"] + track["height"] / 2, steps=8)
        self.page.mouse.up()

    def click(self, description: str):
        self.widget("checkbox", description).locator("input").click()

    def type_text(self, description: str, text: str):
        """Type into a text box as a user does (its value is sent on Enter: continuous_update=False)."""
        box = self.widget("text", description).locator("input").first
        box.fill(text)
        box.press("Enter")

    def choose(self, description: str, option: str):
        self.widget("dropdown", description).locator("select").select_option(label=option)

    def dropdown_options(self, description: str) -> list[str]:
        return self.widget("dropdown", description).locator("option").all_inner_texts()

    def slider_geometry(self) -> list[dict]:
        """Per visible slider: its description, track width (px) and whether the label is cut off."""
        return self.notebook.locator(".widget-slider").evaluate_all("""els => els.map(e => {
            const label = e.querySelector('.widget-label'), track = e.querySelector('.noUi-target');
            return {description: label ? label.textContent : '', track: track ? track.getBoundingClientRect().width : 0,
                    cut: label ? label.scrollWidth > label.clientWidth + 1 : false,
                    visible: e.getBoundingClientRect().height > 0};
        })""")

    def count_visible(self, selector: str) -> int:
        return sum(1 for el in self.notebook.locator(selector).all() if el.is_visible())
