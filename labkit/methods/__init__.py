"""The lab's methods, one module each: a settings dataclass, an Objective for `labkit.loop.run_loop`,
a `train(...)` entry point, and the paper's equation in the module docstring.

    import labkit as lk
    lk.methods.names()                                    # ['dss', 'gkd', 'minillm', 'seqkd', 'sft', 'tinyllm',
    'wordkd']
    h = lk.methods.train("gkd", student, teacher, tok, prompts, lmbda=0.5, beta=0.5, config=cfg)
    lk.methods.get("minillm").Settings                     # its settings, documented and checked

Adding a method is one new file here that defines ``NAME``, ``Settings`` and ``train``: the registry
finds it.
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

from labkit.errors import LabkitError


def _discover() -> dict[str, ModuleType]:
    found = {}
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_") or info.name == "base":
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        if hasattr(module, "NAME") and hasattr(module, "train"):
            found[module.NAME] = module
    return dict(sorted(found.items()))


REGISTRY: dict[str, ModuleType] = _discover()


def names() -> list[str]:
    return list(REGISTRY)


def get(name: str) -> ModuleType:
    """The module of method `name`; LabkitError listing the known methods otherwise."""
    if name not in REGISTRY:
        raise LabkitError(f"method={name!r}: expected one of {', '.join(REGISTRY)}")
    return REGISTRY[name]


def train(name: str, *args, **kwargs):
    """Train with method `name`: ``get(name).train(*args, **kwargs)``; returns its History."""
    return get(name).train(*args, **kwargs)
