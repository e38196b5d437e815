"""Services know no HTTP, and every refusal code has its one status and is documented.

Read from the source (ast): a service module imports neither Flask nor werkzeug and passes no
HTTP status anywhere; only the web layer does — ``server/web/``, the app factory and the
modules that are blueprints, pages or request checks (:data:`WEB_LAYER`). The codes services
and the web layer refuse with are in the one table, ``server.web.errors.STATUS``, with the
status docs/api.md gives them; and the commands map the families through one decorator."""

from __future__ import annotations

import ast
import inspect
import re
from collections import defaultdict
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

import server.errors
from provisioning import errors as provisioning_errors
from qatys.cliutil import EXIT_BAD_INPUT, EXIT_REFUSED, exit_codes
from server.web.errors import HTTP_CODES, NOT_ANSWERED, PAGE_STATUS, STATUS, status_of

ROOT = Path(__file__).resolve().parent.parent
SERVICE_ROOTS = ("server", "provisioning")
WEB_LAYER = (
    "server/app.py", "server/serve.py", "server/context.py", "server/web/*.py",
    "server/*/pages.py", "server/*/*_pages.py", "server/office/blueprint.py",
    "server/finance/system.py", "server/staff/sessions.py",
    "server/sync/answers.py", "server/sync/auth.py", "server/sync/batches_api.py",
    "server/sync/face_api.py", "server/sync/terminal_api.py",
    "server/office/blueprint.py", "server/office/*_pages.py",
)
"""Modules that speak HTTP: the app and its handlers, blueprints (pages, ``*_pages``, ``*_api``,
the office's shared ``blueprint``), the
checks of a signed request (``auth``) and of a signed answer (``answers``), the page
sessions. Everything else under server/ and provisioning/ is a service or a command."""
ALLOWED_IMPORTS = {"werkzeug.security"}
"""Password hashing (server/staff/accounts.py): werkzeug's, but no HTTP."""


def _is_web(path: Path) -> bool:
    relative = path.relative_to(ROOT)
    return any(relative.match(pattern) for pattern in WEB_LAYER)


def _sources() -> list[Path]:
    return sorted(p for root in SERVICE_ROOTS for p in (ROOT / root).rglob("*.py")
                  if "revisions" not in p.parts and "alembic" not in p.parts)


def _service_modules() -> list[Path]:
    return [p for p in _sources() if not _is_web(p)]


def _http_problems(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8")
    problems = []
    for node in ast.walk(ast.parse(text)):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [node.module]
        for name in names:
            if name.split(".")[0] in ("flask", "werkzeug", "http") and name not in \
                    ALLOWED_IMPORTS:
                problems.append(f"{path.name}:{node.lineno} imports {name}")
        if isinstance(node, ast.Name) and node.id in ("ApiError", "HTTPStatus"):
            problems.append(f"{path.name}:{node.lineno} uses {node.id}")
        if isinstance(node, ast.Call):
            for arg in [*node.args, *(k.value for k in node.keywords)]:
                if isinstance(arg, ast.Constant) and type(arg.value) is int \
                        and 400 <= arg.value <= 599 \
                        and not (ast.get_source_segment(text, arg) or "").startswith("0o"):
                    problems.append(f"{path.name}:{node.lineno} passes status {arg.value}: "
                                    f"{ast.unparse(node)[:60]}")
    return problems


def test_the_split_names_real_modules() -> None:
    web = [p for p in _sources() if _is_web(p)]
    assert len(web) >= 12
    assert len(_service_modules()) >= 40
    for pattern in WEB_LAYER:
        assert list(ROOT.glob(pattern)), pattern


def test_no_service_module_speaks_http() -> None:
    problems = [problem for path in _service_modules() for problem in _http_problems(path)]
    assert problems == []


def test_the_check_sees_http_in_a_service(tmp_path: Path) -> None:
    module = tmp_path / "service.py"
    module.write_text("from flask import abort\nimport os\n\ndef refuse():\n"
                      "    os.chmod('x', 0o700)\n    raise ApiError(404, 'x', 'y')\n",
                      encoding="utf-8")
    problems = _http_problems(module)
    assert len(problems) == 3, problems  # the import, the name, the status; not the mode


def _page_errors(path: Path) -> list[tuple[int, ast.expr | None]]:
    """Each ``PageError(...)`` made in a module: its line and first argument (the key)."""
    return [(node.lineno, node.args[0] if node.args else None)
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
            if isinstance(node, ast.Call) and ast.unparse(node.func).endswith("PageError")]


def _page_status_problems(path: Path) -> list[str]:
    """A finance page's refusal carries a code, never a status: the status is looked up in
    ``server.web.errors.PAGE_STATUS``, beside ``STATUS`` (web layer or not)."""
    problems = []
    for lineno, first in _page_errors(path):
        if first is None or (isinstance(first, ast.Constant) and type(first.value) is int):
            problems.append(f"{path.name}:{lineno} makes a PageError with a status")
        elif isinstance(first, ast.Constant) and first.value not in PAGE_STATUS:
            problems.append(f"{path.name}:{lineno} PageError {first.value!r} has no status")
    return problems


def test_a_page_refusal_names_a_code_that_has_a_status() -> None:
    made = [key for path in _sources() for _, key in _page_errors(path)]
    assert len(made) >= 10
    assert [problem for path in _sources() for problem in _page_status_problems(path)] == []


def test_the_check_sees_a_status_in_a_page_refusal(tmp_path: Path) -> None:
    module = tmp_path / "pages.py"
    module.write_text("def refuse():\n    raise PageError(403, 'forbidden')\n\n"
                      "def other():\n    raise sessions.PageError('no_such_code')\n\n"
                      "def fine():\n    raise PageError('forbidden', 'detail')\n",
                      encoding="utf-8")
    assert len(_page_status_problems(module)) == 2, _page_status_problems(module)


def test_the_page_table_agrees_with_the_answers_table() -> None:
    """The approval codes the finance pages show (ApprovalError's, passed on as a page's key)
    have a page status; a code in both tables has one status."""
    approval_codes = set()
    for path in _sources():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and ast.unparse(node.func) == "ApprovalError" \
                    and isinstance(node.args[-1], ast.Constant):
                approval_codes.add(node.args[-1].value)
    assert approval_codes == {"not_over", "unchanged", "note_required"}
    assert approval_codes <= set(PAGE_STATUS) & NOT_ANSWERED
    assert {code: (status, STATUS[code]) for code, status in PAGE_STATUS.items()
            if code in STATUS and STATUS[code] != status} == {}


def _families() -> dict[str, type[server.errors.ServiceError]]:
    """Every family under the root, by name."""
    found: dict[str, type[server.errors.ServiceError]] = {}
    todo: list[type[server.errors.ServiceError]] = [server.errors.ServiceError]
    while todo:
        kind = todo.pop()
        found[kind.__name__] = kind
        todo.extend(kind.__subclasses__())
    return found


def _takes_code_first(kind: type[BaseException]) -> bool:
    return next(iter(inspect.signature(kind).parameters)) == "code"


def raised_codes() -> dict[str, set[str]]:
    """Each literal code given to a family (by a family's own constructor, or by a function
    making one, such as the ingestor's ``_refuse``) in server/ and provisioning/, with where."""
    importable = {name for name, kind in _families().items() if _takes_code_first(kind)}
    found: dict[str, set[str]] = defaultdict(set)
    for path in _sources():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        makers = set(importable)
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef) and node.args.args \
                    and node.args.args[0].arg == "code" and isinstance(node.returns, ast.Name) \
                    and node.returns.id in _families():
                makers.add(node.name)
        families = [n for n in ast.walk(tree)
                    if isinstance(n, ast.ClassDef) and n.name in _families()]
        calls = [(n, n.func.id in makers) for n in ast.walk(tree) if isinstance(n, ast.Call)
                 and isinstance(n.func, ast.Name)]
        calls += [(n, True) for family in families for n in ast.walk(family)
                  if isinstance(n, ast.Call) and ast.unparse(n.func) == "super().__init__"]
        for node, makes in calls:
            if makes and node.args and isinstance(node.args[0], ast.Constant) \
                    and isinstance(node.args[0].value, str):
                found[node.args[0].value].add(f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def test_the_scan_finds_the_refusals() -> None:
    found = raised_codes()
    assert {"sequence_gap", "equivocation", "unknown_child", "replayed_consent",
            "challenge_invalid", "token_used", "malformed", "rate_limited"} <= set(found)
    assert len(found) >= 40


def test_every_code_raised_has_a_status() -> None:
    """... or is one of the codes no answer carries (commands and pages only)."""
    found = raised_codes()
    assert {code: sorted(where) for code, where in found.items()
            if code not in STATUS and code not in NOT_ANSWERED} == {}
    assert set(STATUS) & NOT_ANSWERED == set()


def test_codes_passed_on_from_the_protocol_have_a_status() -> None:
    """Codes the services hand on from protocol errors (``exc.code``) and from enrolment
    tokens (TokenRefused)."""
    passed_on = {"unsupported_version", "broken_chain", "terminal_mismatch", "bad_sequence",
                 "bad_key", "bad_signature", "token_invalid", "bad_proof", "token_unknown",
                 "token_used", "token_expired", "key_reused"}
    assert passed_on - set(STATUS) == set()


def _documented() -> dict[str, set[int]]:
    """Each code in docs/api.md's error tables with the statuses its rows give it."""
    documented: dict[str, set[int]] = defaultdict(set)
    text = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    section = text[text.index("## Error codes"):]
    for line in section.splitlines():
        cells = [c.strip() for c in line.split("|")]
        if len(cells) < 4 or not re.match(r"^\d{3}", cells[1]):
            continue
        statuses = {int(s) for s in re.findall(r"\d{3}", cells[1])}
        for number, code in re.findall(r"(\d{3})?\s*`([a-z_]+)`", cells[2]):
            if number:
                statuses = {int(number)}
            documented[code] |= statuses
    return documented


def _table() -> list[tuple[str, int, str]]:
    rows = []
    for code, entry in STATUS.items():
        if isinstance(entry, dict):
            rows += [(code, status, kind.__name__) for kind, status in entry.items()]
        else:
            rows.append((code, entry, "any"))
    rows += [(code, status, "Flask") for status, code in HTTP_CODES.items()]
    return rows


def test_every_code_in_the_table_is_documented_with_its_status() -> None:
    documented = _documented()
    assert [(code, status, who) for code, status, who in _table()
            if status not in documented.get(code, set())] == []
    assert "internal_error" in documented


def test_every_documented_code_is_in_the_table() -> None:
    answered = {code for code, _, _ in _table()} | {"internal_error"}
    assert set(_documented()) - answered == set()


@pytest.mark.parametrize(("exc", "status"), [
    (server.errors.SyncError("bad_signature", "x"), 403),
    (server.errors.FamiliesError("bad_signature", "x"), 400),
    (server.errors.SignInError("bad_signature", "x"), 401),
    (server.errors.FamiliesError("unknown_child", "x"), 404),
    (server.errors.RequestError("rate_limited", "x"), 429),
    (provisioning_errors.TokenRefused("token_used", "x"), 403),
    (server.errors.SetupError("x"), None),
])
def test_the_status_of_a_refusal(exc: server.errors.ServiceError, status: int | None) -> None:
    assert status_of(exc) == status


def test_every_family_is_under_the_root() -> None:
    for kind in (provisioning_errors.ProvisioningError, server.errors.QueueCoreError,
                 server.errors.ApprovalError, server.errors.MoneyInputError):
        assert issubclass(kind, server.errors.ServiceError)


def test_one_decorator_maps_families_and_codes_to_exit_codes() -> None:
    @click.command()
    @click.option("--code", default="")
    @exit_codes({server.errors.FamiliesError: EXIT_BAD_INPUT,
                 (server.errors.FamiliesError, "not_bound"): EXIT_REFUSED})
    def command(code: str) -> None:
        if code == "other":
            raise ValueError("not mapped")
        if code:
            raise server.errors.SignInError(code, f"refused: {code}")
        click.echo("fine")

    runner = CliRunner()
    assert runner.invoke(command, []).output == "fine\n"
    refused = runner.invoke(command, ["--code", "unknown_phone"])
    assert (refused.exit_code, refused.output) == (2, "error: refused: unknown_phone\n")
    assert runner.invoke(command, ["--code", "not_bound"]).exit_code == EXIT_REFUSED
    assert isinstance(runner.invoke(command, ["--code", "other"]).exception, ValueError)


def test_the_commands_open_the_data_directory_one_way() -> None:
    """``open_data_dir`` is called by ``with_data_dir`` only (and by ``server init`` for the
    key it just made); no command keeps its own ``errors_as_exit`` block."""
    callers = []
    for path in [*_sources(), *(ROOT / "qatys").rglob("*.py"), *(ROOT / "terminal").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                    and node.func.id in ("open_data_dir", "errors_as_exit"):
                callers.append(f"{path.relative_to(ROOT)}:{node.func.id}")
    assert sorted(callers) == ["server/cli.py:open_data_dir", "server/datadir.py:open_data_dir"]
