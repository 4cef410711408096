"""The core's modules import each other without cycles: every import counts, those inside
functions (which keep start-up light) too; only ``if TYPE_CHECKING`` blocks do not."""

from __future__ import annotations

import ast
from pathlib import Path

import tierii_core

ROOT = Path(tierii_core.__file__).parent


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(tree: ast.Module) -> set[str]:
    skipped = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for inner in ast.walk(node)
    }
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in found if name.startswith("tierii_core")}


def import_graph() -> dict[str, set[str]]:
    modules = {_module_name(path): path for path in ROOT.rglob("*.py") if "plugin_template" not in path.parts}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        imported = _imports(ast.parse(path.read_text(encoding="utf-8")))
        graph[name] = {m for m in imported if m in modules and m != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_the_core_has_no_import_cycles() -> None:
    graph = import_graph()
    assert len(graph) > 30  # the whole core was read
    assert cycles(graph) == []


def test_the_cli_commands_share_only_the_context() -> None:
    """Each command family of ``tierii_core.cli`` stands alone: it imports what the commands
    share (``context``, ``message_options``), never another family nor the package (whose
    ``__init__`` imports them all)."""
    graph = import_graph()
    shared = {"tierii_core.cli.context", "tierii_core.cli.message_options"}
    entry = {"tierii_core.cli.__main__"}  # `python -m tierii_core.cli` runs the package's main
    families = [name for name in graph if name.startswith("tierii_core.cli.") and name not in shared | entry]
    assert "tierii_core.cli.send" in families
    for name in families:
        inside = {m for m in graph[name] if m == "tierii_core.cli" or m.startswith("tierii_core.cli.")}
        assert inside <= shared, f"{name} imports {sorted(inside - shared)}"
