"""Figures of notebooks 03 (MiniLLM) and 04 (GKD). Each returns a matplotlib Figure drawn from plain
numbers that the notebook also writes to metrics.json; ``labkit.plots.save`` writes the PNG.

(Kept beside labkit.plots, whose owner may fold these functions in.)
"""
from __future__ import annotations

import math

from labkit.plots import _color, plt

LABELS = {"loss/single": "per-token reverse KL on samples", "reward": "reward  mean r_t = log p − log q",
          "grad_var": "gradient variance (per-sample)", "loss/ce": "cross-entropy", "loss/kd": "KD loss",
          "loss/jsd": "JSD_β loss"}


def _smooth(ys, k: int = 3):
    out = []
    for i in range(len(ys)):
        win = [y for y in ys[max(0, i - k + 1): i + 1] if y is not None and math.isfinite(y)]
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
        ax.barh(range(len(rows)), [v if v is not None else 0 for v in vals],
                color=[_color(n, i) for i, n in enumerate(names)])
        for i, v in enumerate(vals):
            if v is not None:
                ax.text(v, i, f" {v:.3g} " , va="center", ha="right" if v < 0 else "left", fontsize=7)  # outside the bar
        ax.set_yticks(range(len(rows)))
        ax.set_yticklabels(names if j == 0 else [], fontsize=8)
        ax.invert_yaxis()
        ax.set_title(name, fontsize=9)
        ax.grid(axis="x", alpha=0.3)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def heatmap(grid: list[list[float]], row_values, col_values, *, row_name: str = "λ (on-policy fraction)",
            col_name: str = "β (JSD: 0 = forward KL, 1 = reverse KL)", title: str = "", cbar: str = "",
            higher_is_better: bool = True):
    """grid[i][j] at (row_values[i], col_values[j]), each cell annotated; the best cell boxed."""
    import numpy as np

    a = np.array([[np.nan if v is None else v for v in row] for row in grid], dtype=float)
    fig, ax = plt.subplots(figsize=(1.3 * len(col_values) + 2.6, 1.0 * len(row_values) + 1.8))
    im = ax.imshow(a, cmap="viridis" if higher_is_better else "viridis_r", aspect="auto", origin="lower")
    for i in range(a.shape[0]):
        for j in range(a.shape[1]):
            if np.isfinite(a[i, j]):
                ax.text(j, i, f"{a[i, j]:.3f}", ha="center", va="center", fontsize=9,
                        color="white" if (a[i, j] - np.nanmin(a)) < 0.5 * (np.nanmax(a) - np.nanmin(a) + 1e-12)
                        else "black")
    if np.isfinite(a).any():
        bi, bj = np.unravel_index(np.nanargmax(a) if higher_is_better else np.nanargmin(a), a.shape)
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
