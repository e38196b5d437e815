"""Every command has help text and an entry in docs/cli.md; every API error code is documented."""

from __future__ import annotations

from pathlib import Path

import click

from qatys.cli import cli
from server.web.openapi import ERROR_CODES

DOCS = Path(__file__).resolve().parent.parent / "docs"


def _commands(group: click.Group, prefix: str) -> list[tuple[str, click.Command]]:
    """Every command under ``group``, the lazily imported ones included (qatys/lazygroup.py)."""
    found = []
    context = click.Context(group)
    for name in group.list_commands(context):
        command = group.get_command(context, name)
        assert command is not None, name
        path = f"{prefix} {name}"
        if isinstance(command, click.Group):
            found += _commands(command, path)
        else:
            found.append((path, command))
    return found


def test_every_command_has_help_and_a_doc_entry() -> None:
    text = (DOCS / "cli.md").read_text()
    commands = _commands(cli, "qatys")
    assert len(commands) >= 12
    for path, command in commands:
        assert command.help, f"{path} has no help"
        assert f"`{path} " in text or f"`{path}`" in text, f"{path} missing from docs/cli.md"


def test_every_code_the_server_answers_is_in_the_openapi_document() -> None:
    """The document's Error schema lists its codes as an enum: a code answered but missing
    there is a schema violation to every client that validates (and to the fuzzer)."""
    from server.web.errors import HTTP_CODES, STATUS
    from server.web.gunicorn_workers import INTERNAL

    answered = {*STATUS, *HTTP_CODES.values(), "http_error", INTERNAL[0]}
    assert answered - set(ERROR_CODES) == set()


def test_every_error_code_is_in_the_api_doc() -> None:
    text = (DOCS / "api.md").read_text()
    for code in ERROR_CODES:
        assert f"`{code}`" in text, f"{code} missing from docs/api.md"


def test_every_test_the_threat_model_names_exists() -> None:
    """docs/security.md says which test tries each attack: each one it names must be there."""
    import re

    text = (DOCS / "security.md").read_text()
    root = DOCS.parent
    named, current = 0, None  # "::name" is a test of the file named last above
    for row in text.splitlines():
        for path, test in re.findall(r"`(?:(tests/[\w/]+\.py|test_\w+\.py))?(?:::(\w+))?`", row):
            if path:
                current = root / path if path.startswith("tests/") else root / "tests" / path
                assert current.exists(), path
            if test:
                assert current is not None, row
                assert re.search(rf"^def {test}\(", current.read_text(), re.M), \
                    f"{test} not in {current.name}"
                named += 1
    assert named >= 30


def test_every_source_path_the_docs_name_exists() -> None:
    """Paths such as server/money/statements.py in the docs and READMEs are real files."""
    import re

    root = DOCS.parent
    texts = [*DOCS.glob("*.md"), root / "README.md", root / "hardware" / "README.md",
             root / "protocol" / "README.md"]
    pattern = re.compile(r"(?<![/\w])((?:server|terminal|protocol|provisioning|qatys|tools|"
                         r"tests|bench|hardware|scripts)/[\w/.-]*\w\.(?:py|sh|html|js|css|toml))"
                         r"\b")
    missing = {(doc.name, path) for doc in texts
               for path in pattern.findall(doc.read_text(encoding="utf-8"))
               if not (root / path).exists()}
    assert missing == set()


def test_every_api_route_is_in_the_openapi_document_and_back(tmp_path: Path) -> None:
    """The routes the app serves under /api/ and /parents/api/ are exactly those the
    document names, method by method."""
    from server.app import create_app
    from server.web.openapi import document
    from tests.helpers import run

    run("server", "init", "--data", str(tmp_path / "server"))
    app = create_app(tmp_path / "server")
    served = {(rule.rule, method) for rule in app.url_map.iter_rules()
              if rule.rule.startswith(("/api/", "/parents/api/"))
              for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}}
    documented = {(path, method.upper()) for path, operations in document()["paths"].items()
                  for method in operations}
    assert served == documented
