"""Notebook plumbing: parameter checks, profile defaults, timings, metrics.json.

Every lab notebook follows the same shape (see DESIGN.md):

    # parameters   (tagged cell, literals only)
    profile: str = "default"   # smoke | default | paper
    ...
    # derived      (next cell)
    lk.notebook.check_parameters(profile=profile, teachers=teachers, alphas=alphas, ...)
    n_train, student = lk.notebook.profile_values(profile, DEFAULTS, n_train=n_train, student=student)
    ...
    # last cell
    lk.notebook.write_metrics(out_dir, "01_distilling_step_by_step", params, metrics, timer.timings)

``check_parameters`` runs before any heavy work so that a wrong parameter
injected by papermill fails at once, with a message naming the parameter and
the values it accepts.
"""
from __future__ import annotations

import json
import math
import platform
import time
from contextlib import contextmanager
from pathlib import Path

from labkit.errors import LabkitError

PROFILES = ("smoke", "default", "paper")
DEVICES = ("auto", "cpu", "cuda", "mps")
DIVERGENCES = ("forward_kl", "reverse_kl", "jsd", "skew_kl", "skew_reverse_kl", "tvd")

# Used only when labkit.rationales / labkit.data cannot be imported.
_FALLBACK_TEACHERS = ("oracle", "noisy-oracle", "flan-t5-xl", "llama2-7b-chat", "palm-540b",
                      "smollm2-135m-instruct", "gemma3-270m", "tiny")
_FALLBACK_DATASETS = ("synthetic:arithmetic", "synthetic:tracking", "synthetic:ordering",
                      "tinyllm:obqa", "tinyllm:arc", "dss:cqa", "dss:svamp")


# --------------------------------------------------------------------------- helpers

def _fail(name: str, value, expected: str):
    raise LabkitError(f"parameter {name}={value!r}: expected {expected}")


def _is_number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def known_teachers() -> list[str]:
    """Teacher names the lab knows: labkit.rationales.KNOWN_TEACHERS plus the model catalog."""
    names: list[str] = []
    try:
        from labkit import rationales
        names += list(getattr(rationales, "KNOWN_TEACHERS", []))
    except Exception:  # noqa: BLE001 - the module may be missing while the lab is being built
        names += list(_FALLBACK_TEACHERS)
    try:
        from labkit import models
        names += list(getattr(models, "CATALOG", {}))
    except Exception:  # noqa: BLE001
        pass
    if not names:
        names = list(_FALLBACK_TEACHERS)
    return sorted(set(names))


def known_datasets() -> list[str]:
    """Dataset names from labkit.data.list_datasets() (or the contract's list)."""
    try:
        from labkit import data
        return list(data.list_datasets())
    except Exception:  # noqa: BLE001
        return list(_FALLBACK_DATASETS)


def _teacher_ok(name: str, known: list[str]) -> bool:
    """'noisy-oracle@p=0.3' and 'smollm2-135m-instruct@layers=4' are known by their base name;
    a local directory is accepted as a live teacher."""
    if not isinstance(name, str) or not name:
        return False
    if name in known or name.split("@", 1)[0] in known:
        return True
    return Path(name).expanduser().is_dir()


def _check_teachers(teachers, name: str = "teachers"):
    items = [teachers] if isinstance(teachers, str) else teachers
    if not isinstance(items, (list, tuple)):
        _fail(name, teachers, "a teacher name or a list of teacher names")
    known = known_teachers()
    for t in items:
        if not _teacher_ok(t, known):
            raise LabkitError(f"parameter {name}: unknown teacher {t!r}; known teachers: {', '.join(known)} "
                              f"(plus NAME@option variants and local model directories)")


def _check_alphas(alphas, teachers=None, name: str = "alphas"):
    """alphas: a number, a list (one per teacher) or a dict teacher -> α; every α ≥ 0."""
    if _is_number(alphas):
        values = {name: alphas}
    elif isinstance(alphas, dict):
        values = {f"{name}[{k!r}]": v for k, v in alphas.items()}
        if teachers is not None:
            extra = set(alphas) - set([teachers] if isinstance(teachers, str) else teachers)
            if extra:
                raise LabkitError(f"parameter {name}: α given for {sorted(extra)} which are not in "
                                  f"teachers={teachers!r}")
    elif isinstance(alphas, (list, tuple)):
        values = {f"{name}[{i}]": v for i, v in enumerate(alphas)}
        if teachers is not None and not isinstance(teachers, str) and len(alphas) not in (0, len(teachers)):
            raise LabkitError(f"parameter {name}: {len(alphas)} values for {len(teachers)} teachers; "
                              f"expected one α per teacher")
    else:
        _fail(name, alphas, "a number ≥ 0, a list of numbers ≥ 0 or a dict teacher -> number ≥ 0")
    for key, v in values.items():
        if not _is_number(v) or v < 0:
            raise LabkitError(f"parameter {key}={v!r}: expected a finite number ≥ 0 (α weighs a loss term)")


def _check_unit(name, value):
    items = value if isinstance(value, (list, tuple)) else [value]
    for v in items:
        if not _is_number(v) or not 0.0 <= v <= 1.0:
            _fail(name, value, "numbers in [0, 1]" if isinstance(value, (list, tuple)) else "a number in [0, 1]")


def _check_positive_int(name, value, allow_zero=False):
    if isinstance(value, bool) or not isinstance(value, int) or value < (0 if allow_zero else 1):
        _fail(name, value, "an integer ≥ 0" if allow_zero else "an integer ≥ 1")


# --------------------------------------------------------------------------- checks

def check_parameters(**params) -> dict:
    """Validate notebook parameters by their common names; return them unchanged.

    Checked when present (unknown names pass through):
      profile in smoke|default|paper; seed int; interactive bool; device auto|cpu|cuda[:i]|mps;
      teachers / teacher known (labkit.rationales.KNOWN_TEACHERS, the model catalog, NAME@opt variants);
      alphas (number, list or dict) ≥ 0, one per teacher; alpha, lam / lambda_ ≥ 0;
      beta, betas, lmbda, teacher_mix, noise in [0, 1]; fractions in (0, 1];
      dataset known (labkit.data.list_datasets(), or a hub id 'owner/name');
      n_train, max_steps, steps, batch_size ≥ 1 (0 allowed for n_train/max_steps = "profile default");
      alpha_grid: numbers ≥ 0; in_context: int ≥ 0; template: teacher_forced | cot;
      divergences / kinds in labkit.losses.KINDS.

    Raises:
        LabkitError naming the parameter and the values it accepts.
    """
    p = params
    if "profile" in p and p["profile"] not in PROFILES:
        _fail("profile", p["profile"], f"one of {', '.join(PROFILES)}")
    if "seed" in p and (isinstance(p["seed"], bool) or not isinstance(p["seed"], int)):
        _fail("seed", p["seed"], "an integer")
    if "interactive" in p and not isinstance(p["interactive"], bool):
        _fail("interactive", p["interactive"], "True or False")
    if "device" in p:
        d = p["device"]
        if not isinstance(d, str) or d.split(":", 1)[0] not in DEVICES:
            _fail("device", d, "auto, cpu, cuda, cuda:N or mps")
    for name in ("teachers", "teacher"):
        if name in p and p[name] is not None:
            _check_teachers(p[name], name)
    if "alphas" in p:
        _check_alphas(p["alphas"], p.get("teachers"))
    for name in ("alpha", "lam", "lambda_", "ce_weight", "alpha_grid"):
        if name in p:
            _check_alphas(p[name], name=name)
    for name in ("beta", "betas", "lmbda", "lmbdas", "teacher_mix", "noise", "weight"):
        if name in p:
            _check_unit(name, p[name])
    if "in_context" in p:
        _check_positive_int("in_context", p["in_context"], allow_zero=True)
    if "template" in p and p["template"] not in ("teacher_forced", "cot"):
        _fail("template", p["template"], "teacher_forced or cot")
    if "fractions" in p:
        fr = p["fractions"]
        if not isinstance(fr, (list, tuple)) or not fr or not all(_is_number(f) and 0 < f <= 1 for f in fr):
            _fail("fractions", fr, "a non-empty list of numbers in (0, 1]")
    if "dataset" in p:
        ds = p["dataset"]
        known = known_datasets()
        is_hub_id = isinstance(ds, str) and ":" not in ds and ds.count("/") == 1
        if ds not in known and not is_hub_id:
            _fail("dataset", ds, f"one of {', '.join(known)} (or a hub id 'owner/name')")
    for name in ("n_train", "max_steps"):
        if name in p and p[name] is not None:
            _check_positive_int(name, p[name], allow_zero=True)
    for name in ("steps", "batch_size", "n_eval", "n_test"):
        if name in p and p[name] is not None:
            _check_positive_int(name, p[name], allow_zero=name in ("n_eval", "n_test"))
    for name in ("divergences", "kinds", "kind", "divergence"):
        if name in p:
            items = [p[name]] if isinstance(p[name], str) else p[name]
            try:
                from labkit.losses import KINDS as kinds
            except Exception:  # noqa: BLE001
                kinds = DIVERGENCES
            for k in items:
                if k not in kinds:
                    _fail(name, p[name], f"divergence kinds from {', '.join(kinds)}")
    return params


def profile_values(profile: str, defaults: dict, **given) -> dict:
    """Fill parameters left empty (None, 0, "", []) from the profile's defaults.

    Args:
        profile: "smoke" | "default" | "paper".
        defaults: {profile: {name: value}}.
        given: the notebook's current values.
    Returns:
        {name: value} for every name in given (and every name in defaults[profile]).
    """
    if profile not in defaults:
        _fail("profile", profile, f"one of {', '.join(defaults)}")
    out = dict(defaults[profile])
    for name, value in given.items():
        if value is None or (not isinstance(value, bool) and value in (0, "", [], {})):
            out.setdefault(name, value)
        else:
            out[name] = value
    return out


def in_live_kernel() -> bool:
    """True inside a Jupyter kernel (an IPython ZMQInteractiveShell with a kernel); False in plain
    Python, IPython terminals and scripts.

    A papermill run is also a ZMQ kernel and cannot be told apart from here, so notebooks use
    show_widgets(interactive): papermill runs (tests, `labkit reproduce`) pass interactive=False.
    """
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    if shell is None or type(shell).__name__ != "ZMQInteractiveShell":
        return False
    return getattr(shell, "kernel", None) is not None


def show_widgets(interactive: bool) -> bool:
    """Whether a notebook should build its widget panel: interactive=True and a live kernel."""
    return bool(interactive) and in_live_kernel()


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


# --------------------------------------------------------------------------- shared glue for 01 / 02

def accuracy(model, tokenizer, records, *, device="auto", batch_size: int = 16, bf16="auto") -> float:
    """Student accuracy on the [answer] task: option scoring for multiple choice, SVAMP-style
    value match for math word problems (no choices). bf16="auto": autocast where supported."""
    from labkit import evaluate

    if records and records[0].choices:
        return evaluate.mc_accuracy(model, tokenizer, records, batch_size=batch_size, device=device, bf16=bf16)
    return evaluate.svamp_accuracy(model, tokenizer, records, batch_size=batch_size, device=device, bf16=bf16)


def train_student(student: str, train_records, test_records, *, tasks: dict, label_source: str = "gold",
                  config=None, device: str = "auto") -> dict:
    """Load a fresh student, train it multi-task (labkit.train.train_multitask), score it on test.

    Args:
        student: model name for labkit.models.load_model (e.g. "tiny@layers=2").
        tasks: {"answer": 1.0, "rationale:<teacher>": α, ...}.
        label_source: "gold" or a teacher name (standard distillation uses the teacher's labels).
    Returns:
        {"accuracy", "final_loss", "train_seconds", "eval_seconds", "n_train"}.
    """
    from labkit import models, train

    t0 = time.perf_counter()
    model = models.load_model(student, device=device)
    tokenizer = models.load_tokenizer(student)
    history = train.train_multitask(model, tokenizer, train_records, tasks=tasks, label_source=label_source,
                                    config=config)
    t1 = time.perf_counter()
    model.eval()
    acc = accuracy(model, tokenizer, test_records, device=device)
    return {"accuracy": acc, "final_loss": history.last("loss"), "train_seconds": round(t1 - t0, 2),
            "eval_seconds": round(time.perf_counter() - t1, 2), "n_train": len(train_records)}


def set_threads(threads: int) -> int:
    """torch CPU threads for this kernel (0 = leave as is); returns the number in use.

    Small models on a busy 2-core machine train ~10x faster on one thread than on two
    (measured: 12 steps of tiny@layers=2 took 6 s vs 78 s), so smoke profiles use 1.
    """
    import torch

    if threads and threads > 0:
        torch.set_num_threads(int(threads))
    return torch.get_num_threads()


def side_by_side(columns: dict, width: int = 58, max_lines: int = 40) -> str:
    """Text columns next to each other (teacher prompts, rationales), for print() in any kernel."""
    import textwrap

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
