"""Batch runs of the notebooks and the report (a leaf beside labkit.lab: nothing in the core imports it).

  layout     the runs folder: run ids, "is this run finished?", JSON files
  batch      papermill runs over grids, locally or on Ray (never writes the report)
  report     results.csv and report.md/html from a runs folder
  reproduce  entry points: a batch, then the report (what the CLI calls)
"""
import pkgutil
from importlib import import_module

_SUBMODULES = tuple(sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_")))


def __getattr__(name):
    if name in _SUBMODULES:
        module = import_module(f"{__name__}.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_SUBMODULES))
