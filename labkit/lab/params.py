"""Parameter checks of the lab's notebooks.

A notebook's derived cell calls ``check_parameters(profile=profile, teachers=teachers, ...)`` before any
heavy work, so that a wrong parameter injected by papermill fails at once, with a message naming the
parameter and the values it accepts.
"""

from __future__ import annotations

import math
from pathlib import Path

from labkit import data, models, rationales
from labkit.errors import LabkitError
from labkit.lab.profiles import PROFILES
from labkit.losses import KINDS as DIVERGENCES

DEVICES = ("auto", "cpu", "cuda", "mps")


# --------------------------------------------------------------------------- helpers


def _fail(name: str, value, expected: str):
    raise LabkitError(f"parameter {name}={value!r}: expected {expected}")


def _is_number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def known_teachers() -> list[str]:
    """Teacher names the lab knows: labkit.rationales.KNOWN_TEACHERS plus the model catalog."""
    names: list[str] = []
    names += list(rationales.KNOWN_TEACHERS)
    names += list(models.CATALOG)
    return sorted(set(names))


def known_datasets() -> list[str]:
    """Dataset names from labkit.data.list_datasets()."""
    return list(data.list_datasets())


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
            raise LabkitError(
                f"parameter {name}: unknown teacher {t!r}; known teachers: {', '.join(known)} "
                f"(plus NAME@option variants and local model directories)"
            )


def _check_alphas(alphas, teachers=None, name: str = "alphas"):
    """alphas: a number, a list (one per teacher) or a dict teacher -> α; every α ≥ 0."""
    if _is_number(alphas):
        values = {name: alphas}
    elif isinstance(alphas, dict):
        values = {f"{name}[{k!r}]": v for k, v in alphas.items()}
        if teachers is not None:
            extra = set(alphas) - set([teachers] if isinstance(teachers, str) else teachers)
            if extra:
                raise LabkitError(
                    f"parameter {name}: α given for {sorted(extra)} which are not in teachers={teachers!r}"
                )
    elif isinstance(alphas, (list, tuple)):
        values = {f"{name}[{i}]": v for i, v in enumerate(alphas)}
        if teachers is not None and not isinstance(teachers, str) and len(alphas) not in (0, len(teachers)):
            raise LabkitError(
                f"parameter {name}: {len(alphas)} values for {len(teachers)} teachers; expected one α per teacher"
            )
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
      profile in lab.profiles.PROFILES; seed int; interactive bool; device auto|cpu|cuda[:i]|mps;
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
            for k in items:
                if k not in DIVERGENCES:
                    _fail(name, p[name], f"divergence kinds from {', '.join(DIVERGENCES)}")
    return params
