"""A terminal runs without the server's packages: its release carries pyproject.toml's base set
only (the server's are the ``server`` extra). Here the server extra's packages are made
unimportable in a real ``qatys`` process, as on a terminal: every terminal and protocol module
still imports, the terminal's commands run, and the server's say what is missing (exit 2),
never a traceback. The installed releases (tests/test_install_script.py, the arm64 test) are
the same check on a real terminal installation."""

from __future__ import annotations

import functools
import importlib.metadata
import json
import subprocess
import sys
import tomllib
from collections.abc import Iterable
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from qatys.lazygroup import missing_package
from tests.helpers import QATYS

ROOT = Path(__file__).resolve().parent.parent

_BLOCKED_RUN = """
import importlib.abc, sys
BLOCKED = set(sys.argv[1].split(","))
class NotOnATerminal(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None
sys.meta_path.insert(0, NotOnATerminal())
sys.argv = ["qatys", *sys.argv[2:]]
if sys.argv[1:2] == ["--import-all"]:
    import pkgutil, terminal, protocol
    for package in (terminal, protocol):
        for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            __import__(module.name)
    print("imported")
else:
    from qatys.cli import main
    main()
"""


def _closure(requirements: list[str]) -> set[str]:
    """The installed distributions ``requirements`` bring, by their normalised names."""
    seen: set[str] = set()
    stack = [Requirement(r) for r in requirements]
    while stack:
        requirement = stack.pop()
        name = requirement.name.lower().replace("_", "-")
        if name in seen:
            continue
        seen.add(name)
        wanted = requirement.extras
        for line in importlib.metadata.requires(name) or []:
            nested = Requirement(line)
            if nested.marker is None or any(nested.marker.evaluate({"extra": e})
                                            for e in ["", *wanted]):
                stack.append(nested)
    return seen


@functools.cache
def _server_only_modules() -> frozenset[str]:
    """The top-level modules of the distributions only the ``server`` extra brings."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    base = _closure(project["dependencies"])
    server = _closure(project["optional-dependencies"]["server"]) - base
    modules = importlib.metadata.packages_distributions()
    return frozenset(module for module, dists in modules.items()
                     if {d.lower().replace("_", "-") for d in dists} <= server
                     and not module.startswith("_"))


def _with_blocked(blocked: Iterable[str], *argv: str, env: dict[str, str] | None = None
                  ) -> subprocess.CompletedProcess[str]:
    """``qatys argv`` in a process where the ``blocked`` top-level modules do not import."""
    return subprocess.run([sys.executable, "-c", _BLOCKED_RUN, ",".join(sorted(blocked)),
                           *argv], capture_output=True, text=True, timeout=120, cwd=ROOT,
                          check=False, env=env)


def _without_server_packages(*argv: str) -> subprocess.CompletedProcess[str]:
    return _with_blocked(_server_only_modules(), *argv)


def test_the_server_extra_is_what_is_blocked() -> None:
    """The check below is only as good as this list: it holds the server's big packages and
    none of the terminal's."""
    blocked = _server_only_modules()
    assert {"sqlalchemy", "alembic", "gevent", "psycopg", "fpdf", "openpyxl", "holidays",
            "babel", "flask_babel", "gunicorn", "pywebpush", "segno"} <= blocked
    assert not blocked & {"flask", "numpy", "cv2", "cryptography", "requests", "click",
                          "zxingcpp", "dlib", "PIL", "cbor2"}


def test_every_terminal_and_protocol_module_imports_without_the_server_packages() -> None:
    done = _without_server_packages("--import-all")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "imported"


def test_the_terminal_commands_run_without_the_server_packages(tmp_path: Path) -> None:
    listing = _without_server_packages("--help")
    assert listing.returncode == 0, listing.stderr
    assert "  terminal " in listing.stdout
    assert "  face " in listing.stdout
    assert "  server " not in listing.stdout
    assert "  funding " not in listing.stdout
    terminal = _without_server_packages("terminal", "--help")
    assert terminal.returncode == 0, terminal.stderr
    assert "  selfcheck " in terminal.stdout
    assert "  token " not in terminal.stdout
    check = _without_server_packages("terminal", "status", "--home", str(tmp_path / "door"))
    assert "Traceback" not in check.stderr, check.stderr
    assert check.returncode == 2, check.stdout + check.stderr  # not enrolled: a clear refusal


@pytest.mark.parametrize(("argv", "command"), [
    (["server", "run", "--data", "x"], "server"), (["funding", "statement"], "funding"),
    (["terminal", "token", "--data", "x", "--kindergarten", "K"], "token"),
    (["demo", "run"], "demo")])
def test_a_server_command_without_the_server_packages_says_what_is_missing(
        argv: list[str], command: str) -> None:
    done = _without_server_packages(*argv)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert f"'{command}' is not available in this installation" in done.stderr, done.stderr
    assert done.stdout == ""


def test_a_server_command_says_it_in_the_readers_language() -> None:
    done = _with_blocked(["sqlalchemy"], "server", "run",
                         env={"QATYS_LANG": "ru", "PATH": "/usr/bin:/bin"})
    assert done.returncode == 2, done.stderr
    assert "sqlalchemy" in done.stderr
    assert "is not available" not in done.stderr  # Russian, not the English source


def test_a_missing_module_of_our_own_is_a_bug_not_a_missing_package() -> None:
    assert missing_package(ModuleNotFoundError("x", name="server.nonexistent")) is None
    assert missing_package(ModuleNotFoundError("x", name="terminal")) is None
    assert missing_package(ModuleNotFoundError("x", name="sqlalchemy.orm")) == "sqlalchemy"


def test_with_the_server_packages_every_command_is_there() -> None:
    listing = subprocess.run([*QATYS, "--help"], capture_output=True, text=True, timeout=120,
                             check=True)
    for name in ("terminal", "face", "server", "funding", "user", "demo", "queue-core"):
        assert f"  {name} " in listing.stdout, listing.stdout


def test_a_release_whose_face_models_do_not_load_fails_its_selfcheck_in_words(
        tmp_path: Path) -> None:
    """face_recognition prints a line and quits when its models do not import (as when a
    setuptools without pkg_resources is installed): the selfcheck, which an update's readiness
    check runs, must still answer its JSON and fail, so that the update is rolled back."""
    done = _with_blocked(["face_recognition_models"], "terminal", "selfcheck", "--home",
                         str(tmp_path / "door"))
    assert done.returncode == 1, done.stdout + done.stderr
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    assert answer["result"] == "failed", answer
    assert any("face check-in does not load" in p and "models do not load" in p
               for p in answer["problems"]), answer
