"""The consent ledger: paper forms and phone signatures, append-only, the current state on
the server and on a terminal after its sync; expiry; every refusal changes nothing."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.browser import Page
from tests.helpers import (
    QATYS,
    ServerProcess,
    claim_in_browser,
    cli,
    enrol,
    faked_clock,
    invite_url,
    need_faketime,
    open_page,
)

CHILD = "child-00007-x7q"

pytestmark = pytest.mark.usefixtures("commands_in_one_process")


def _states(server: ServerProcess) -> dict[str, dict[str, object]]:
    listed = json.loads(cli("consent", "list", "--data", str(server.data_dir),
                            "--kindergarten", "KG1", "--format", "json").stdout)
    return {s["child_id"]: s for s in listed}


def _terminal_states(home: Path, env: dict[str, str], faked: str | None = None
                     ) -> dict[str, dict[str, object]]:
    command = [*QATYS, "terminal", "consent", "--home", str(home)]
    out = subprocess.run(command, capture_output=True, text=True, timeout=60, check=True,
                         env={**os.environ, **env, "TZ": "UTC",
                              **(faked_clock(faked) if faked else {})})
    return {s["child_id"]: s for s in map(json.loads, out.stdout.splitlines())}


@pytest.fixture(scope="module")
def door(server: ServerProcess, tmp_path_factory: pytest.TempPathFactory
         ) -> tuple[Path, dict[str, str]]:
    base = tmp_path_factory.mktemp("consent-door")
    env = {"QATYS_RUNTIME_DIR": str(base / "run")}
    enrol(server, base / "home", env)
    return base / "home", env


def test_paper_consent_reaches_the_terminal_and_its_withdrawal_too(
        server: ServerProcess, door: tuple[Path, dict[str, str]]) -> None:
    home, env = door
    data = str(server.data_dir)
    assert _states(server)[CHILD]["status"] == "none"
    record = cli("consent", "grant", "--data", data, "--child", CHILD, "--paper",
                 "scan-2026-041").stdout.strip()
    state = _states(server)[CHILD]
    assert (state["status"], state["source"], state["record"]) == ("granted", "paper",
                                                                   int(record))
    cli("terminal", "sync", "--home", str(home), "--quiet", env=env)
    assert _terminal_states(home, env)[CHILD]["status"] == "granted"
    assert _terminal_states(home, env)["child-00008-x7q"]["status"] == "none"

    cli("consent", "withdraw", "--data", data, "--child", CHILD)
    assert _states(server)[CHILD]["status"] == "withdrawn"
    cli("terminal", "sync", "--home", str(home), "--quiet", env=env)
    assert _terminal_states(home, env)[CHILD]["status"] == "withdrawn"
    trail = [json.loads(x) for x in cli("consent", "ledger", "--data", data, "--child",
                                        CHILD).stdout.splitlines()]
    assert [(r["action"], r["source"]) for r in trail] == [("grant", "paper"),
                                                           ("withdraw", "director")]


def test_consent_expires_on_the_server_and_on_an_offline_terminal(
        server: ServerProcess, door: tuple[Path, dict[str, str]]) -> None:
    need_faketime()
    home, env = door
    data = str(server.data_dir)
    until = (datetime.now(UTC) + timedelta(days=2)).date().isoformat()
    cli("consent", "grant", "--data", data, "--child", "child-00009-x7q", "--paper", "scan-9",
        "--until", until)
    cli("terminal", "sync", "--home", str(home), "--quiet", env=env)
    assert _terminal_states(home, env)["child-00009-x7q"]["status"] == "granted"
    later = (datetime.now(UTC) + timedelta(days=4)).strftime("%Y-%m-%d %H:%M:%S")
    assert _terminal_states(home, env, later)["child-00009-x7q"]["status"] == "expired"
    out = subprocess.run([*QATYS, "consent", "list", "--data", data,
                          "--kindergarten", "KG1"], capture_output=True, text=True,
                         timeout=60, check=True, env={**os.environ, **faked_clock(later)})
    assert {s["child_id"]: s["status"] for s in json.loads(out.stdout)}[
        "child-00009-x7q"] == "expired"


@pytest.mark.parametrize(("args", "message"), [
    (["grant", "--child", CHILD], "--paper"),
    (["grant", "--child", CHILD, "--paper", "x", "--until", "2099-01-01"], "one year"),
    (["grant", "--child", "nobody-x", "--paper", "x"], "not on any roster"),
    (["withdraw", "--child", "child-00010-x7q"], "no consent in force"),
])
def test_refusals_change_nothing(server: ServerProcess, args: list[str], message: str) -> None:
    before = _states(server)
    result = cli("consent", args[0], "--data", str(server.data_dir), *args[1:], check=False)
    assert result.returncode == 2
    assert message in result.stderr
    assert _states(server) == before


def test_a_guardian_grants_and_withdraws_on_the_phone(server: ServerProcess,
                                                     tmp_path: Path) -> None:
    phone = Page(tmp_path / "phone")
    try:
        claim_in_browser(phone, invite_url(server, "child-00011-x7q"))
        status = "document.querySelector('.consent-status').dataset.status"
        assert phone.evaluate(status) == "none"
        phone.evaluate("document.querySelector('.consent-action').click(); true")
        phone.wait_for(f"{status} === 'granted'")
        state = _states(server)["child-00011-x7q"]
        assert (state["status"], state["source"]) == ("granted", "phone")
        phone.evaluate("document.querySelector('.consent-action').click(); true")
        phone.wait_for(f"{status} === 'withdrawn'")
        open_page(phone, server.url + "/parents/")
        phone.wait_for(f"{status} === 'withdrawn'")
    finally:
        phone.close()
    trail = [json.loads(x) for x in cli("consent", "ledger", "--data", str(server.data_dir),
                                        "--child", "child-00011-x7q").stdout.splitlines()]
    assert [(r["action"], r["source"]) for r in trail] == [("grant", "phone"),
                                                           ("withdraw", "phone")]
    assert all(r["guardian_id"] for r in trail)
