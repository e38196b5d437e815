"""Dependencies point one way: no import cycle between modules, none between the top-level
packages (the server counted by its subpackages, the ``qatys`` command apart from the helpers
every package shares), and the protocol imports none of the others.

Read from the source (imports under ``if TYPE_CHECKING:`` are for the type checker only)."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("protocol", "terminal", "server", "provisioning", "qatys", "tools")
ENTRY_POINTS = ("qatys.cli", "qatys.demo", "qatys.__main__")
"""The command: it imports every package's commands, and every package may use the helpers
of ``qatys`` (logs, time, files)."""


def _module(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module(p): p for package in PACKAGES for p in (ROOT / package).rglob("*.py")
            if "alembic" not in p.parts and "revisions" not in p.parts}


class _Imports(ast.NodeVisitor):
    def __init__(self) -> None:
        self.names: set[str] = set()

    def visit_If(self, node: ast.If) -> None:
        if isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            for child in node.orelse:
                self.visit(child)
            return
        self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        self.names.update(alias.name for alias in node.names)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.module and not node.level:
            self.names.add(node.module)
            self.names.update(f"{node.module}.{alias.name}" for alias in node.names)


def import_graph() -> dict[str, set[str]]:
    modules = _modules()
    graph = {}
    for name, path in modules.items():
        visitor = _Imports()
        visitor.visit(ast.parse(path.read_text(encoding="utf-8")))
        graph[name] = {m for m in visitor.names if m in modules and m != name}
    return graph


def node(module: str) -> str:
    """What a cycle is counted between."""
    parts = module.split(".")
    if parts[0] == "server" and len(parts) > 1:
        return ".".join(parts[:2])
    if any(module == e or module.startswith(e + ".") for e in ENTRY_POINTS):
        return "qatys.cli"
    return parts[0]


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one vertex (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_module_imports_itself_back() -> None:
    assert cycles(import_graph()) == []


def test_packages_depend_one_way() -> None:
    packages: dict[str, set[str]] = defaultdict(set)
    for module, imported in import_graph().items():
        packages[node(module)].update(node(m) for m in imported if node(m) != node(module))
    assert cycles(dict(packages)) == []


def test_the_protocol_imports_no_other_package() -> None:
    for module, imported in import_graph().items():
        if module.startswith("protocol"):
            assert all(m.startswith("protocol") for m in imported), (module, imported)


def test_the_check_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_test_module_imports_another() -> None:
    """Shared helpers live in support modules (tests/helpers.py and its kin), so every test
    module can run alone and none depends on another's internals."""
    tests = ROOT / "tests"
    offenders = []
    for path in [*tests.rglob("*.py"), *(ROOT / "bench").rglob("*.py")]:
        visitor = _Imports()
        visitor.visit(ast.parse(path.read_text(encoding="utf-8")))
        offenders += [(path.name, m) for m in visitor.names if m.startswith("tests.test_")]
    assert offenders == []
