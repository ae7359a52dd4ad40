"""Lazy submodules for a package (PEP 562): ``lk.losses`` imports labkit.losses on first use."""

from __future__ import annotations

import pkgutil
from importlib import import_module


def lazy_submodules(package: str, path, namespace: dict):
    """(__getattr__, __dir__, names) for `package`: its public submodules, read from the folder (pkgutil),
    imported on first attribute access and then kept in `namespace` (the package's globals)."""
    names = tuple(sorted(m.name for m in pkgutil.iter_modules(path) if not m.name.startswith("_")))

    def __getattr__(name):
        if name in names:
            module = import_module(f"{package}.{name}")
            namespace[name] = module
            return module
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__():
        return sorted(list(namespace) + list(names))

    return __getattr__, __dir__, names
