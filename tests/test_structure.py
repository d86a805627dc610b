"""The package's shape, checked from its source (docs/ARCHITECTURE.md): small modules and functions, imports that
point down the layers, no import cycles, no torch below the layers that need it.

Read with :mod:`ast`, nothing is imported: a rule broken anywhere in ``hwnas/`` fails here with the file and line.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "hwnas"
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 60
# Layers, lowest first: a module may import its own layer and the layers below, never one above (DESIGN.md:
# cli -> run -> workflows/search -> supernet/cost -> space/nn/blocks -> arch).
LAYERS = (
    {"arch", "fileio", "settings", "distributed", "presets", "threads"},
    {"blocks", "nn", "space", "zoo", "archref", "data", "train"},
    {"cost", "supernet", "scaled_references"},
    {"search", "workflows", "report"},
    {"run"},
    {"cli", "__main__"},
)
NO_TORCH = ("arch", "space")  # pure Python: the spec and the space contract


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


@cache
def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"))


def _imports(name: str, path: Path, top_level_only: bool = False) -> list[tuple[str, int]]:
    """The hwnas modules ``name`` imports (``from hwnas.x import y`` counts ``hwnas.x.y`` when that is a module),
    with line numbers; ``top_level_only``: only imports that run when the module is imported."""
    modules = _modules()
    nodes = _tree(path).body if top_level_only else ast.walk(_tree(path))
    out = []
    for node in nodes:
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            targets = [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in modules else node.module
                       for a in node.names]
        else:
            continue
        out += [(t, node.lineno) for t in targets if t.split(".")[0] in ("hwnas", "torch")]
    return out


def _layer(module: str) -> int | None:
    parts = module.split(".")
    top = parts[1] if len(parts) > 1 else ""
    return next((i for i, names in enumerate(LAYERS) if top in names), None)


def test_modules_are_small():
    big = [f"{p.relative_to(PACKAGE.parent)}: {n} lines" for p in PACKAGE.rglob("*.py")
           if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES]
    assert not big, f"modules over {MAX_MODULE_LINES} lines: {big}"


def test_functions_are_small():
    long = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(_tree(path)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno} {node.name} ({lines} lines)")
    assert not long, f"functions over {MAX_FUNCTION_LINES} lines: {long}"


def test_every_top_level_folder_has_a_layer():
    tops = {m.split(".")[1] for m in _modules() if m.count(".") >= 1}
    missing = sorted(t for t in tops if _layer(f"hwnas.{t}") is None)
    assert not missing, f"add {missing} to LAYERS in {Path(__file__).name}"


def test_imports_point_down():
    upward = []
    for name, path in _modules().items():
        here = _layer(name)
        for target, line in _imports(name, path):
            there = _layer(target) if target.startswith("hwnas.") else None
            if here is not None and there is not None and there > here:
                upward.append(f"{path.relative_to(PACKAGE.parent)}:{line} imports {target}")
    assert not upward, f"imports from a higher layer: {upward}"


def test_cost_never_imports_search():
    bad = [f"{p.relative_to(PACKAGE.parent)}:{line} {t}" for n, p in _modules().items() if n.startswith("hwnas.cost")
           for t, line in _imports(n, p) if t.startswith("hwnas.search")]
    assert not bad, bad


@pytest.mark.parametrize("package", NO_TORCH)
def test_pure_python_layers_do_not_import_torch(package):
    bad = [f"{p.relative_to(PACKAGE.parent)}:{line}" for n, p in _modules().items()
           if n.startswith(f"hwnas.{package}") for t, line in _imports(n, p, top_level_only=True)
           if t.split(".")[0] == "torch"]
    assert not bad, f"hwnas.{package} imports torch when imported: {bad}"


def test_no_import_cycles():
    """Between modules, counting every import (a function-level import that closes a loop is still a loop of
    dependencies, only hidden from Python)."""
    modules = _modules()
    graph = {n: {t for t, _ in _imports(n, p) if t in modules and t != n} for n, p in modules.items()}
    cycles, state = [], {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                cycles.append(" -> ".join(stack[stack.index(nxt):] + [nxt]))
            elif nxt not in state:
                visit(nxt, stack)
        stack.pop()
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [])
    assert not cycles, f"import cycles: {cycles}"
