"""labkit: a small library for a hands-on lab on knowledge distillation from LLMs.

Notebooks use one alias, ``import labkit as lk``; submodules load lazily so that
``lk.losses`` does not pay for ``transformers`` and ``lk.models`` does not pay for
``matplotlib``.
"""
from importlib import import_module

__version__ = "0.1.0"

_SUBMODULES = (
    "models", "tiny", "data", "prompts", "rationales", "losses", "train", "kd",
    "evaluate", "plots", "widgets", "modeseek", "notebook", "batch", "report", "cli",
)


def __getattr__(name):
    if name in _SUBMODULES:
        module = import_module(f"labkit.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'labkit' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_SUBMODULES))
