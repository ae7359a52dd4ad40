"""Each notebook with a widget panel, at profile="smoke" with interactive=True, in JupyterLab in Chromium:
run all, no errors or library warnings, the panel rendered as widgets with usable sliders and whole labels,
then a control moved as a user moves it: the value is written back in the kernel, the figure or re-run
output changes, nothing goes to the Log Console.

A notebook is checked when SPECS names the controls to move (add new notebooks here as they land).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

MIN_TRACK_PX = 150  # a slider track a mouse can drag
AVAILABLE = "the datasets this machine has"


@dataclass
class Move:
    """One user action on a control (by its description as shown) and what the kernel then holds.

    how: ("keys", key, times) | ("drag", fraction of the track) | ("choose", option label) | ("click",)
         | ("type", text): the text typed into a text box, then Enter
    check: a Python expression evaluated in the kernel after the move; expect: its repr (None: just "changed").
    """

    control: str
    how: tuple
    check: str
    expect: str | None = None


@dataclass
class Spec:
    panel_cell: str  # text in the source of the cell that displays the panel
    moves: list
    widgets: dict = field(default_factory=dict)  # css class -> minimum number visible in the panel
    changes: str | None = "panel"  # whose picture must change: "panel" (its Output), "rerun" (that cell's
    # output) or None (the re-run's output need not look different: rerun_check)
    rerun: str | None = None  # a cell the user runs after the moves (text in its source)
    rerun_check: tuple = ()  # (expression, repr expected in the kernel after the re-run)
    dropdowns: dict = field(default_factory=dict)  # dropdown description -> exactly these options (or AVAILABLE)
    run_timeout_s: int = 240
    needs_models: tuple = ()  # embedded models whose files the panel needs (skipped when not cached)


SPECS = {
    "00_kl_mode_seeking": Spec(
        panel_cell="mode_seeking_live(globals())",
        widgets={"widget-slider": 5},
        moves=[
            Move("JSD β", ("keys", "ArrowRight", 4), "beta", "0.7"),
            Move("weight of left mode", ("drag", 0.1), "weight < 0.3 and sorted(panel.fits)", None),
        ],
    ),
    "01_distilling_step_by_step": Spec(
        panel_cell="dss_panel(globals())",
        widgets={"widget-slider": 1, "widget-dropdown": 1, "widget-select-multiple": 1, "widget-text": 1},
        dropdowns={"dataset": AVAILABLE},
        moves=[
            Move("λ (rationale loss weight)", ("keys", "ArrowLeft", 10), "lam", "0.5"),
            Move("dataset", ("choose", "synthetic:tracking"), "dataset", "'synthetic:tracking'"),
        ],
        # at smoke both arms can score the same for λ 1 and 0.5: check the re-run used λ, not its picture
        changes=None,
        rerun="mine = [a for a in students.dss_arms",
        rerun_check=("next(a for a in mine if a.label == 'step-by-step').settings['lam']", "0.5"),
    ),
    "02_tinyllm_multi_teacher": Spec(
        panel_cell="tinyllm_panel(globals())",
        widgets={"widget-slider": 3, "widget-select-multiple": 1, "widget-toggle-buttons": 1},
        moves=[
            Move("in-context examples k", ("keys", "ArrowLeft", 1), "in_context", "1"),
            Move("α[noisy-oracle@p=0.2]", ("drag", 0.5), "alphas['noisy-oracle@p=0.2']"),
        ],
        changes=None,
        rerun="mine = alphas if",
        rerun_check=("mine == alphas and mine['noisy-oracle@p=0.2'] != 1.0", "True"),
    ),
    "03_minillm_reverse_kl": Spec(  # each move re-runs one seed: `single` is a new result each time
        panel_cell="widgets.minillm_panel(globals())",
        widgets={"widget-slider": 2, "widget-checkbox": 2, "widget-select-multiple": 1, "widget-text": 1},
        changes=None,
        moves=[
            Move("teacher-mix α", ("keys", "ArrowRight", 1), "teacher_mix, id(single)"),
            Move("length normalisation", ("click",), "length_norm, id(single)"),
        ],
    ),
    "04_gkd_on_policy": Spec(
        panel_cell="widgets.gkd_panel(globals())",
        widgets={"widget-slider": 2, "widget-dropdown": 1},
        moves=[
            Move(
                "λ (on-policy fraction)",
                ("keys", "ArrowRight", 1),
                "round(single['lmbda'], 3), round(lmbda, 3)",
                "(0.6, 0.6)",
            )
        ],
    ),
    "05_survey_map": Spec(  # each move re-runs the chosen miniature for one seed, under the panel
        panel_cell="widgets.survey_panel(globals())",
        widgets={"widget-slider": 8, "widget-dropdown": 1, "widget-checkbox": 1},
        changes=None,
        moves=[
            Move(
                "method",
                ("choose", "scott"),
                "method, sorted(r.arm for r in live)",
                "('scott', ['consistent only · p=0.3'])",
            ),
            Move(
                "SCOTT: keep consistent rationales only",
                ("click",),
                "scott_filter, sorted(r.arm for r in live)",
                "(False, ['unfiltered · p=0.3'])",
            ),
            Move(
                "SCOTT regime: teacher rationales disagreeing with the label",
                ("keys", "ArrowRight", 1),
                "round(knob_scott_p, 2), sorted(r.arm for r in live)",
                "(0.35, ['unfiltered · p=0.35'])",
            ),
        ],
    ),
    "07_on_policy_distillation": Spec(  # choosing an arm re-runs it for one seed, under the panel
        panel_cell="onpolicy.panel(globals(), P)",
        widgets={"widget-dropdown": 2},
        moves=[Move("arm", ("choose", "rl"), "single['arm'], arm", "('rl', 'rl')")],
    ),
    "06_cross_tokenizer": Spec(  # the alignment viewer: type a sentence, the coloured HTML below follows
        panel_cell="xtok.viewer_panel(globals(), pair)",
        widgets={"widget-text": 1},
        needs_models=("gemma3-270m", "smollm2-135m-instruct"),
        moves=[
            Move(
                "sentence",
                ("type", "Zoë paid 1234 naïve € for 2 apples"),
                "sentence",
                "'Zoë paid 1234 naïve € for 2 apples'",
            )
        ],
    ),
}


def _shot(locator, path):
    locator.scroll_into_view_if_needed()
    return locator.screenshot(path=str(path), animations="disabled")


def check_notebook(nb, spec: Spec, shots) -> dict:
    """Run the checks of the module docstring on an open NotebookPage; AssertionErrors name the notebook and,
    once a control is involved, the control. Returns {what: seconds}."""
    import time

    name, seconds = nb.name, {}
    assert nb.kernel_name() == "Python (labkit)", f"{name}: opened with kernel {nb.kernel_name()!r}, not the labkit one"
    t = time.monotonic()
    nb.run_all(spec.run_timeout_s * 1000)
    seconds["run all"] = time.monotonic() - t
    panel = nb.code_cell(spec.panel_cell)
    _shot(panel, shots / f"{name}-1-after-run.png")
    problems = nb.problems()
    assert not problems, f"{name}: after Run All Cells:\n" + "\n".join(problems)

    # the panel is widgets, not a text repr
    texts = " ".join(panel.locator(".jp-OutputArea-output").all_inner_texts())
    assert "(children=" not in texts and "Loading widget" not in texts, (
        f"{name}: the panel shows as text, not widgets (is the ipywidgets front-end installed?): {texts[:200]}"
    )
    for css, n in spec.widgets.items():
        seen = sum(1 for el in panel.locator(f".{css}").all() if el.is_visible())
        assert seen >= n, f"{name}: {seen} visible .{css} in the panel, expected at least {n}"
    for g in nb.slider_geometry():
        assert g["track"] >= MIN_TRACK_PX, (
            f"{name}: slider {g['description']!r}: track {g['track']:.0f} px wide (< {MIN_TRACK_PX}): cannot be dragged"
        )
    cut = [
        label
        for label in panel.locator(".widget-label").evaluate_all(
            "els => els.filter(e => e.offsetParent && e.scrollWidth > e.clientWidth + 1).map(e => e.textContent)"
        )
    ]
    assert not cut, f"{name}: control labels cut off: {cut}"
    for description, options in spec.dropdowns.items():
        offered = nb.dropdown_options(description)
        if options == AVAILABLE:
            from labkit.lab.widgets import available_datasets

            options, missing = available_datasets()
            assert not set(offered) & set(missing), f"{name}: dropdown {description!r} offers unavailable {missing}"
        assert sorted(offered) == sorted(options), (
            f"{name}: dropdown {description!r} offers {offered}; expected what this machine has: {options}"
        )

    # move the controls as a user does
    if spec.changes == "panel":
        target = panel.locator(".widget-output").first
    elif spec.rerun:
        target = nb.code_cell(spec.rerun).locator(".jp-Cell-outputArea")
    else:
        target = panel
    before = _shot(target, shots / f"{name}-2-before-move.png")
    t = time.monotonic()
    for m in spec.moves:
        old = nb.kernel(f"print(repr(({m.check})))").strip()
        kind, *args = m.how
        if kind == "keys":
            nb.slider_keys(m.control, *args)
        elif kind == "drag":
            nb.slider_drag(m.control, *args)
        elif kind == "click":
            nb.click(m.control)
        elif kind == "type":
            nb.type_text(m.control, *args)
        else:
            nb.choose(m.control, *args)
        nb.wait_idle(spec.run_timeout_s * 1000)
        new = nb.kernel(f"print(repr(({m.check})))").strip()
        assert not new.startswith("ERROR"), f"{name}: control {m.control!r}: reading `{m.check}` failed: {new}"
        assert new != old, f"{name}: control {m.control!r} moved ({kind} {args}) but `{m.check}` stayed {old}"
        if m.expect is not None:
            assert new == m.expect, f"{name}: control {m.control!r}: `{m.check}` is {new}, expected {m.expect}"
    if spec.rerun:
        nb.run_cell(spec.rerun, spec.run_timeout_s * 1000)
    if spec.rerun_check:
        expr, expect = spec.rerun_check
        got = nb.kernel(f"print(repr(({expr})))").strip()
        assert got == expect, f"{name}: after moving the controls and re-running: `{expr}` is {got}, expected {expect}"
    seconds["moves and re-run"] = time.monotonic() - t
    after = _shot(target, shots / f"{name}-3-after-move.png")
    _shot(panel, shots / f"{name}-4-panel-after-move.png")
    controls = ", ".join(repr(m.control) for m in spec.moves)
    problems = nb.problems()
    assert not problems, f"{name}: after moving {controls}:\n" + "\n".join(problems)
    if spec.changes:
        assert before != after, f"{name}: after moving {controls} the {spec.changes} output looks the same"
    log = nb.log_console().strip()
    _shot(nb.page.locator(".jp-LogConsolePanel").first, shots / f"{name}-5-log-console.png")
    assert not log or log.startswith("No log messages"), (
        f"{name}: after moving {controls}, output went to JupyterLab's Log Console instead of the "
        f"notebook:\n{log[:600]}"
    )
    return seconds


@pytest.mark.parametrize("name", list(SPECS))
def test_notebook_in_jupyterlab(name, open_notebook, out_dir):
    import time

    from labkit import models

    missing = [m for m in SPECS[name].needs_models if not models.is_cached(m)]
    if missing:
        pytest.skip(f"{name}: its panel needs {missing} (not cached: `labkit models fetch {' '.join(missing)}`)")
    t = time.monotonic()
    nb = open_notebook(name)
    seconds = {"open": time.monotonic() - t, **check_notebook(nb, SPECS[name], out_dir / "screenshots")}
    print(f"{name}: " + ", ".join(f"{k} {v:.0f} s" for k, v in seconds.items()))
