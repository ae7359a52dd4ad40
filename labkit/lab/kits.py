"""The miniatures' cached kits, built ahead of the notebooks that read them.

Notebooks 03 and 04 share a task teacher and an SFT student init (labkit.lab.task_teacher; at profile "default" they
run a known teacher instead, defined in seconds, nothing to build), notebook 06 its cross-tokenizer teachers and
student init (labkit.lab.xtok). Like the converted models of ``labkit models
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

_TABLES = {"task": profiles.WHITEBOX, "xtok": profiles.XTOK}
KITS = tuple(_TABLES)


def used_by(name: str) -> list[str]:
    """The notebooks whose profile table names this kit."""
    return [nb for nb, table in profiles.BY_NOTEBOOK.items() if table is _TABLES[name]]


def recipe_of(name: str, profile: str) -> str:
    """The kit recipe a profile's notebooks use ("" where the profile runs named models instead)."""
    profiles.check_profile(profile)
    if name not in KITS:
        raise LabkitError(f"kit {name!r}: expected one of {', '.join(KITS)}")
    recipe = _TABLES[name].get(profile, {}).get("kit", "")
    # "known": notebooks 03/04's known teacher is defined, not trained: built in seconds, nothing to cache
    return "" if recipe in ("", "none", "known") else recipe


def build(profile: str = "default", names=KITS) -> list[dict]:
    """Build (or load) each named kit of ``profile``: one row per kit {kit, recipe, path (None without a kit),
    seconds of this call, manifest (the build's own record: seconds, valid accuracy)}. Every name is checked before
    anything is built."""
    from labkit.lab import task_teacher, xtok

    loaders = {"task": task_teacher.task_kit, "xtok": xtok.xtok_kit}
    recipes = {name: recipe_of(name, profile) for name in names}
    rows = []
    for name, recipe in recipes.items():
        row = {"kit": name, "recipe": recipe, "path": None, "seconds": 0.0, "manifest": {}}
        if recipe:
            t0 = time.perf_counter()
            kit = loaders[name](recipe)
            row.update(path=str(kit.path), seconds=round(time.perf_counter() - t0, 1), manifest=kit.manifest)
        rows.append(row)
    return rows


def cli_build(args) -> int:
    names = args.names or KITS
    recipes = {name: recipe_of(name, args.profile) for name in names}  # every name checked before any build
    for name, recipe in recipes.items():
        if recipe:
            print(
                f"{name} kit ({recipe}) for {', '.join(used_by(name))}: loading, or building it once (minutes on a "
                f"CPU)",
                flush=True,
            )
        (row,) = build(args.profile, [name])
        record = ", ".join(
            f"{k}={v:.3g}"
            for k, v in row["manifest"].items()
            if k.endswith(("_seconds", "_accuracy")) and isinstance(v, (int, float))
        )
        nothing = (
            "a known teacher, defined not trained: nothing to build"
            if _TABLES[name].get(args.profile, {}).get("kit") == "known"
            else f"profile {args.profile!r} runs named models: no kit"
        )
        print(
            f"{row['kit']:5s} {row['recipe'] or '-':8s} {row['seconds']:7.1f} s  {row['path'] or '-'}  "
            f"{record or nothing}",
            flush=True,
        )
    return 0
