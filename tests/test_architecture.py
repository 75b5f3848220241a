"""The shape of the code, checked statically (nothing imported): which package may import which,
no import cycle between modules, no module over 300 lines, no function over 60 lines unless a
``# long:`` comment in it says why."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("automl", "search_spaces", "trainer", "dashboard")
# Who may import whom (any import, lazy ones included): the layers of the README.
FORBIDDEN = {
    "trainer": ("automl", "dashboard"),
    "search_spaces": ("automl", "trainer", "dashboard"),
    "automl": ("dashboard",),
    "dashboard": ("trainer",),  # the dashboard reads the database and never trains
}
MODULE_MAX_LINES = 300
FUNCTION_MAX_LINES = 60


def _modules() -> dict[str, Path]:
    out = {}
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(parts)] = path
    return out


MODULES = _modules()


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import that runs (at module level or inside a function), not ``TYPE_CHECKING``
    ones: those are annotations, never executed."""
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _is_type_checking(node):
            stack.extend(node.orelse)
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        stack.extend(ast.iter_child_nodes(node))


def _imported(module: str, path: Path) -> set[str]:
    """The project modules ``module`` imports (``from pkg import name`` counts as the submodule
    ``pkg.name`` when there is one, else as ``pkg``)."""
    out: set[str] = set()
    for node in _imports(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.split(".")[0] in PACKAGES)
            continue
        base = node.module or ""
        if node.level:
            package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
            package = package[: len(package) - (node.level - 1)]
            base = ".".join([*package, base] if base else package)
        if base.split(".")[0] not in PACKAGES:
            continue
        for alias in node.names:
            full = f"{base}.{alias.name}"
            out.add(full if full in MODULES else base)
    return out


GRAPH = {m: _imported(m, p) for m, p in MODULES.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root] & graph.keys())))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, edges = work[-1]
            child = next(edges, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child] & graph.keys()))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    top = stack.pop()
                    on_stack.discard(top)
                    component.append(top)
                    if top == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_cycle_finder_finds_a_cycle() -> None:
    # The check below must be able to fail: a two-module and a three-module loop are found.
    graph = {"a": {"b"}, "b": {"a"}, "c": {"d"}, "d": {"e"}, "e": {"c"}, "f": {"a"}}
    assert sorted(_cycles(graph)) == [["a", "b"], ["c", "d", "e"]]


def test_no_import_cycle_between_modules() -> None:
    assert _cycles(GRAPH) == []


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_imports_point_one_way(package: str) -> None:
    bad = sorted(
        f"{module} imports {target}"
        for module, targets in GRAPH.items()
        if module.split(".")[0] == package
        for target in targets
        if target.split(".")[0] in FORBIDDEN[package]
    )
    assert not bad, bad


def _python_files() -> list[Path]:
    roots = [*PACKAGES, "tests", "benchmarks", "examples"]
    return sorted(p for r in roots for p in (ROOT / r).rglob("*.py"))


def test_no_module_over_300_lines() -> None:
    long = {
        str(p.relative_to(ROOT)): n
        for p in _python_files()
        if (n := len(p.read_text().splitlines())) > MODULE_MAX_LINES
    }
    assert not long, long


def test_long_functions_say_why() -> None:
    bad = []
    for path in _python_files():
        text = path.read_text()
        lines = text.splitlines()
        for node in ast.walk(ast.parse(text)):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            body = lines[node.lineno - 1 : node.end_lineno]
            if len(body) > FUNCTION_MAX_LINES and not any("# long:" in line for line in body):
                bad.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({len(body)})")
    assert not bad, bad
