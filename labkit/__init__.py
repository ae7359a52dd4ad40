"""labkit: a small library for a hands-on lab on knowledge distillation from LLMs.

Notebooks use one alias, ``import labkit as lk``; every module and subpackage (``lk.losses``,
``lk.methods``, ``lk.lab``, ``lk.runs`` ...) loads lazily on first use, so that ``lk.losses`` does not pay
for ``transformers`` and ``lk.models`` does not pay for ``matplotlib``. The list is read from the package
folder (pkgutil), so it cannot drift from the files.

Layers (docs/methods.md explains the methods; the README's tour maps the files):
  core      models, tiny, data, answers, prompts, rationales, losses, sequences, loop, evaluate, modeseek
  methods/  one module per distillation method
  lab/      notebook glue: profiles, parameter checks, metrics.json, papers, plots, widgets (a leaf)
  runs/     batch runs of the notebooks and the report
"""
import pkgutil
from importlib import import_module

__version__ = "0.1.0"

_SUBMODULES = tuple(sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_")))


def __getattr__(name):
    if name in _SUBMODULES:
        module = import_module(f"{__name__}.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_SUBMODULES))
