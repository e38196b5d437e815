"""Figures of a source tree's shape, for a redesign's before/after: modules directly under
``server/``, import cycles (between modules, between packages with the server counted by its
subpackages, between top-level packages), the longest functions and how many pass a screen.

    python -m tools.code_figures [TREE]      (default: this checkout)

Read from the source with ``ast``; nothing is imported. English: a developers' tool.
"""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

PACKAGES = ("protocol", "terminal", "server", "provisioning", "qatys", "tools")
SCREEN = 50
"""Lines a function may take and still be read without scrolling."""


def _module_name(root: Path, path: Path) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _sources(root: Path) -> dict[str, Path]:
    return {_module_name(root, p): p for package in PACKAGES if (root / package).is_dir()
            for p in (root / package).rglob("*.py")
            if "alembic" not in p.parts and "revisions" not in p.parts}


def imported_names(tree: ast.AST) -> set[str]:
    """Names imported at run time (imports under ``if TYPE_CHECKING:`` left out)."""
    names: set[str] = set()
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) \
                and node.test.id == "TYPE_CHECKING":
            skip.update(id(child) for stmt in node.body for child in ast.walk(stmt))
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def import_graph(root: Path) -> dict[str, set[str]]:
    sources = _sources(root)
    return {name: {m for m in imported_names(ast.parse(path.read_text(encoding="utf-8")))
                   if m in sources and m != name}
            for name, path in sources.items()}


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Components of more than one vertex: each is an import cycle (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph.get(start, ()))))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            v, successors = work[-1]
            for w in successors:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph.get(w, ())))))
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
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
    return found


def collapse(graph: dict[str, set[str]], node: Callable[[str], str]) -> dict[str, set[str]]:
    collapsed: dict[str, set[str]] = defaultdict(set)
    for module, imported in graph.items():
        collapsed[node(module)].update(node(m) for m in imported if node(m) != node(module))
    return dict(collapsed)


def by_subpackage(module: str) -> str:
    parts = module.split(".")
    if parts[0] == "server" and len(parts) > 1:
        return ".".join(parts[:2])
    entry = parts[:2] in (["qatys", "cli"], ["qatys", "demo"], ["qatys", "__main__"])
    return "qatys.cli" if entry else parts[0]


def top_level(module: str) -> str:
    """The server as one package; the command (which imports every package) apart."""
    return by_subpackage(module).split(".")[0] if module.startswith("server") \
        else by_subpackage(module)


def functions(root: Path) -> list[tuple[int, str]]:
    """(lines, "module:function") for every function and method."""
    found = []
    for name, path in _sources(root).items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.end_lineno:
                found.append((node.end_lineno - node.lineno + 1, f"{name}:{node.name}"))
    return sorted(found, reverse=True)


def report(root: Path) -> list[str]:
    graph = import_graph(root)
    top = [p.name for p in (root / "server").glob("*.py") if p.name != "__init__.py"]
    sizes = functions(root)
    lines = [f"tree: {root}",
             f"modules directly under server/: {len(top)}",
             f"module import cycles: {strongly_connected(graph)}",
             f"package cycles (server by subpackage): "
             f"{strongly_connected(collapse(graph, by_subpackage))}",
             f"top-level package cycles: "
             f"{strongly_connected(collapse(graph, top_level))}",
             f"functions: {len(sizes)}, longer than {SCREEN} lines: "
             f"{sum(1 for n, _ in sizes if n > SCREEN)}",
             "longest: " + ", ".join(f"{where} {n}" for n, where in sizes[:5])]
    return lines


def main() -> None:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else ".").resolve()
    print("\n".join(report(root)))


if __name__ == "__main__":
    main()
