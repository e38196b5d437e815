"""The outage ledger end to end: a terminal records its power-on, restart and camera failure
as signed system events; the server keeps them (about no child), shows them beside the
statement, and flags a card scan made while the camera was reported down."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from sqlalchemy import select

from qatys.timeutil import local_date, now_us
from server.app import create_app
from server.config import load_config
from server.datadir import open_data_dir
from server.staff.accounts import add_user
from server.storage import db
from terminal.home import open_terminal
from terminal.outages import record_start, record_system
from tests.helpers import ServerProcess, enrol, run


def test_ledger_reaches_the_server_and_feeds_a_flag(
        sqlite_server: ServerProcess, tmp_path: Path, runtime_env: dict[str, str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in runtime_env.items():
        monkeypatch.setenv(key, value)
    data = str(sqlite_server.data_dir)
    home = tmp_path / "home"
    enrol(sqlite_server, home, runtime_env)
    run("card", "issue", "--data", data, "--child", "child-00003-x7q", "--out",
        str(tmp_path / "card.png"))
    run("terminal", "sync", "--home", str(home), "--quiet", env=runtime_env)

    terminal = open_terminal(home, log=False)
    try:
        assert record_start(terminal) == "power_on"
        assert record_start(terminal) == "kiosk_start"  # same boot: a restart
        record_system(terminal, "camera_failed")
    finally:
        terminal.close()
    scanned = json.loads(run("terminal", "scan", "--home", str(home), str(tmp_path / "card.png"),
                             env=runtime_env).stdout.splitlines()[-1])
    assert scanned["result"] == "accepted"
    terminal = open_terminal(home, log=False)
    try:
        record_system(terminal, "camera_ok")
    finally:
        terminal.close()
    run("terminal", "sync", "--home", str(home), "--quiet", env=runtime_env)

    engine = open_data_dir(sqlite_server.data_dir).engine
    with engine.connect() as conn:
        system = conn.execute(select(db.events.c.note, db.events.c.child_id)
                              .where(db.events.c.kind == "system")
                              .order_by(db.events.c.seq)).all()
        terminal_id = conn.execute(select(db.terminals.c.terminal_id)).scalars().first()
    assert [tuple(r) for r in system] == [("power_on", None), ("kiosk_start", None),
                                          ("camera_failed", None), ("camera_ok", None)]
    month = local_date(now_us()).strftime("%Y-%m")
    flags = [json.loads(line) for line in run(
        "funding", "anomalies", "--data", data, "--kindergarten", "KG1", "--month",
        month).stdout.splitlines()]
    flagged = [f for f in flags if f["rule"] == "scans_while_camera_down"]
    assert len(flagged) == 1
    assert flagged[0]["event_ids"] == [scanned["event_id"]]

    with engine.begin() as conn:
        add_user(conn, "fin", "finance-pass-1", "finance", None, 0)
    engine.dispose()
    client = create_app(config=load_config(sqlite_server.data_dir)).test_client()
    login = client.get("/finance/login").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', login)
    assert csrf is not None
    client.post("/finance/login", data={"csrf": csrf.group(1), "username": "fin",
                                        "password": "finance-pass-1"})
    page = client.get(f"/finance/k/KG1/{month}").text
    assert re.findall(r'<tr data-what="(\w+)">', page) == [
        "power_on", "kiosk_start", "camera_failed", "camera_ok"]
    assert str(terminal_id) in page
    assert 'data-rule="scans_while_camera_down"' in page
