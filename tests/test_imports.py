"""The package's shape: every module imports on its own, `lk.<module>` works for every module and
subpackage, no import cycle (imports inside functions included), and the core and labkit.methods never
import the notebook layer (labkit.lab) or the runs layer (labkit.runs)."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import labkit

PACKAGE = Path(labkit.__file__).resolve().parent
LEAF_LAYERS = ("labkit.lab", "labkit.runs")
MAY_IMPORT_LEAVES = ("labkit.lab", "labkit.runs", "labkit.cli")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _resolve(name: str) -> str | None:
    """The labkit module that `import name` / `from x import name` loads, or None (not labkit)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def labkit_imports(module: str) -> set[str]:
    """labkit modules imported anywhere in module's source (top level, functions, classes)."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(
                    package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else [])
                )
            names = [f"{base}.{a.name}" for a in node.names] + [base]
        else:
            continue
        for n in names:
            if n.split(".")[0] == "labkit":
                target = _resolve(n)
                if target and target != module:
                    found.add(target)
    return found


GRAPH = {m: labkit_imports(m) for m in MODULES}


def test_no_import_cycle_among_labkit_modules():
    # `import labkit.x.y` also runs labkit/__init__ and labkit/x/__init__; those only import lazily
    # (__getattr__), so package __init__ files are not edges here unless they import something themselves.
    state, cycles = {}, []

    def visit(m, stack):
        state[m] = "open"
        for n in sorted(GRAPH[m]):
            if state.get(n) == "open":
                cycles.append(stack[stack.index(n) :] + [n])
            elif n not in state:
                visit(n, stack + [n])
        state[m] = "done"

    for m in sorted(GRAPH):
        if m not in state:
            visit(m, [m])
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_core_and_methods_never_import_the_lab_or_runs_layers():
    bad = [
        f"{m} imports {n}"
        for m, deps in GRAPH.items()
        if not m.startswith(MAY_IMPORT_LEAVES) and m != "labkit"
        for n in deps
        if n.startswith(LEAF_LAYERS)
    ]
    assert not bad, bad


def test_lab_and_runs_do_not_import_each_other_backwards():
    """runs may use lab (profiles, papers); lab never uses runs."""
    bad = [
        f"{m} imports {n}"
        for m, deps in GRAPH.items()
        if m.startswith("labkit.lab")
        for n in deps
        if n.startswith("labkit.runs")
    ]
    assert not bad, bad


def test_every_module_and_subpackage_is_an_attribute_of_lk():
    subpackages = [p.parent.name for p in PACKAGE.glob("*/__init__.py")]
    modules = [p.stem for p in PACKAGE.glob("*.py") if not p.stem.startswith("_")]
    code = (
        "import labkit as lk\n"
        f"for name in {sorted(modules + subpackages)!r}:\n"
        "    getattr(lk, name)\n"
        "for pkg in ('lab', 'runs'):\n"
        "    for name in getattr(lk, pkg)._SUBMODULES:\n"
        "        getattr(getattr(lk, pkg), name)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]


@pytest.mark.parametrize("module", sorted(MODULES))
def test_every_module_imports_in_a_fresh_interpreter(module):
    done = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
