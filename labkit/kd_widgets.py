"""Widget panels of notebooks 03 (MiniLLM switches) and 04 (GKD λ, β), built on labkit.widgets.panel:
every control writes its value back to the notebook variable of the same name.

(Kept beside labkit.widgets, whose owner may fold these functions in.)
"""
from __future__ import annotations

from typing import Callable

from labkit.widgets import Panel, _slider, _w, panel


def minillm_panel(namespace: dict, on_change: Callable | None = None) -> Panel:
    """methods (multi-select), single_step, teacher_mix (α), length_norm, lm_weight, max_steps."""
    from labkit.kd import METHODS
    w = _w()
    ns = namespace
    controls = {
        "methods": w.SelectMultiple(options=list(METHODS), value=tuple(ns.get("methods", METHODS)),
                                    description="methods", rows=len(METHODS)),
        "single_step": w.Checkbox(value=bool(ns.get("single_step", True)), description="single-step decomposition"),
        "teacher_mix": _slider(float(ns.get("teacher_mix", 0.2)), 0.0, 0.9, 0.05, "teacher-mix α"),
        "length_norm": w.Checkbox(value=bool(ns.get("length_norm", True)), description="length normalisation"),
        "lm_weight": _slider(float(ns.get("lm_weight", 0.0)), 0.0, 2.0, 0.1, "LM loss weight"),
        "max_steps": w.IntText(value=int(ns.get("max_steps", 0)), description="max_steps (0 = profile)"),
    }
    readers = {"methods": lambda c: list(c.value)}
    return panel(namespace, controls, on_change, "MiniLLM switches", readers)


def gkd_panel(namespace: dict, on_change: Callable | None = None,
              metrics: tuple = ("teacher_loglik", "rouge_l", "distinct_2")) -> Panel:
    """lmbda and beta of the single re-runnable GKD run, and the heat map's metric."""
    w = _w()
    ns = namespace
    controls = {
        "lmbda": _slider(float(ns.get("lmbda", 0.5)), 0.0, 1.0, 0.1, "λ (on-policy fraction)"),
        "beta": _slider(float(ns.get("beta", 0.5)), 0.0, 1.0, 0.1, "β (0 forward KL … 1 reverse KL)"),
        "metric": w.Dropdown(options=list(metrics), value=ns.get("metric", metrics[0]), description="metric"),
    }
    return panel(namespace, controls, on_change, "GKD: one run", None)
