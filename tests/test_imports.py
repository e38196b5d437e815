"""Dependencies point one way: no import cycle between modules, none between the top-level
packages (the server counted by its subpackages, and as one package; the ``qatys`` command apart
from the helpers every package shares), and the protocol imports none of the others.

Read from the source (imports under ``if TYPE_CHECKING:`` are for the type checker only)."""

from __future__ import annotations

import ast
from pathlib import Path

from tools.code_figures import (
    by_subpackage,
    collapse,
    import_graph,
    imported_names,
    strongly_connected,
    top_level,
)

ROOT = Path(__file__).resolve().parent.parent


def test_no_module_imports_itself_back() -> None:
    assert strongly_connected(import_graph(ROOT)) == []


def test_packages_depend_one_way() -> None:
    """The server counted by its subpackages, the ``qatys`` command apart from the helpers
    every package shares (docs/architecture.md)."""
    assert strongly_connected(collapse(import_graph(ROOT), by_subpackage)) == []


def test_top_level_folders_depend_one_way() -> None:
    """With ``server/`` counted as one package: the design card's folders in one order,
    ``protocol`` ← ``provisioning`` ← ``server``, and ``terminal`` on the protocol alone."""
    assert strongly_connected(collapse(import_graph(ROOT), top_level)) == []


def test_provisioning_needs_nothing_of_the_server_or_the_terminal() -> None:
    """The roster file, IIN and card formats are pure: the server builds on them, never the
    other way round (docs/architecture.md)."""
    for module, imported in import_graph(ROOT).items():
        if module.startswith("provisioning"):
            assert all(m.split(".")[0] in ("provisioning", "protocol", "qatys")
                       and not m.startswith(("qatys.cli", "qatys.demo")) for m in imported), \
                (module, imported)


def test_the_protocol_imports_no_other_package() -> None:
    for module, imported in import_graph(ROOT).items():
        if module.startswith("protocol"):
            assert all(m.startswith("protocol") for m in imported), (module, imported)


def test_the_check_finds_a_cycle() -> None:
    assert strongly_connected({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_test_module_imports_another() -> None:
    """Shared helpers live in support modules (tests/helpers.py and its kin), so every test
    module can run alone and none depends on another's internals."""
    tests = ROOT / "tests"
    offenders = []
    for path in [*tests.rglob("*.py"), *(ROOT / "bench").rglob("*.py")]:
        names = imported_names(ast.parse(path.read_text(encoding="utf-8")))
        offenders += [(path.name, m) for m in names if m.startswith("tests.test_")]
    assert offenders == []
