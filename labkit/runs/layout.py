"""The runs folder, as batch runs leave it and the report reads it: OUT/<notebook-stem>/<run-id>/ with
metrics.json (the notebook's), run.json (the batch runner's), output.ipynb and figures.

Helpers that labkit.runs.batch and labkit.runs.report share: run ids, JSON files, "is this run finished?".
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from pathlib import Path

MAX_RUN_ID = 100


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime())


def write_json(path: Path, doc: dict) -> None:
    """Atomic write (tmp file + rename), so a reader never sees half a file."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(doc, indent=2, ensure_ascii=False, default=str) + "\n")
    tmp.replace(path)


def read_json(path: Path) -> dict | None:
    try:
        doc = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


def format_value(v) -> str:
    """A parameter value as it appears in a run id: lists joined with '+', floats as written."""
    if isinstance(v, bool) or v is None:
        return str(v).lower()
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, (list, tuple)):
        return "+".join(format_value(x) for x in v)
    if isinstance(v, dict):
        return "+".join(f"{k}-{format_value(x)}" for k, x in v.items())
    return str(v)


def make_run_id(params: dict, seed: int) -> str:
    """Deterministic, readable id: ``name=value,...,seed=S`` in the order given, sanitized for
    file systems; ids longer than MAX_RUN_ID keep a readable prefix and end with a hash of the whole."""
    parts = [f"{k}={format_value(v)}" for k, v in params.items()] + [f"seed={seed}"]
    raw = ",".join(parts)
    safe = re.sub(r"[^A-Za-z0-9._=+,@-]", "_", raw.replace(":", "-").replace("/", "_"))
    if len(safe) > MAX_RUN_ID:
        digest = hashlib.sha1(raw.encode()).hexdigest()[:10]
        safe = f"{safe[: MAX_RUN_ID - 11]}~{digest}"
    return safe


def _without(d: dict, *keys) -> dict:
    return {k: v for k, v in d.items() if k not in keys}


def metrics_complete(out_dir: Path, parameters: dict | None = None) -> bool:
    """True when out_dir/metrics.json is a finished notebook's record (and, if given, made with these
    parameters: every key both sides know must agree, so a smoke result never counts as a default one)."""
    doc = read_json(Path(out_dir) / "metrics.json")
    if doc is None or not {"notebook", "parameters", "metrics"} <= set(doc) or not isinstance(doc["metrics"], dict):
        return False
    if parameters:
        recorded = doc.get("parameters") or {}
        for key in ("profile", "seed"):
            if key in recorded and key in parameters and recorded[key] != parameters[key]:
                return False
        record = read_json(Path(out_dir) / "run.json")
        if (
            record is not None
            and isinstance(record.get("parameters"), dict)
            and _without(record["parameters"], "out_dir") != _without(parameters, "out_dir")
        ):
            return False
    return True
