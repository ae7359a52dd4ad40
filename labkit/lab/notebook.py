"""Notebook helpers: is this a live kernel (show the widgets?), CPU threads, text side by side, chance lines."""

from __future__ import annotations

import textwrap

import torch


def in_live_kernel() -> bool:
    """True inside a Jupyter kernel (an IPython ZMQInteractiveShell with a kernel); False in plain
    Python, IPython terminals and scripts.

    A papermill run is also a ZMQ kernel and cannot be told apart from here, so notebooks use
    show_widgets(interactive): papermill runs (tests, `labkit reproduce`) pass interactive=False.
    """
    try:
        from IPython import get_ipython  # lazy: IPython exists only where a kernel or shell does
    except ImportError:
        return False
    shell = get_ipython()
    if shell is None or type(shell).__name__ != "ZMQInteractiveShell":
        return False
    return getattr(shell, "kernel", None) is not None


def show_widgets(interactive: bool) -> bool:
    """Whether a notebook should build its widget panel: interactive=True and a live kernel."""
    return bool(interactive) and in_live_kernel()


def set_threads(threads: int) -> int:
    """torch CPU threads for this kernel (0 = leave as is); returns the number in use.

    Small models train much faster on one thread than on two on a busy small machine (the matrices are too small
    to split; benchmarks/RESULTS.md), so the from-scratch profiles use 1.
    """
    if threads and threads > 0:
        torch.set_num_threads(int(threads))
    return torch.get_num_threads()


def side_by_side(columns: dict, width: int = 58, max_lines: int = 40) -> str:
    """Text columns next to each other (teacher prompts, rationales), for print() in any kernel."""
    wrapped = {}
    for title, text in columns.items():
        lines = []
        for para in str(text).splitlines() or [""]:
            lines += textwrap.wrap(para, width) or [""]
        wrapped[title] = lines[:max_lines] + (["…"] if len(lines) > max_lines else [])
    height = max(len(v) for v in wrapped.values())
    out = [" | ".join(t[:width].ljust(width) for t in wrapped), "-+-".join("-" * width for _ in wrapped)]
    for i in range(height):
        out.append(" | ".join((v[i] if i < len(v) else "").ljust(width) for v in wrapped.values()))
    return "\n".join(out)


def chance_line(records) -> dict:
    """{"chance (k options)": 1/k} for multiple-choice records (k = the most common number of
    choices), {} otherwise; a reference line for accuracy plots."""
    counts = [len(r.choices) for r in records if r.choices]
    if not counts:
        return {}
    k = max(set(counts), key=counts.count)
    return {f"chance ({k} options)": 1.0 / k}


def markdown_table(rows: list[dict], columns: list[str] | None = None, digits: int = 3) -> str:
    """Rows of dicts as a Markdown table (floats with `digits` decimals, from 1e6 up with `digits` significant digits
    (FLOPs); "|" and newlines escaped)."""
    columns = columns or list(dict.fromkeys(k for r in rows for k in r))

    def fmt(v):
        if isinstance(v, float):
            return f"{v:.{digits}g}" if abs(v) >= 1e6 else f"{v:.{digits}f}"
        return "" if v is None else str(v)

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += [
        "| " + " | ".join(fmt(r.get(c)).replace("|", "\\|").replace("\n", " ") for c in columns) + " |" for r in rows
    ]
    return "\n".join(lines)


def table(rows: list[dict], columns: list[str] | None = None, digits: int = 3):
    """``markdown_table`` displayed as Markdown in a notebook cell (the plain text elsewhere)."""
    text = markdown_table(rows, columns, digits)
    try:
        from IPython.display import Markdown  # lazy: only notebooks display it

        return Markdown(text)
    except ImportError:
        return text
