"""Matplotlib figures for the lab's notebooks (00-04). Each function returns a Figure;
`save(fig, out_dir, name)` writes it as PNG and returns the file name for metrics["figures"].

Every figure is drawn from plain numbers (lists, dicts, row dicts) that the notebook
also writes to metrics.json, so it can be redrawn from the metrics alone.
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib
import numpy as np

if matplotlib.get_backend().lower() in ("", "agg") or not matplotlib.get_backend():
    matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402,F401

from labkit.lab.claims import t_interval  # noqa: E402

# one colour per method, the same in every notebook
COLORS = {
    "forward_kl": "tab:blue",
    "reverse_kl": "tab:red",
    "jsd": "tab:purple",
    "teacher": "black",
    "fine-tuning": "tab:gray",
    "distillation": "tab:orange",
    "step-by-step": "tab:green",
}


def _color(name: str, i: int):
    for key, c in COLORS.items():
        if name.startswith(key):
            return c
    return f"C{i % 10}"


def _style(name: str) -> str:
    """Dashed for JSD, so it stays visible when it lies on top of forward or reverse KL."""
    return "--" if name.startswith("jsd") else "-"


def _as_list(x):
    return x.tolist() if hasattr(x, "tolist") else list(x)


def save(fig, out_dir, name: str, dpi: int = 110) -> str:
    """Write fig to out_dir/name (PNG) and return name."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    fig.savefig(out / name, dpi=dpi, bbox_inches="tight")
    return name


def show(fig) -> None:
    """Display `fig` now, from inside a cell's function, and close it, so that the cell's end does not draw it again.
    (Not in a widget's callback: a figure made there reaches JupyterLab's Log Console; callbacks show tables.)"""
    from IPython.display import display

    display(fig)
    plt.close(fig)


def token_heatmap(rows: dict, title: str = "", cmap: str = "magma_r", max_tokens: int = 40):
    """One row of coloured cells per text: {label: [(token, value)]}, each cell a token with its value's colour
    (one colour scale for all rows), so per-token divergences of different texts can be compared at a glance."""
    vmax = max((v for seq in rows.values() for _, v in seq), default=1.0) or 1.0
    width = min(max((len(seq) for seq in rows.values()), default=1), max_tokens)
    fig, ax = plt.subplots(figsize=(min(2.0 + 0.55 * width, 22), 0.6 + 0.55 * len(rows)))
    colours = plt.get_cmap(cmap)
    for i, (label, seq) in enumerate(rows.items()):
        for j, (tok, v) in enumerate(seq[:max_tokens]):
            ax.add_patch(plt.Rectangle((j, i), 1, 1, color=colours(v / vmax)))
            ax.text(
                j + 0.5,
                i + 0.5,
                tok.strip() or repr(tok)[1:-1],
                ha="center",
                va="center",
                fontsize=7,
                color="white" if v / vmax > 0.55 else "black",
            )
    ax.set_xlim(0, width)
    ax.set_ylim(len(rows), 0)
    ax.set_yticks([i + 0.5 for i in range(len(rows))], list(rows))
    ax.set_xticks([])
    ax.set_title(title)
    mappable = matplotlib.cm.ScalarMappable(norm=matplotlib.colors.Normalize(0, vmax), cmap=colours)
    fig.colorbar(mappable, ax=ax, fraction=0.02, pad=0.01)
    return fig


# --------------------------------------------------------------------------- notebook 00


def gaussian_fits(x, p_density, fits: dict, title: str = "One Gaussian fitted to two modes"):
    """Teacher density and each fitted Gaussian.

    Args:
        x: grid (N,); p_density: (N,) teacher density.
        fits: {label: (mu, sigma)} e.g. {"forward_kl": (0.1, 2.5), "jsd β=0.5": (...)}.
    """
    x = _as_list(x)
    fig, ax = plt.subplots(figsize=(7, 3.6))
    ax.fill_between(x, _as_list(p_density), color="0.85", label="teacher p (mixture)")
    for i, (label, (mu, sigma)) in enumerate(fits.items()):
        q = [math.exp(-0.5 * ((v - mu) / sigma) ** 2) / (sigma * math.sqrt(2 * math.pi)) for v in x]
        ax.plot(x, q, _style(label), color=_color(label, i), lw=2, label=f"{label}: μ={mu:.2f}, σ={sigma:.2f}")
    ax.set_xlabel("x")
    ax.set_ylabel("density")
    ax.set_title(title)
    ax.legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    return fig


def next_token_fits(
    teacher_log_probs,
    students: dict,
    eps: float | None = None,
    title: str = "Next-token distribution: teacher vs capacity-limited students",
):
    """Teacher bars and each student's distribution over the vocabulary (linear scale)."""
    p = [math.exp(v) for v in _as_list(teacher_log_probs)]
    v = list(range(len(p)))
    fig, ax = plt.subplots(figsize=(7, 3.6))
    ax.bar(v, p, color="0.8", label="teacher p")
    for i, (label, lq) in enumerate(students.items()):
        ax.plot(
            v, [math.exp(t) for t in _as_list(lq)], _style(label), marker="o", ms=3, color=_color(label, i), label=label
        )
    if eps is not None:
        void = [i for i, pi in enumerate(p) if pi < eps]
        for j in void:
            ax.axvspan(j - 0.5, j + 0.5, color="yellow", alpha=0.15, lw=0)
        ax.plot([], [], color="yellow", alpha=0.4, lw=6, label=f"void: p < {eps:g}")
    ax.set_xlabel("token id")
    ax.set_ylabel("probability")
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def sequence_fits(
    teacher_log_probs,
    students: dict,
    mode_indices,
    top: int = 40,
    eps: float = 1e-3,
    labels: list[str] | None = None,
    title: str = "Sequence probabilities (exact)",
):
    """Left: the `top` most likely sequences under teacher and students (log scale), sorted by
    teacher probability, with sequences that any student likes but the teacher does not
    appended. Right: void mass per student."""
    lp = _as_list(teacher_log_probs)
    order = sorted(range(len(lp)), key=lambda i: -lp[i])[:top]
    void_ids = [i for i in range(len(lp)) if math.exp(lp[i]) < eps]
    extra = []  # each student's 5 likeliest sequences inside the void
    for lq in students.values():
        lq = _as_list(lq)
        extra += [i for i in sorted(void_ids, key=lambda i: -lq[i])[:5] if i not in order and i not in extra]
    shown = order + extra
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 3.8), gridspec_kw={"width_ratios": [3, 1]})
    pos = list(range(len(shown)))
    ax.bar(pos, [math.exp(lp[i]) for i in shown], color="0.8", label="teacher p")
    for k, (label, lq) in enumerate(students.items()):
        lq = _as_list(lq)
        ax.plot(pos, [math.exp(lq[i]) for i in shown], "o", ms=4, color=_color(label, k), label=label)
    for j, i in enumerate(shown):
        if i in mode_indices:
            ax.axvline(j, color="green", lw=0.6, ls=":")
    if extra:
        ax.axvspan(len(order) - 0.5, len(shown) - 0.5, color="yellow", alpha=0.2, lw=0)
        ax.text(
            len(order),
            0.98,
            f" void (p < {eps:g}):\n students' top picks",
            fontsize=7,
            va="top",
            transform=ax.get_xaxis_transform(),
        )
    ax.set_yscale("log")
    ax.set_ylim(1e-5, 1)
    if labels is not None:
        ax.set_xticks(pos)
        ax.set_xticklabels([labels[i] for i in shown], rotation=90, fontsize=6)
    ax.set_xlabel("sequence (sorted by teacher probability; dotted = teacher modes)")
    ax.set_ylabel("probability")
    ax.set_title(title)
    ax.legend(fontsize=8, loc="upper center")
    names = list(students)
    void = []
    for lq in students.values():
        lq = _as_list(lq)
        void.append(sum(math.exp(a) for a, b in zip(lq, lp) if math.exp(b) < eps))
    bx.bar(range(len(names)), void, color=[_color(n, i) for i, n in enumerate(names)])
    bx.set_xticks(range(len(names)))
    bx.set_xticklabels(names, rotation=30, ha="right", fontsize=8)
    bx.set_title(f"void mass: Σ q(y) where p(y) < {eps:g}", fontsize=9)
    fig.tight_layout()
    return fig


def loss_curves(curves: dict, xlabel: str = "step", ylabel: str = "loss", title: str = "", log: bool = False):
    """One line per {label: [values]}."""
    fig, ax = plt.subplots(figsize=(6, 3.4))
    for i, (label, ys) in enumerate(curves.items()):
        ax.plot(range(len(ys)), _as_list(ys), color=_color(label, i), label=label)
    if log:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- notebooks 01 / 02


def _reference_lines_and_log_x(ax, rows, x, hlines, scale, logx, ticklabels=None):
    """Dashed reference lines ({label: value}) and, with logx, a log x axis ticked at the data's x values."""
    for j, (label, v) in enumerate((hlines or {}).items()):
        ax.axhline(v * scale, ls="--", color="0.4" if j == 0 else f"C{j + 5}", lw=1, label=label)
    if logx:
        ax.set_xscale("log")
        xs = sorted({r[x] for r in rows})
        ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
        ax.set_xticks(xs)
        ax.set_xticklabels([(ticklabels or {}).get(v, f"{v:g}") for v in xs])


def sweep(
    rows: list[dict],
    x: str,
    y: str,
    hue: str,
    title: str = "",
    xlabel: str | None = None,
    ylabel: str | None = None,
    logx: bool = False,
    hlines: dict | None = None,
    percent: bool = True,
):
    """Line plot of rows grouped by `hue` (e.g. accuracy vs data fraction per method; the
    paper's data-size figure), with optional horizontal reference lines {label: value}."""
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    groups: dict = {}
    for r in rows:
        groups.setdefault(r[hue], []).append((r[x], r[y]))
    scale = 100.0 if percent else 1.0
    for i, (name, pts) in enumerate(groups.items()):
        pts.sort()
        ax.plot([a for a, _ in pts], [b * scale for _, b in pts], "-o", color=_color(str(name), i), label=str(name))
    _reference_lines_and_log_x(ax, rows, x, hlines, scale, logx)
    ax.set_xlabel(xlabel or x)
    ax.set_ylabel(ylabel or (f"{y} (%)" if percent else y))
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def bars(
    rows: list[dict],
    label: str,
    value: str,
    title: str = "",
    percent: bool = True,
    hline: float | None = None,
    hline_label: str = "",
):
    """Horizontal bars, one per row (an ablation table as a picture)."""
    fig, ax = plt.subplots(figsize=(6.4, 0.45 * len(rows) + 1.2))
    scale = 100.0 if percent else 1.0
    vals = [r[value] * scale for r in rows]
    names = [str(r[label]) for r in rows]
    ax.barh(range(len(rows)), vals, color=[f"C{i % 10}" for i in range(len(rows))])
    for i, v in enumerate(vals):
        ax.text(v, i, f" {v:.1f}", va="center", fontsize=8)
    ax.set_xlim(0, max(vals + [hline * scale if hline is not None else 0]) * 1.15 or 1)
    if hline is not None:
        ax.axvline(hline * scale, color="0.3", ls="--", lw=1, label=hline_label)
        ax.legend(fontsize=8, loc="lower right")
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels(names, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel(f"{value} (%)" if percent else value)
    ax.set_title(title)
    fig.tight_layout()
    return fig


def _mean_ci(vals):
    """(mean, lower error, upper error) of per-seed values: the 95% Student-t interval, 0 for one seed."""
    if len(vals) >= 2:
        mean, lo, hi = t_interval(vals)
        return mean, mean - lo, hi - mean
    return float(vals[0]), 0.0, 0.0


def _get(r, key: str):
    """A field of a run: a labkit.lab.arms.Run's attribute or a row dict's key."""
    return getattr(r, key) if hasattr(r, "metrics") else r[key]


def _at(r, when: str, split: str, metric: str):
    """A run's `metric` on `split` at step 0 or at the end (None if it has none): Runs ({split: {metric: v}})
    and row dicts ({split: v}) alike."""
    if hasattr(r, "metrics"):
        got = (r.metrics if when == "final" else r.step0).get(split, {})
        return got.get(metric)
    return (r.get(when) or {}).get(split)


def arms_over_seeds(
    rows: list,
    arms: list[str] | None = None,
    title: str = "",
    hlines: dict | None = None,
    value: str = "test",
    percent: bool = True,
    ylabel: str | None = None,
    metric: str = "accuracy",
):
    """Notebooks 01/02: each arm's final accuracy per seed (dots), its mean with the 95% Student-t interval
    over seeds (black error bar) and its step-0 accuracy (grey open marker, the untrained student),
    with reference lines {label: value} (chance, the teacher).

    rows: labkit.lab.arms.Run objects (their `metric` on split `value`), or row dicts ({"arm", "seed",
    "step0": {split: acc}, "final": {split: acc}}); without a step 0 no step-0 marker is drawn. ylabel: the axis
    label (default "<value> accuracy").
    """
    arms = arms or list(dict.fromkeys(_get(r, "arm") for r in rows))
    scale = 100.0 if percent else 1.0
    fig, ax = plt.subplots(figsize=(max(6.4, 1.25 * len(arms) + 1.5) + 2.6, 4.0))  # + 2.6 in: the legend, beside
    for i, name in enumerate(arms):
        rs = sorted((r for r in rows if _get(r, "arm") == name), key=lambda r: _get(r, "seed"))
        fin = [_at(r, "final", value, metric) * scale for r in rs]
        s0 = [v * scale for v in (_at(r, "step0", value, metric) for r in rs) if v is not None]
        jitter = np.linspace(-0.12, 0.12, len(fin)) if len(fin) > 1 else [0.0]
        ax.scatter(
            i + np.asarray(jitter),
            fin,
            color=_color(name, i),
            s=22,
            zorder=2,
            label="per seed (final)" if i == 0 else None,
        )
        mean, lo, hi = _mean_ci(fin)
        ax.errorbar(
            i + 0.25,
            mean,
            yerr=[[lo], [hi]],
            fmt="o",
            color="k",
            capsize=4,
            ms=5,
            zorder=3,
            label="mean, 95% t-interval" if i == 0 else None,
        )
        ax.text(i + 0.32, mean, f"{mean:.0f}", va="center", fontsize=8)
        if s0:
            ax.scatter(
                [i - 0.25],
                [sum(s0) / len(s0)],
                marker="o",
                facecolors="none",
                edgecolors="0.5",
                s=30,
                zorder=2,
                label="step 0 (untrained)" if i == 0 else None,
            )
    for j, (label, v) in enumerate((hlines or {}).items()):
        ax.axhline(v * scale, ls="--", color="0.4" if j == 0 else f"C{j + 5}", lw=1, label=label)
    ax.set_xticks(range(len(arms)))
    ax.set_xticklabels([a.replace(" (", "\n(") for a in arms], fontsize=8)
    ax.set_xlim(-0.6, len(arms) - 0.3)
    label = ylabel or f"{value} accuracy"
    ax.set_ylabel(f"{label} (%)" if percent else label)
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3, axis="y")
    # beside the axes, not inside: "best" still covered an arm's interval
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
    fig.tight_layout()
    return fig


def sweep_seeds(
    rows: list[dict],
    x: str,
    hue: str,
    title: str = "",
    xlabel: str | None = None,
    logx: bool = False,
    hlines: dict | None = None,
    value: str = "test",
    percent: bool = True,
    ticklabels: dict | None = None,
    metric: str = "accuracy",
):
    """Notebooks 01/02: final accuracy against a setting `x` (data fraction, α) per `hue` group: mean with the
    95% Student-t interval over seeds (error bars) and each seed's value (small dots). rows: dicts with `x`, `hue`
    and "final" {split: value}, or with `x`, `hue` and "run" (a labkit.lab.arms.Run: its `metric` on `value`).
    ticklabels {x: label} renames ticks (with logx), e.g. α = 0 drawn at a small positive x and labelled "0"."""
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    scale = 100.0 if percent else 1.0
    groups: dict = {}
    for r in rows:
        v = _at(r["run"], "final", value, metric) if "run" in r else r["final"][value]
        groups.setdefault(r[hue], {}).setdefault(r[x], []).append(v * scale)
    for i, (name, by_x) in enumerate(groups.items()):
        xs = sorted(by_x)
        stats_ = [_mean_ci(by_x[v]) for v in xs]
        c = _color(str(name), i)
        ax.errorbar(
            xs,
            [m for m, _, _ in stats_],
            yerr=[[lo for _, lo, _ in stats_], [hi for _, _, hi in stats_]],
            fmt="-o",
            color=c,
            capsize=4,
            label=f"{name} (mean, 95% CI)",
        )
        for v in xs:
            ax.scatter([v] * len(by_x[v]), by_x[v], color=c, s=10, alpha=0.5, zorder=1)
    _reference_lines_and_log_x(ax, rows, x, hlines, scale, logx, ticklabels)
    ax.set_xlabel(xlabel or x)
    ax.set_ylabel(f"{value} accuracy (%)" if percent else f"{value} accuracy")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def paired_seeds(panels: dict[str, dict[str, list[float]]], title: str = ""):
    """One panel per metric: each arm's value per seed (dots, one grey line per seed joining the arms)
    and the mean with its 95% Student-t interval (black bar), so effects paired by seed are visible.

    panels: {metric label: {arm: [value per seed]}} (every arm with the same seeds, in the same order).
    """
    fig, axes = plt.subplots(1, len(panels), figsize=(3.6 * len(panels) + 0.6, 3.4), squeeze=False)
    for ax, (metric, arms) in zip(axes[0], panels.items()):
        names = list(arms)
        for seed_values in zip(*arms.values()):
            ax.plot(range(len(names)), seed_values, color="0.75", lw=0.8, zorder=1)
        for i, name in enumerate(names):
            vals = arms[name]
            ax.scatter([i] * len(vals), vals, color=_color(name, i), s=18, zorder=2)
            if len(vals) >= 2:
                mean, lo, hi = t_interval(vals)
                ax.errorbar(
                    i + 0.12, mean, yerr=[[mean - lo], [hi - mean]], fmt="o", color="k", capsize=4, ms=4, zorder=3
                )
        ax.set_xticks(range(len(names)))
        crowded = sum(len(n.split("\n")[0]) for n in names) > 40  # labels that would run into each other: tilt them
        ax.set_xticklabels(names, fontsize=8, rotation=35 if crowded else 0, ha="right" if crowded else "center")
        ax.set_xlim(-0.5, len(names) - 0.4)
        ax.set_title(metric, fontsize=9)
        ax.grid(alpha=0.3, axis="y")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def estimator_errors(rows: list[dict], title: str = ""):
    """Scene 5 of notebook 00: relative error of the loss (bias) and of the gradient vs the stored signal's size,
    for top-k + tail and for sampled tokens (rows from labkit.signals.estimator_errors)."""
    fig, axes = plt.subplots(1, 2, figsize=(9.6, 3.6))
    for name, color in (("top-k + tail", "C0"), ("sampled", "C1")):
        rs = [r for r in rows if r["estimator"] == name]
        size = [r["size"] for r in rs]
        label = (
            "top-k + tail: bias (always below exact)" if name != "sampled" else "sampled: |mean of the draws − exact|"
        )
        axes[0].plot(size, [r["loss_rel_err"] for r in rs], "o-", color=color, label=label)
        if name == "sampled":
            axes[0].plot(size, [r["loss_rel_sd"] for r in rs], "o:", color=color, label="sampled: sd of one draw")
        axes[1].plot(size, [r["grad_rel_err"] for r in rs], "o-", color=color, label=name)
    for ax, ylabel in zip(axes, ("|loss − exact| / exact", "‖grad − exact‖ / ‖exact‖")):
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("k (top-k) or m (samples) per position")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7)
    axes[0].set_title("forward KL value", fontsize=9)
    axes[1].set_title("its gradient w.r.t. the student logits", fontsize=9)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def topk_reverse_kl(result: dict, title: str = ""):
    """Scene 6 of notebook 00 (``scenes.topk_reverse_kl``): the student's mass outside the teacher's top k and the
    full reverse KL, step by step, for each objective; dashed: the teacher's own outside mass and where the truncated
    loss's minimum puts the student's (1 − Σ_top-k p / e)."""
    fig, axes = plt.subplots(1, 2, figsize=(9.6, 3.4))
    for (name, c), color in zip(result["curves"].items(), ("black", "tab:red", "tab:blue")):
        style = ":" if name == "full reverse KL" else "-"
        axes[0].plot(c["outside"], style, color=color, label=name, lw=2 if style == ":" else 1.5)
        axes[1].plot(c["reverse_kl"], style, color=color, label=name, lw=2 if style == ":" else 1.5)
    axes[0].axhline(result["teacher_outside"], color="grey", ls="--", lw=1, label="teacher's own")
    axes[0].axhline(result["truncated_optimum_outside"], color="tab:red", ls="--", lw=1, label="1 − Σ_top-k p / e")
    axes[0].set_ylabel("student mass outside the teacher's top k")
    axes[1].set_ylabel("full reverse KL(q‖p), nats")
    for ax in axes:
        ax.set_xlabel("optimiser step (the student starts at the teacher)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def effect_by_knob(claims: list[dict], knob: str, *, xlabel: str, ylabel: str, title: str = "", shade=None):
    """One claim per value of a regime knob (c[knob] labels its tick, in the order given): the mean effect with its
    95 % Student-t interval and every seed's effect, green where it holds, red where the interval lies below 0;
    0 dashed; the tick of value `shade` (the paper's regime) shaded."""
    fig, ax = plt.subplots(figsize=(max(4.0, 1.2 * len(claims) + 2.0), 3.4))
    for x, c in enumerate(claims):
        lo, hi = c["ci95"]
        color = "#2a7a2a" if c["holds"] else "#b03030" if hi < 0 else "#555555"
        ax.errorbar([x], [c["mean"]], yerr=[[c["mean"] - lo], [hi - c["mean"]]], fmt="o", color=color, capsize=4)
        ax.scatter([x] * len(c["values"]), c["values"], s=10, color=color, alpha=0.35)
        if shade is not None and c[knob] == shade:
            ax.axvspan(x - 0.4, x + 0.4, color="#f3e6b3", zorder=0)
    ax.axhline(0, color="#888888", ls="--", lw=0.8)
    ax.set_xticks(range(len(claims)), [str(c[knob]) for c in claims])
    ax.set_xlim(-0.6, len(claims) - 0.4)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- notebooks 03 / 04

LABELS = {
    "loss/single": "per-token reverse KL on samples",
    "reward": "reward  mean r_t = log p − log q",
    "grad_var": "gradient variance (per-sample)",
    "loss/ce": "cross-entropy",
    "loss/kd": "KD loss",
    "loss/jsd": "JSD_β loss",
}


def _smooth(ys, k: int = 3):
    out = []
    for i in range(len(ys)):
        win = [y for y in ys[max(0, i - k + 1) : i + 1] if y is not None and math.isfinite(y)]
        out.append(sum(win) / len(win) if win else float("nan"))
    return out


def training_curves(curves: dict, keys: list[str], title: str = "", smooth: int = 3):
    """One panel per key, one line per run.

    Args:
        curves: {run label: {key: [(step, value), ...]}} (e.g. from ``curves_of``).
        keys: which series, e.g. ["reward", "loss/single", "grad_var"]; "grad_var" is drawn on a log
            scale with markers (it is measured every few steps only).
    """
    fig, axes = plt.subplots(1, len(keys), figsize=(4.3 * len(keys), 3.4), squeeze=False)
    for ax, key in zip(axes[0], keys):
        for i, (label, series) in enumerate(curves.items()):
            pts = series.get(key) or []
            if not pts:
                continue
            xs, ys = [p[0] for p in pts], [p[1] for p in pts]
            if key == "grad_var":
                ax.plot(xs, ys, "-o", ms=4, color=f"C{i % 10}", label=label)
                ax.set_yscale("log")
            else:
                ax.plot(xs, ys, color=f"C{i % 10}", alpha=0.25, lw=1)
                ax.plot(xs, _smooth(ys, smooth), color=f"C{i % 10}", lw=2, label=label)
        ax.set_title(LABELS.get(key, key), fontsize=10)
        ax.set_xlabel("optimiser step")
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=7)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def curves_of(history, keys) -> dict:
    """{key: [(step, value), ...]} from a labkit History (or its to_dict())."""
    rows = history["rows"] if isinstance(history, dict) else history.rows
    return {k: [(r["step"], r[k]) for r in rows if k in r and r[k] is not None] for k in keys}


def metric_bars(rows: list[dict], metrics: dict, label: str = "method", title: str = ""):
    """One panel per metric {key: axis title}, one horizontal bar per row (method)."""
    fig, axes = plt.subplots(1, len(metrics), figsize=(3.6 * len(metrics), 0.42 * len(rows) + 1.6), squeeze=False)
    names = [str(r[label]) for r in rows]
    for j, (ax, (key, name)) in enumerate(zip(axes[0], metrics.items())):
        vals = [r.get(key) for r in rows]
        ax.barh(
            range(len(rows)),
            [v if v is not None else 0 for v in vals],
            color=[_color(n, i) for i, n in enumerate(names)],
        )
        for i, v in enumerate(vals):
            if v is not None:
                ax.text(v, i, f" {v:.3g} ", va="center", ha="right" if v < 0 else "left", fontsize=7)  # outside the bar
        ax.set_yticks(range(len(rows)))
        ax.set_yticklabels(names if j == 0 else [], fontsize=8)
        ax.invert_yaxis()
        ax.set_title(name, fontsize=9)
        ax.grid(axis="x", alpha=0.3)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def _ink_on(rgba) -> str:
    """Black or white text, whichever reads on a cell of colour `rgba` (its relative luminance, sRGB weights)."""
    r, g, b = rgba[:3]
    return "black" if 0.2126 * r + 0.7152 * g + 0.0722 * b > 0.45 else "white"


def heatmap(
    grid: list[list[float]],
    row_values,
    col_values,
    *,
    row_name: str = "λ (on-policy fraction)",
    col_name: str = "β (JSD: 0 = forward KL, 1 = reverse KL)",
    title: str = "",
    cbar: str = "",
    higher_is_better: bool = True,
    sd: list[list[float]] | None = None,
    best: tuple[int, int] | None = None,
):
    """grid[i][j] at (row_values[i], col_values[j]), each cell annotated (± sd[i][j], the seed spread, when
    given); the cell `best` = (i, j) boxed in red, only when given (a winner whose interval separates it from every
    other cell, e.g. ``whitebox.grid_winner``): without it no cell is marked."""
    a = np.array([[np.nan if v is None else v for v in row] for row in grid], dtype=float)
    fig, ax = plt.subplots(figsize=(1.3 * len(col_values) + 2.6, 1.0 * len(row_values) + 1.8))
    im = ax.imshow(a, cmap="viridis" if higher_is_better else "viridis_r", aspect="auto", origin="lower")
    for i in range(a.shape[0]):
        for j in range(a.shape[1]):
            if np.isfinite(a[i, j]):
                spread = f"\n± {sd[i][j]:.3f}" if sd is not None and sd[i][j] is not None else ""
                ax.text(
                    j,
                    i,
                    f"{a[i, j]:.3f}{spread}",
                    ha="center",
                    va="center",
                    fontsize=9,
                    color=_ink_on(im.cmap(im.norm(a[i, j]))),
                )
    if best is not None:
        bi, bj = best
        ax.add_patch(plt.Rectangle((bj - 0.5, bi - 0.5), 1, 1, fill=False, ec="red", lw=2))
    ax.set_xticks(range(len(col_values)))
    ax.set_xticklabels([f"{v:g}" for v in col_values])
    ax.set_yticks(range(len(row_values)))
    ax.set_yticklabels([f"{v:g}" for v in row_values])
    ax.set_xlabel(col_name)
    ax.set_ylabel(row_name)
    ax.set_title(title, fontsize=10)
    fig.colorbar(im, ax=ax, label=cbar)
    fig.tight_layout()
    return fig


def template_samples(columns: dict[str, list[dict]], n_templates: int, title: str = "", per_column: int = 12):
    """Samples of several students side by side, each coloured by the teacher template it follows (grey: the void).

    columns: {student label: [{"prompt": index, "text": str, "template": int | None}, ...]} (``Run.extra["labelled"]``
    of a known-teacher run); the first `per_column` samples of each are drawn, one line each, the prompt index
    on the left so equal prompts line up.
    """
    cmap = matplotlib.colormaps["tab10"]
    n = max(min(len(v), per_column) for v in columns.values())
    fig, axes = plt.subplots(1, len(columns), figsize=(4.6 * len(columns), 0.32 * n + 1.2), squeeze=False)
    for ax, (label, samples) in zip(axes[0], columns.items()):
        ax.set_axis_off()
        ax.set_xlim(0, 1), ax.set_ylim(n, -1)
        ax.set_title(label, fontsize=10)
        for row, s in enumerate(samples[:per_column]):
            k = s["template"]
            color = "0.85" if k is None else cmap(k % 10)
            text = s["text"].encode("ascii", "replace").decode()[:48]  # noise tokens: unprintable bytes shown as ?
            ax.text(0.0, row, f"x{s['prompt']}", fontsize=7, va="center", color="0.4", family="monospace")
            ax.text(
                0.1, row, text or "(empty)", fontsize=8, va="center", family="monospace",
                bbox=dict(boxstyle="round,pad=0.2", fc=color, ec="none", alpha=0.55),
            )  # fmt: skip
    handles = [matplotlib.patches.Patch(color=cmap(k), alpha=0.55, label=f"template {k}") for k in range(n_templates)]
    handles.append(matplotlib.patches.Patch(color="0.85", label="void"))
    fig.legend(handles=handles, loc="lower center", ncol=n_templates + 1, fontsize=8, frameon=False)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    return fig
