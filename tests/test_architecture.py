"""The shape of the code, checked statically (nothing imported): which package may import which,
no import cycle between modules (``if TYPE_CHECKING:`` imports and ``benchmarks/`` included),
at most a dozen modules directly in ``automl/``, no module over 300 lines, no function over 60
lines unless a ``# long:`` comment in it says why."""

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
TOP_LEVEL_MAX_MODULES = 12  # automl/ itself: the rest lives in rooms named for their jobs
# Scripts whose imports join the cycle check (they import each other, and bare sibling names).
SCRIPT_DIRS = ("benchmarks",)


def _modules(packages: tuple[str, ...] = PACKAGES) -> dict[str, Path]:
    out = {}
    for pkg in packages:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(parts)] = path
    return out


MODULES = _modules()
SCRIPTS = _modules(SCRIPT_DIRS)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST, type_checking: bool = False) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import that runs (at module level or inside a function); ``TYPE_CHECKING`` ones
    too when ``type_checking`` (they are never executed, but a circle through them is still a
    circle a reader has to untangle)."""
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _is_type_checking(node) and not type_checking:
            stack.extend(node.orelse)
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        stack.extend(ast.iter_child_nodes(node))


def _imported(module: str, path: Path, type_checking: bool = False) -> set[str]:
    """The project modules ``module`` imports (``from pkg import name`` counts as the submodule
    ``pkg.name`` when there is one, else as ``pkg``; a script's bare ``import sibling`` counts
    as its sibling module)."""
    known = {**MODULES, **SCRIPTS}
    roots = {m.split(".")[0] for m in known}
    sibling = module.split(".")[0] if module in SCRIPTS else None
    out: set[str] = set()
    for node in _imports(ast.parse(path.read_text()), type_checking):
        if isinstance(node, ast.Import):
            for a in node.names:
                if sibling and f"{sibling}.{a.name}" in SCRIPTS:
                    out.add(f"{sibling}.{a.name}")
                elif a.name.split(".")[0] in roots:
                    out.add(a.name)
            continue
        base = node.module or ""
        if sibling and not node.level and f"{sibling}.{base}" in SCRIPTS:
            base = f"{sibling}.{base}"
        if node.level:
            package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
            package = package[: len(package) - (node.level - 1)]
            base = ".".join([*package, base] if base else package)
        if base.split(".")[0] not in roots:
            continue
        for alias in node.names:
            full = f"{base}.{alias.name}"
            out.add(full if full in known else base)
    return out


GRAPH = {m: _imported(m, p) for m, p in MODULES.items()}
# The cycle check reads type-only imports too, and the benchmark scripts.
FULL_GRAPH = {m: _imported(m, p, type_checking=True) for m, p in {**MODULES, **SCRIPTS}.items()}


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
    assert _cycles(FULL_GRAPH) == []


def test_the_cycle_check_sees_type_only_imports_and_scripts(tmp_path: Path) -> None:
    # A circle closed only by an `if TYPE_CHECKING:` import, and one between two scripts
    # through a bare sibling import, are both seen.
    a = tmp_path / "a.py"
    a.write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import automl.api\n")
    assert "automl.api" in _imported("automl.errors", a, type_checking=True)
    assert "automl.api" not in _imported("automl.errors", a)
    b = tmp_path / "b.py"
    b.write_text("from chaos_common import check\nimport suite\n")
    assert {"benchmarks.chaos_common", "benchmarks.suite"} <= _imported("benchmarks.chaos", b)


def test_automl_keeps_its_modules_in_rooms() -> None:
    top = sorted(p.name for p in (ROOT / "automl").glob("*.py"))
    assert len(top) <= TOP_LEVEL_MAX_MODULES, top


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
