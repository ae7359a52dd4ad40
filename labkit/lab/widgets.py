"""ipywidgets panels for the notebooks. A panel writes every control's value back to the
notebook's variables of the same name (the `namespace`, normally `globals()`), so the cells
below a panel read `beta`, `alphas`, `teachers` ... exactly as papermill would inject them.

    panel = lk.lab.widgets.mode_seeking_panel(globals(), on_change=redraw)
    display(panel.widget)

Widgets are built only when `lk.lab.notebook.show_widgets(interactive)` is True: headless
runs never import ipywidgets.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass, field

from labkit import data
from labkit import modeseek as ms
from labkit.errors import LabkitError
from labkit.lab import plots
from labkit.lab.params import known_datasets, known_teachers
from labkit.lab.profiles import WHITEBOX_METHODS


def _w():
    import ipywidgets  # lazy: headless runs never build widgets

    return ipywidgets


@dataclass
class Panel:
    """A set of controls bound to names in a namespace.

    Attributes:
        controls: {parameter name: widget}.
        widget: the box to display.
        namespace: the dict written to (the notebook's globals()).
    """

    controls: dict
    widget: object
    namespace: dict
    on_change: Callable | None = None
    readers: dict = field(default_factory=dict)  # name -> function(widget) -> value (default: .value)
    output: object = None  # an ipywidgets Output under the controls, for rerun()

    def value(self, name):
        reader = self.readers.get(name)
        return reader(self.controls[name]) if reader else self.controls[name].value

    def write_back(self, *_):
        for name in self.controls:
            self.namespace[name] = self.value(name)
        if self.on_change is not None:
            self.on_change(dict(self.namespace))

    def bind(self):
        for w in self.controls.values():
            w.observe(self.write_back, names="value")
        return self

    def rerun(self, run: Callable[[], object], store: str | None = None):
        """Call run() now and after every change, inside self.output: what it displays, prints or raises
        appears in the notebook (a callback's own output would go to JupyterLab's Log Console); its result
        is written to namespace[store]. Returns the first result (None if run raised; the traceback is shown).
        """

        def go(_ns=None):
            result = None
            self.output.clear_output(wait=True)
            with self.output:  # an exception is shown here and not raised (ipywidgets.Output.__exit__)
                result = run()
            _close_figures()
            if store is not None:
                self.namespace[store] = result
            return result

        self.on_change = go
        return go()


def _close_figures() -> None:
    """Close every open matplotlib figure after a callback: the inline backend draws the figures left open after
    the kernel's next execution, and after a widget callback that execution belongs to no cell, so they would land
    in JupyterLab's Log Console (a callback shows its results as tables; figures are drawn in cells)."""
    import sys

    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")


def _slider(value, lo, hi, step, description, integer=False):
    """A slider whose label takes its natural width and whose track the rest of a wide row: in the
    default 300-px row a long label left the track 0 px wide (only the keyboard could move it)."""
    w = _w()
    cls = w.IntSlider if integer else w.FloatSlider
    return cls(
        value=value,
        min=lo,
        max=hi,
        step=step,
        description=description,
        continuous_update=False,
        style={"description_width": "initial"},
        layout=w.Layout(width="100%", max_width="720px"),
    )


def _full_labels(controls):
    """Labels at their natural width (the default 80 px cut "data fractions" to "data fract…")."""
    for c in controls:
        if c.description and "description_width" in c.style.keys:
            c.style.description_width = "initial"
    return controls


def panel(
    namespace: dict,
    controls: dict,
    on_change: Callable | None = None,
    title: str | None = None,
    readers: dict | None = None,
    note: str | None = None,
    output: bool = False,
) -> Panel:
    """Bind prepared widgets {name: widget} to namespace; return the Panel. note: an HTML line under the
    controls; output: add an Output under them (panel.output, see Panel.rerun)."""
    w = _w()
    out = w.Output() if output else None
    children = ([w.HTML(f"<b>{title}</b>")] if title else []) + _full_labels(list(controls.values()))
    children += ([w.HTML(note)] if note else []) + ([out] if out is not None else [])
    return Panel(controls, w.VBox(children), namespace, on_change, readers or {}, out).bind()


# --------------------------------------------------------------------------- notebook 00


def mode_seeking_panel(namespace: dict, on_change: Callable | None = None) -> Panel:
    """separation, weight, beta (scene 1); degree (scene 2); student_order (scene 3)."""
    ns = namespace
    controls = {
        "separation": _slider(ns.get("separation", 4.0), 0.0, 10.0, 0.25, "mode separation"),
        "weight": _slider(ns.get("weight", 0.7), 0.05, 0.95, 0.05, "weight of left mode"),
        "beta": _slider(ns.get("beta", 0.5), 0.0, 1.0, 0.05, "JSD β (0 = forward KL, 1 = reverse KL)"),
        "degree": _slider(ns.get("degree", 2), 2, 6, 1, "student logit degree", integer=True),
        "student_order": _slider(ns.get("student_order", 1), 0, 3, 1, "student n-gram order", integer=True),
    }
    return panel(namespace, controls, on_change, "Mode seeking")


def mode_seeking_live(namespace: dict) -> Panel:
    """mode_seeking_panel plus a live scene-1 figure: every move refits the three Gaussians
    (forward KL, reverse KL, JSD β) to the two-mode mixture and redraws them.

    The latest fits are kept in panel.fits ({label: (μ, σ, divergence)}).
    """
    from IPython.display import display  # lazy: only in a live kernel

    w = _w()
    out = w.Output()
    x = ms.grid()

    def redraw(ns):
        p_x = ms.mixture_pdf(x, *ms.two_modes(ns["separation"], ns["weight"]))
        kinds = {
            "forward_kl": ("forward_kl", 0.0),
            "reverse_kl": ("reverse_kl", 1.0),
            f"jsd β={ns['beta']:g}": ("jsd", ns["beta"]),
        }
        p.fits = {label: ms.fit_gaussian(x, p_x, kind, b) for label, (kind, b) in kinds.items()}
        out.clear_output(wait=True)
        with out:
            fig = plots.gaussian_fits(x, p_x, {k: v[:2] for k, v in p.fits.items()})
            display(fig)
        plots.plt.close(fig)

    p = mode_seeking_panel(namespace, on_change=redraw)
    p.widget = w.VBox([p.widget, out])
    p.output = out
    redraw(dict(namespace, **{k: p.value(k) for k in p.controls}))
    return p


# --------------------------------------------------------------------------- notebook 01


def available_datasets(data_dir: str | None = None) -> tuple[list[str], dict[str, str]]:
    """The datasets this machine can load now, and {name: why not} for the others: synthetic tasks always;
    file datasets when their files are found (data_dir, else $LABKIT_DATA); hub datasets when the `datasets`
    package is installed (they still need the network)."""
    ok, missing = [], {}
    for name in known_datasets():
        family = name.split(":", 1)[0]
        if family == "hub":
            if importlib.util.find_spec("datasets") is None:
                missing[name] = "need `pip install 'labkit[hub]'` and the network"
                continue
        elif family != "synthetic":
            try:
                data.load_dataset(name, data.splits_of(name)[-1], n=1, data_dir=data_dir or None)
            except LabkitError:
                missing[name] = "need their data files (`labkit data fetch`, or data_dir=...)"
                continue
        ok.append(name)
    return ok, missing


def dss_panel(namespace: dict, datasets: list[str] | None = None, on_change: Callable | None = None) -> Panel:
    """lam (rationale weight λ), fractions (data-size sweep), dataset, n_train. The dataset dropdown offers
    `datasets`, by default the ones this machine has (available_datasets); a line says which are left out."""
    w = _w()
    ns = namespace
    missing = {}
    if datasets is None:
        datasets, missing = available_datasets(ns.get("data_dir"))
    dataset = ns.get("dataset", datasets[0])
    choices = [0.125, 0.25, 0.5, 0.75, 1.0]
    controls = {
        "lam": _slider(ns.get("lam", 1.0), 0.0, 3.0, 0.05, "λ (rationale loss weight)"),
        "fractions": w.SelectMultiple(
            options=choices,
            value=tuple(f for f in ns.get("fractions", choices) if f in choices),
            description="data fractions",
            rows=5,
        ),
        "dataset": w.Dropdown(options=sorted(set(datasets) | {dataset}), value=dataset, description="dataset"),
        "n_train": w.IntText(value=ns.get("n_train", 0), description="n_train (0 = profile)"),
    }
    readers = {"fractions": lambda c: sorted(c.value)}
    by_reason: dict = {}
    for name, why in missing.items():
        by_reason.setdefault(why, []).append(name)
    note = "<br>".join(
        f"<small>not offered here: {', '.join(names)}: {why}</small>" for why, names in by_reason.items()
    )
    return panel(namespace, controls, on_change, "Distilling step-by-step", readers, note=note or None)


# --------------------------------------------------------------------------- notebook 02


def tinyllm_panel(
    namespace: dict, teacher_options: list[str] | None = None, on_change: Callable | None = None
) -> Panel:
    """teachers (multi-select), one α slider per chosen teacher (-> alphas dict),
    in_context (k examples, 0 = off) and template (teacher_forced | cot)."""
    w = _w()
    ns = namespace
    if teacher_options is None:
        teacher_options = known_teachers()
    chosen = list(ns.get("teachers", []))
    options = list(dict.fromkeys(list(teacher_options) + chosen))
    alphas = ns.get("alphas", 1.0)
    alpha_of = (lambda t: float(alphas.get(t, 1.0))) if isinstance(alphas, dict) else (lambda t: float(alphas))
    sliders: dict = {}
    box = w.VBox()

    def rebuild(*_):
        for t in picker.value:
            if t not in sliders:
                sliders[t] = _slider(alpha_of(t), 0.0, 3.0, 0.01, f"α[{t}]")
                sliders[t].observe(p.write_back, names="value")
        box.children = [sliders[t] for t in picker.value]

    picker = w.SelectMultiple(options=options, value=tuple(chosen), description="teachers", rows=min(8, len(options)))
    controls = {
        "teachers": picker,
        "in_context": _slider(int(ns.get("in_context", 2)), 0, 4, 1, "in-context examples k (0 = off)", integer=True),
        "template": w.ToggleButtons(
            options=["teacher_forced", "cot"], value=ns.get("template", "teacher_forced"), description="teacher prompt"
        ),
    }
    _full_labels(controls.values())
    readers = {"teachers": lambda c: list(c.value)}
    p = Panel(
        controls,
        w.VBox([w.HTML("<b>TinyLLM: teachers and α</b>"), picker, box, controls["in_context"], controls["template"]]),
        namespace,
        on_change,
        readers,
    )

    def write_back(*_):
        for name in controls:
            namespace[name] = p.value(name)
        namespace["alphas"] = {t: float(sliders[t].value) for t in picker.value}
        if on_change is not None:
            on_change(dict(namespace))

    p.write_back = write_back
    picker.observe(rebuild, names="value")
    rebuild()
    for c in controls.values():
        c.observe(p.write_back, names="value")
    p.alpha_sliders = sliders
    return p


# --------------------------------------------------------------------------- notebooks 03 / 04


def minillm_panel(namespace: dict, on_change: Callable | None = None) -> Panel:
    """methods (multi-select), single_step, teacher_mix (α), length_norm, lm_weight, max_steps; the one-seed
    run's result goes to panel.output (see Panel.rerun)."""
    METHODS = WHITEBOX_METHODS
    w = _w()
    ns = namespace
    controls = {
        "methods": w.SelectMultiple(
            options=list(METHODS), value=tuple(ns.get("methods", METHODS)), description="methods", rows=len(METHODS)
        ),
        "single_step": w.Checkbox(value=bool(ns.get("single_step", True)), description="single-step decomposition"),
        "teacher_mix": _slider(float(ns.get("teacher_mix", 0.2)), 0.0, 0.9, 0.05, "teacher-mix α"),
        "length_norm": w.Checkbox(value=bool(ns.get("length_norm", True)), description="length normalisation"),
        "lm_weight": _slider(float(ns.get("lm_weight", 0.0)), 0.0, 2.0, 0.1, "LM loss weight"),
        "max_steps": w.IntText(value=int(ns.get("max_steps", 0)), description="max_steps (0 = profile)"),
        **_known_teacher_controls(ns),
    }
    readers = {"methods": lambda c: list(c.value)}
    return panel(namespace, controls, on_change, "MiniLLM switches", readers, output=True)


def _known_teacher_controls(ns: dict) -> dict:
    """The known teacher's shape (modes, eta), started from the resolved profile ``P`` of the namespace; {} when the
    notebook runs another teacher."""
    P = ns.get("P")
    if not getattr(P, "known", False):
        return {}
    w = _w()
    return {
        "modes": w.IntSlider(value=int(P.modes), min=1, max=6, step=1, description="teacher modes K"),
        "eta": _slider(float(P.eta), 0.01, 0.3, 0.01, "teacher noise η"),
    }


def gkd_panel(
    namespace: dict,
    on_change: Callable | None = None,
    metrics: tuple = (
        "accuracy",
        "teacher_loglik",
        "rouge_l",
        "distinct_2",
        "own_prefix_jsd",
        "exposure_gap",
        "void_mass",
        "modes_covered",
    ),
) -> Panel:
    """lmbda and beta of the single re-runnable GKD run, and the heat map's metric (the known teacher's exact
    measurements among them); the run's result goes to panel.output (see Panel.rerun)."""
    w = _w()
    ns = namespace
    controls = {
        "lmbda": _slider(float(ns.get("lmbda", 0.5)), 0.0, 1.0, 0.1, "λ (on-policy fraction)"),
        "beta": _slider(float(ns.get("beta", 0.5)), 0.0, 1.0, 0.1, "β (0 forward KL … 1 reverse KL)"),
        "metric": w.Dropdown(
            options=list(metrics),
            value=ns.get("metric") if ns.get("metric") in metrics else metrics[0],
            description="metric",
        ),
        **_known_teacher_controls(ns),
    }
    return panel(namespace, controls, on_change, "GKD: one run", None, output=True)


# --------------------------------------------------------------------------- notebook 05


def survey_panel(namespace: dict, on_change: Callable | None = None) -> Panel:
    """method (which miniature the one-seed run trains), k_paths and temperature (Fine-tune-CoT), scott_filter
    (SCOTT's consistency filter), icl_k (demonstrations per query), lion_new (Lion's new questions), and each
    miniature's regime knob for the one-seed run (knob_ftcot_n, knob_scott_p, knob_socratic_steps,
    knob_lion_imitation: labkit.lab.survey_regimes); an Output for Panel.rerun."""
    w = _w()
    ns = namespace
    methods = ["finetune_cot", "scott", "socratic", "lion", "icl"]
    controls = {
        "method": w.Dropdown(
            options=methods,
            value=ns.get("method", methods[0]) if ns.get("method") in methods else methods[0],
            description="method",
        ),
        "k_paths": _slider(
            ns.get("k_paths") or 4, 1, 8, 1, "Fine-tune-CoT: reasoning paths per question (k)", integer=True
        ),
        "temperature": _slider(ns.get("temperature") or 1.0, 0.0, 2.0, 0.1, "Fine-tune-CoT: teacher temperature"),
        "scott_filter": w.Checkbox(
            value=bool(ns.get("scott_filter", True)), description="SCOTT: keep consistent rationales only"
        ),
        "icl_k": _slider(ns.get("icl_k") or 4, 1, 8, 1, "ICL: demonstrations per query (k)", integer=True),
        "lion_new": _slider(ns.get("lion_new") or 250, 0, 1000, 50, "Lion: new questions in the round", integer=True),
        "knob_ftcot_n": _slider(
            ns.get("knob_ftcot_n") or 300, 25, 2000, 25, "Fine-tune-CoT regime: training questions", integer=True
        ),
        "knob_scott_p": _slider(
            ns.get("knob_scott_p") if (ns.get("knob_scott_p") or -1) >= 0 else 0.3,
            0.0,
            0.9,
            0.05,
            "SCOTT regime: teacher rationales disagreeing with the label",
        ),
        "knob_socratic_steps": _slider(
            ns.get("knob_socratic_steps") or 3, 1, 5, 1, "Socratic regime: reasoning steps per question", integer=True
        ),
        "knob_lion_imitation": _slider(
            ns.get("knob_lion_imitation") or 2.0, 0.25, 4.0, 0.25, "Lion regime: imitation steps (× max_steps)"
        ),
    }
    return panel(namespace, controls, on_change, "Survey miniatures: one seed, your settings", output=True)
