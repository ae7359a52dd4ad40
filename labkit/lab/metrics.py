"""metrics.json: what every notebook writes last, and what batch runs and the report read.

    timer = Timer()
    with timer("train"):
        ...
    write_metrics(out_dir, "01_distilling_step_by_step", params, metrics, timer)

The document is {"notebook", "parameters", "metrics", "timings", "versions"}; metrics may hold "tables",
"figures" and "claims" (docs/methods.md §9).
"""

from __future__ import annotations

import json
import math
import platform
import time
from contextlib import contextmanager
from pathlib import Path


class Timer:
    """Accumulates wall times by name.

    timer = Timer()
    with timer("train"):
        ...
    timer.timings  # {"train": 12.3}
    """

    def __init__(self):
        self.timings: dict[str, float] = {}
        self._start = time.perf_counter()

    @contextmanager
    def __call__(self, name: str):
        t0 = time.perf_counter()
        try:
            yield self
        finally:
            self.timings[name] = self.timings.get(name, 0.0) + time.perf_counter() - t0

    def total(self) -> float:
        """Seconds since the timer was made."""
        return time.perf_counter() - self._start

    def as_dict(self) -> dict[str, float]:
        return {**{k: round(v, 3) for k, v in self.timings.items()}, "total": round(self.total(), 3)}


def versions() -> dict[str, str]:
    """python, torch, transformers and labkit versions (those importable)."""
    out = {"python": platform.python_version()}
    for mod in ("torch", "transformers", "labkit"):
        try:
            out[mod] = __import__(mod).__version__
        except Exception:  # noqa: BLE001
            out[mod] = "missing"
    return out


def _jsonable(x):
    """Convert tensors, numpy scalars/arrays, paths, tuples and sets for json.dump."""
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple, set)):
        return [_jsonable(v) for v in x]
    if isinstance(x, Path):
        return str(x)
    if hasattr(x, "tolist"):  # torch / numpy
        return _jsonable(x.tolist())
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if hasattr(x, "to_dict"):
        return _jsonable(x.to_dict())
    return x


def write_metrics(out_dir, notebook: str, parameters: dict, metrics: dict, timings: dict | Timer) -> Path:
    """Write out_dir/metrics.json: {"notebook", "parameters", "metrics", "timings", "versions"}.

    metrics may hold "tables": {name: [row dicts]} (mirroring the papers' tables) and
    "figures": [png file names in out_dir], which the batch report picks up.
    Returns the path written.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if isinstance(timings, Timer):
        timings = timings.as_dict()
    doc = {
        "notebook": notebook,
        "parameters": _jsonable(parameters),
        "metrics": _jsonable(metrics),
        "timings": _jsonable(timings),
        "versions": versions(),
    }
    path = out / "metrics.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    tmp.replace(path)
    return path


def read_metrics(out_dir) -> dict:
    """Read out_dir/metrics.json (or the file itself)."""
    path = Path(out_dir)
    path = path / "metrics.json" if path.is_dir() else path
    return json.loads(path.read_text())
