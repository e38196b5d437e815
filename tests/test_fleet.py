"""Fleet health: terminals report at each sync; the page shows each one and raises an alert
when one goes silent (threshold made 3 s here), in real headless Chromium; malformed or
unsigned reports are refused and change nothing."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from server.datadir import open_data_dir
from server.storage import db
from terminal.client import ServerClient
from terminal.errors import ServerRefused
from terminal.home import open_terminal
from tests.browser import Page, artefact
from tests.conftest import _seed
from tests.helpers import ServerProcess, browser_login, enrol, open_page, run, start_server

SILENT_SECONDS = 5
"""This server's limit of silence: longer than a sync and a page's load take on a busy CI
machine, short enough to wait for."""


@pytest.fixture(scope="module")
def fleet_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    data = tmp_path_factory.mktemp("fleet")
    run("server", "init", "--data", str(data))
    with open(data / "server.toml", "a", encoding="utf-8") as config:
        config.write(f"fleet_silent_seconds = {SILENT_SECONDS}\n")
    server = start_server(data)
    _seed(data)
    run("user", "add", "--data", str(data), "--username", "adm", "--role", "admin",
        "--password-stdin", input_text="admin-pass-12\n")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def door(fleet_server: ServerProcess, tmp_path_factory: pytest.TempPathFactory
         ) -> tuple[Path, dict[str, str], str]:
    base = tmp_path_factory.mktemp("fleet-door")
    env = {"QATYS_RUNTIME_DIR": str(base / "run")}
    terminal_id = enrol(fleet_server, base / "home", env)
    return base / "home", env, terminal_id


def _row(page: Page, terminal_id: str, field: str) -> str:
    return str(page.evaluate(f"document.querySelector('tr[data-terminal=\"{terminal_id}\"]')"
                             f".{field}"))


def test_fleet_page_shows_a_terminal_going_silent_and_back(
        fleet_server: ServerProcess, door: tuple[Path, dict[str, str], str],
        tmp_path: Path) -> None:
    home, env, terminal_id = door
    run("terminal", "checkin", "--home", str(home), "--child", "child-00001-x7q", "--manual",
        "--reason", "test", env=env)
    page = Page(tmp_path / "profile")
    try:
        browser_login(page, fleet_server.url, "adm", "admin-pass-12")
        run("terminal", "sync", "--home", str(home), "--quiet", env=env)  # in contact now
        synced = time.monotonic()
        open_page(page, fleet_server.url + "/finance/fleet")
        assert _row(page, terminal_id, "dataset.silent") == "no"
        assert _row(page, terminal_id, "querySelector('.pending').textContent") == "0"
        assert _row(page, terminal_id, "querySelector('.camera').dataset.camera") == "none"
        assert _row(page, terminal_id, "querySelector('.camera').textContent") == "камера жоқ"
        assert abs(float(_row(page, terminal_id, "querySelector('.skew').textContent"))) < 5
        assert page.evaluate("document.getElementById('all-reporting') !== null")
        time.sleep(max(0.0, synced + SILENT_SECONDS + 1 - time.monotonic()))  # past the limit
        open_page(page, fleet_server.url + "/finance/fleet?lang=ru")
        assert _row(page, terminal_id, "dataset.silent") == "yes"
        alert = page.evaluate("document.getElementById('alerts').textContent")
        assert terminal_id in alert
        assert "Давно не выходил на связь" in alert
        page.screenshot(artefact("fleet-silent-ru.png"), full_page=True)
        run("terminal", "sync", "--home", str(home), "--quiet", env=env)
        open_page(page, fleet_server.url + "/finance/fleet")
        assert _row(page, terminal_id, "dataset.silent") == "no"
    finally:
        page.close()


def _health_row(server: ServerProcess) -> list[object]:
    engine = open_data_dir(server.data_dir).engine
    with engine.connect() as conn:
        rows = [tuple(r) for r in conn.execute(db.terminal_health.select())]
    engine.dispose()
    return rows  # type: ignore[return-value]


def test_bad_health_reports_are_refused(fleet_server: ServerProcess,
                                        door: tuple[Path, dict[str, str], str]) -> None:
    home = door[0]
    before = _health_row(fleet_server)
    unsigned = requests.post(fleet_server.url + "/api/v1/terminal/health",
                             json={"pending": 0}, timeout=5)
    assert unsigned.status_code == 401
    good = {"pending": 0, "head_seq": 1, "terminal_time_us": 1, "software_version": "x",
            "camera": "ok", "storage_free_bytes": 1}
    terminal = open_terminal(home, log=False)
    client = ServerClient(fleet_server.url, 10, server_key=terminal.keys.server_sign_public)
    try:
        for bad in ({**good, "pending": -1}, {**good, "camera": "melted"},
                    {**good, "extra": 1}, {**good, "pending": "0"}, {"pending": 0}):
            with pytest.raises(ServerRefused) as refused:
                client.signed_post("/api/v1/terminal/health", terminal.terminal_id,
                                   terminal.keys.sign_seed, bad)
            assert refused.value.code == "malformed", json.dumps(bad)
    finally:
        terminal.close()
    assert _health_row(fleet_server) == before
