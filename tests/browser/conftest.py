"""One JupyterLab server and one headless Chromium per session (see labdriver.py); `make test-browser` runs these.

Skipped unless LABKIT_BROWSER_TESTS=1 (set by `make test-browser`), so `make test` does not start a browser.
Screenshots and the server's log go to $LABKIT_BROWSER_OUT (default runs/browser/<time>); the path is printed.
"""

import os
import shutil
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import labdriver as L

ENABLED = os.environ.get("LABKIT_BROWSER_TESTS") == "1"
HERE = Path(__file__).parent


def pytest_collection_modifyitems(config, items):
    if ENABLED:
        return
    skip = pytest.mark.skip(reason="browser tests: run `make test-browser` (sets LABKIT_BROWSER_TESTS=1)")
    for item in items:
        if HERE in Path(item.fspath).parents:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def out_dir(request):
    out = Path(os.environ.get("LABKIT_BROWSER_OUT") or L.ROOT / "runs" / "browser" / time.strftime("%Y%m%d-%H%M%S"))
    out = out.resolve()
    for sub in ("screenshots", "notebooks"):  # this suite's own folders, emptied each run
        shutil.rmtree(out / sub, ignore_errors=True)
        (out / sub).mkdir(parents=True)
    request.config.stash[OUT_KEY] = out
    with request.config.pluginmanager.get_plugin("capturemanager").global_and_fixture_disabled():
        print(f"\nbrowser tests: screenshots and server log under {out}", flush=True)
    return out


OUT_KEY = pytest.StashKey[Path]()


def pytest_terminal_summary(terminalreporter, config):
    out = config.stash.get(OUT_KEY, None)
    if out is not None:
        shots = sorted((out / "screenshots").glob("*.png"))
        terminalreporter.write_line(
            f"browser tests: {len(shots)} screenshots in {out / 'screenshots'}; server log {out / 'jupyterlab.log'}"
        )


@pytest.fixture(scope="session")
def lab(out_dir):
    """The JupyterLab server, serving out_dir/notebooks; stopped at the end of the session whatever happens."""
    server = L.Lab(out_dir / "notebooks", out_dir / "jupyterlab.log")
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=L.chromium(), headless=True)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def open_notebook(lab, browser, out_dir):
    """open_notebook(name, **params) -> NotebookPage: a prepared copy of notebooks/<name>.ipynb (smoke,
    interactive) opened in a fresh page; the page closes and the kernel shuts down after the test."""
    pages = []

    def open_(name, source=None, **params):
        L.prepare(name, out_dir / "notebooks", source=source, **params)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        nb = L.NotebookPage(page, lab, f"{name}.ipynb")
        pages.append(nb)
        return nb.open()

    yield open_
    for nb in pages:
        try:
            nb.page.close()
        finally:
            for s in lab.api("/api/sessions"):
                if s["path"].endswith(nb.path):
                    lab.delete(f"/api/sessions/{s['id']}")
