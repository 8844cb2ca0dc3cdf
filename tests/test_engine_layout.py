"""The engine package's shape: no import cycle among its modules (TYPE_CHECKING and
function-local imports included), no import of an upper layer, modules of a readable size."""

from __future__ import annotations

import ast
import pathlib

import tlskit.engine

ENGINE = pathlib.Path(tlskit.engine.__file__).parent
UPPER_LAYERS = ("tlskit.io", "tlskit.cli", "tlskit.ca")


def _module_name(path: pathlib.Path) -> str:
    parts = ("tlskit", "engine") + path.relative_to(ENGINE).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports() -> dict[str, set[str]]:
    """Every module of tlskit.engine -> the tlskit modules it imports anywhere in its body."""
    modules = {_module_name(p): p for p in ENGINE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                subs = {f"{node.module}.{a.name}" for a in node.names} & modules.keys()
                # "from pkg import submodule" needs the submodule, not (again) its parent package
                found.update(subs or {node.module})
        graph[name] = {m for m in found if m.startswith("tlskit") and m != name}
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in graph:
                continue
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start)):
            return found
    return None


def test_no_import_cycle_inside_the_engine():
    graph = _imports()
    assert "tlskit.engine.client" in graph and "tlskit.engine.states" in graph
    assert _cycle(graph) is None


def test_the_cycle_finder_finds_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_the_engine_imports_no_upper_layer():
    for module, imported in _imports().items():
        assert not [m for m in imported if m.startswith(UPPER_LAYERS)], module


def test_engine_modules_stay_under_800_lines():
    sizes = {p.name: len(p.read_text().splitlines()) for p in ENGINE.rglob("*.py")}
    assert max(sizes.values()) < 800, sizes
