"""The miniatures' cached kits, built ahead of the notebooks that read them.

Notebooks 03 and 04 share a task teacher and an SFT student init (labkit.lab.task_teacher), notebook 06 its
cross-tokenizer teachers and student init (labkit.lab.xtok). Like the converted models of ``labkit models
fetch``, each is built once per recipe and cached under $LABKIT_HOME; a notebook that finds none builds it
itself. ``make reproduce`` builds them in its set-up, next to the models' fetch, so that a notebook's wall time
is its own comparison and not a shared asset's first build:

    labkit kits build --profile default        # both kits of the profile (minutes the first time, then < 1 s)
    labkit kits build --profile default task   # only notebooks 03/04's
"""
from __future__ import annotations

import time

from labkit.errors import LabkitError
from labkit.lab import profiles

KITS = ("task", "xtok")
_TABLES = {"task": profiles.WHITEBOX, "xtok": profiles.XTOK}
_USED_BY = {"task": "03_minillm_reverse_kl, 04_gkd_on_policy", "xtok": "06_cross_tokenizer"}


def recipe_of(name: str, profile: str) -> str:
    """The kit recipe a profile's notebooks use ("" where the profile runs named models instead)."""
    profiles.check_profile(profile)
    if name not in KITS:
        raise LabkitError(f"kit {name!r}: expected one of {', '.join(KITS)}")
    recipe = _TABLES[name].get(profile, {}).get("kit", "")
    return "" if recipe in ("", "none") else recipe


def build(profile: str = "default", names=KITS) -> list[dict]:
    """Build (or load) each named kit of ``profile``; one row per kit: name, recipe, path, seconds of this call,
    and the build's own record (seconds, valid accuracy) from its manifest."""
    from labkit.lab import task_teacher, xtok
    loaders = {"task": task_teacher.task_kit, "xtok": xtok.xtok_kit}
    recipes = {name: recipe_of(name, profile) for name in names}       # every name checked before any build
    rows = []
    for name, recipe in recipes.items():
        if not recipe:
            rows.append({"kit": name, "recipe": "", "used_by": _USED_BY[name], "path": None, "seconds": 0.0,
                         "note": f"profile {profile!r} runs named models: no kit"})
            continue
        t0 = time.perf_counter()
        kit = loaders[name](recipe)
        m = kit.manifest
        rows.append({"kit": name, "recipe": recipe, "used_by": _USED_BY[name], "path": str(kit.path),
                     "seconds": round(time.perf_counter() - t0, 1),
                     "note": ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in m.items()
                                       if k.endswith(("_seconds", "_accuracy")))})
    return rows


def cli_build(args) -> int:
    names = args.names or list(KITS)
    for name in names:
        recipe_of(name, args.profile)                                    # every name checked before any build
    for name in names:
        if recipe_of(name, args.profile):
            print(f"{name} kit for {_USED_BY[name]}: loading, or building it once (minutes on a CPU)", flush=True)
        row, = build(args.profile, [name])
        where = row["path"] or "-"
        print(f"{row['kit']:5s} {row['recipe'] or '-':8s} {row['seconds']:7.1f} s  {where}  ({row['used_by']}) "
              f"{row['note']}", flush=True)
    return 0
