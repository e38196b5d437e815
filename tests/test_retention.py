"""Nothing lost after a restore (issue 20), with real processes: a server with two terminals, a
copy of its database taken at time T, 500 more check-ins synced and acknowledged, the database
put back to the copy: after one sync of each terminal every confirmed check-in is on the server
exactly once and the month's statement has the same bytes as before the loss. Events older than
the terminals' retention window are reported lost, with their count and period, on the fleet
page and beside the statement. A rewind answered by another key (or altered on the way) changes
nothing. The same after
a PostgreSQL failover to a replica that missed the last transactions.

Until server/backup lands, the copy at T is the database file itself (SQLite), copied with the
server stopped, or a template copy of the database (PostgreSQL): both are marked below.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
import requests

from protocol import auth, crypto
from qatys.timeutil import local_date, now_us
from server.storage import db
from tests.helpers import (
    ServerProcess,
    cli,
    faked_clock,
    make_checkins,
    roster_csv,
    server_rows,
    staff_session,
    start_node,
    start_server,
    write_settings,
)
from tests.postgres import Cluster, sql, start_replica, wait_replayed
from tests.tampering_proxy import (
    Answer,
    Forward,
    Request,
    Rule,
    TamperingProxy,
    rewrite_json,
    signed_by_impostor,
)

PASSWORD = "finance-pass-1"
MONTH = local_date(now_us()).strftime("%Y-%m")
pytestmark = pytest.mark.usefixtures("commands_in_one_process")
LATER = "+40d"
"""The server's clock once the first events are older than the 35 days' window."""


@dataclass
class Site:
    server: ServerProcess
    homes: list[Path]
    env: dict[str, str]
    database: str | None
    """The PostgreSQL database's URL, or None on SQLite."""
    proxy: TamperingProxy
    """Between the terminals and the server (the same port across restarts)."""
    cluster: Cluster | None = None


def _site(base: Path, request: pytest.FixtureRequest, kind: str, terminals: int = 2) -> Site:
    url, cluster = None, None
    if kind == "postgres":
        cluster = request.getfixturevalue("pg_cluster")
        url = cluster.create_database(f"retain_{base.name.lower().replace('-', '_')}"[:50])
    server = start_server(base / "server", url)
    data = str(server.data_dir)
    text, _ = roster_csv(20)
    (server.data_dir / "roster.csv").write_text(text, encoding="utf-8")
    cli("kindergarten", "add", "--data", data, "--code", "KG1", "--name", "Балабақша 1")
    cli("roster", "import", "--data", data, "--kindergarten", "KG1",
        str(server.data_dir / "roster.csv"))
    env = {"QATYS_RUNTIME_DIR": str(base / "run")}
    homes = [base / f"door{i}" for i in range(terminals)]
    proxy = TamperingProxy(server.url)
    for home in homes:
        token = cli("terminal", "token", "--data", data, "--kindergarten",
                    "KG1").stdout.strip().splitlines()[-1]
        cli("terminal", "enroll", "--home", str(home), "--server", proxy.url, "--token", token,
            env=env)
    return Site(server, homes, env, url, proxy, cluster)


def _sync(site: Site, home: Path, check: bool = True) -> dict[str, object]:
    out = cli("terminal", "sync", "--home", str(home), "--quiet", env=site.env, check=check)
    found: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    found["exit"] = out.returncode
    return found


def _restart(site: Site, env: dict[str, str] | None = None) -> None:
    site.server.stop()
    site.server = start_node(site.server.data_dir, port=site.server.port, env=env)


def _execute(url: str, statement: str) -> None:
    """One statement that returns no rows (autocommit: CREATE DATABASE, ALTER SYSTEM)."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(statement)  # type: ignore[call-overload]


def _backup_file(site: Site) -> Path:
    return site.server.data_dir.parent / f"{site.server.data_dir.name}-backup.tar"


def _copy(site: Site) -> None:
    """`qatys server backup` of the running server: the backup taken at time T."""
    cli("server", "backup", "--data", str(site.server.data_dir), "--out",
        str(_backup_file(site)))


def _restore(site: Site) -> None:
    """The disk lost: the server stopped, its database deleted, `qatys server restore` of
    the backup taken at T."""
    site.server.stop()
    if site.database is None:
        for name in ("qatys.db", "qatys.db-wal", "qatys.db-shm"):
            (site.server.data_dir / name).unlink(missing_ok=True)
    else:
        assert site.cluster is not None
        name = site.database.rsplit("/", 1)[1]
        admin = site.cluster.url("postgres")
        _execute(admin, f'DROP DATABASE "{name}"')
        _execute(admin, f'CREATE DATABASE "{name}"')
    cli("server", "restore", "--data", str(site.server.data_dir), str(_backup_file(site)))


def _events(site: Site) -> list[tuple[str, bytes]]:
    return sorted((r.event_id, bytes(r.raw)) for r in server_rows(site.server, db.events))


def _statement(site: Site, out: Path) -> bytes:
    cli("funding", "statement", "--data", str(site.server.data_dir), "--kindergarten", "KG1",
        "--month", MONTH, "--format", "json", "--out", str(out))
    return out.read_bytes()


def _terminal_events(home: Path) -> int:
    with sqlite3.connect(f"file:{home / 'terminal.db'}?mode=ro", uri=True) as conn:
        return int(conn.execute("SELECT count(*) FROM events").fetchone()[0])


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_a_restore_from_an_older_copy_loses_no_acknowledged_checkin(
        kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    site = _site(tmp_path, request, kind)
    try:
        for number, home in enumerate(site.homes):
            make_checkins(home, 10, start=number * 7)
            assert _sync(site, home)["result"] == "ok"
        _copy(site)  # time T
        _restart(site)
        for number, home in enumerate(site.homes):
            make_checkins(home, 250, start=10 + number * 7)
            assert _sync(site, home)["acked_seq"] == 260
        _forged_rewinds_change_nothing(site)
        before, statement = _events(site), _statement(site, tmp_path / "before.json")
        assert len(before) == 521
        _restore(site)
        _restart(site)
        assert len(_events(site)) == 20  # what the copy at T held
        for home, resent in zip(site.homes, (251, 250), strict=True):
            done = _sync(site, home)
            assert done["result"] == "ok", done
            assert done["sent"] == resent
        after = _events(site)
        assert after == before  # every one, exactly once, the same bytes
        assert _statement(site, tmp_path / "after.json") == statement
        assert server_rows(site.server, db.lost_ranges) == []
        behind = {r.terminal_id: r.server_behind for r in server_rows(site.server,
                                                                    db.terminal_health)}
        assert sorted(behind.values()) == [1, 1]
        for home in site.homes:  # a second sync sends nothing again
            assert _sync(site, home)["sent"] == 0
        assert _events(site) == before
    finally:
        site.server.stop()
        site.proxy.close()


_REWIND = {"head_seq": 0, "head_hash": "00" * 32}


def _impostor_gap(seed: bytes) -> Rule:
    """A `409 sequence_gap` naming head 0, signed by another key; the batch never reaches the
    server."""
    def rule(request: Request, forward: Forward) -> Answer:
        body = json.dumps({"ok": False, "error": {
            "code": "sequence_gap", "message": "send from 1", "expected_seq": 1,
            **_REWIND}}).encode()
        signed = auth.answer_signing_input(
            request.method, request.path, request.query,
            request.headers.get(auth.HEADER_TERMINAL, ""),
            request.headers.get(auth.HEADER_NONCE, ""), 409, body)
        return Answer(409, {"Content-Type": "application/json",
                            auth.HEADER_ANSWER: auth.sign_answer(seed, signed),
                            auth.HEADER_SERVER_KEY: base64.b64encode(
                                crypto.signing_public_key(seed)).decode()}, body)
    return rule


def _forged_rewinds_change_nothing(site: Site) -> None:
    """Answers naming head 0 — signed by another key, or the server's altered — are not
    believed: nothing is sent again, nothing declared lost, the pending check-in stays."""
    home = site.homes[0]
    make_checkins(home, 1, start=260)
    before = _events(site)
    for forged in (signed_by_impostor(os.urandom(32), lambda body: {**body, **_REWIND}),
                   rewrite_json(lambda body: {**body, **_REWIND})):
        site.proxy.on("/api/v1/terminal/health", forged)
        site.proxy.on("/api/v1/batches", _impostor_gap(os.urandom(32)))
        done = _sync(site, home, check=False)
        assert done["exit"] == 5, done
        assert {"ack", "health"} <= set(done["refused"])  # type: ignore[arg-type]
        status = json.loads(cli("terminal", "status", "--home", str(home), "--json",
                                env=site.env).stdout)
        assert (status["acked_seq"], status["pending"], status["server_behind"]) == (260, 1, 0)
        assert _events(site) == before
    site.proxy.honest()
    assert _sync(site, home)["acked_seq"] == 261


def test_events_older_than_the_window_are_reported_lost_with_count_and_period(
        tmp_path: Path, request: pytest.FixtureRequest) -> None:
    site = _site(tmp_path, request, "sqlite", terminals=1)
    home = site.homes[0]
    try:
        _copy(site)  # time T: the terminal enrolled, nothing received yet
        _restart(site)
        make_checkins(home, 10)
        assert _sync(site, home)["acked_seq"] == 10
        _restart(site, faked_clock(LATER))  # 40 days on: those acknowledgements are older
        make_checkins(home, 30, start=10)
        assert _sync(site, home)["acked_seq"] == 40
        assert _terminal_events(home) == 30  # 1..10 pruned (zeroed, secure_delete)
        _restore(site)
        _restart(site, faked_clock(LATER))
        done = _sync(site, home)
        assert done["result"] == "ok", done
        assert done["sent"] == 30  # the retained ones, again
        lost = server_rows(site.server, db.lost_ranges)
        assert [(r.first_seq, r.last_seq, r.reason) for r in lost] == [
            (1, 10, "retention_expired")]
        today = local_date(now_us()).isoformat()
        assert local_date(lost[0].first_time_us).isoformat() == today
        assert local_date(lost[0].last_time_us).isoformat() == today
        make_checkins(home, 2, start=40)  # the chain goes on
        assert _sync(site, home)["acked_seq"] == 42
        assert sorted(r.seq for r in server_rows(site.server, db.events)) == list(range(11, 43))
        cli("user", "add", "--data", str(site.server.data_dir), "--username", "fin", "--role",
            "finance", "--password-stdin", input_text=PASSWORD + "\n")
        session = staff_session(site.server.url, "fin", PASSWORD)
        fleet = session.get(site.server.url + "/finance/fleet", timeout=30).text
        assert 'class="lost-range"' in fleet
        assert 'data-count="10"' in fleet
        assert f'data-first-day="{today}"' in fleet
        assert 'data-behind="1"' in fleet
        page = session.get(f"{site.server.url}/finance/k/KG1/{MONTH}", timeout=30).text
        assert 'id="lost-ranges"' in page
        assert 'data-count="10"' in page
        assert f'data-last-day="{today}"' in page
        assert _sync(site, home)["sent"] == 0  # declared once
        unsigned = requests.post(site.server.url + "/api/v1/terminal/chain-gap",
                                 json={"declaration": "", "signature": ""}, timeout=30)
        assert unsigned.status_code == 401  # only the terminal's signed request declares
        assert len(server_rows(site.server, db.lost_ranges)) == 1
    finally:
        site.server.stop()
        site.proxy.close()


@pytest.fixture
def promoted(pg_cluster: Cluster) -> Iterator[Cluster]:
    """A replica of the session's cluster of its own, to be cut off and promoted."""
    directory = Path(tempfile.mkdtemp(prefix="qatys-pg-failover-"))
    directory.chmod(0o755)
    replica = start_replica(pg_cluster, directory)
    yield replica
    replica.stop()
    shutil.rmtree(directory, ignore_errors=True)


def test_a_failover_to_a_replica_that_missed_the_last_batches_loses_nothing(
        tmp_path: Path, request: pytest.FixtureRequest, promoted: Cluster) -> None:
    site = _site(tmp_path, request, "postgres")
    assert site.database is not None
    name = site.database.rsplit("/", 1)[1]
    replica_url = promoted.url(name)
    try:
        for number, home in enumerate(site.homes):
            make_checkins(home, 10, start=number * 7)
            _sync(site, home)
        wait_replayed(site.database, replica_url)
        # the link to the primary drops: the replica receives nothing more
        _execute(promoted.url("postgres"), "ALTER SYSTEM SET primary_conninfo = ''")
        sql(promoted.url("postgres"), "SELECT pg_reload_conf()")
        deadline = time.monotonic() + 30
        while sql(promoted.url("postgres"), "SELECT count(*) FROM pg_stat_wal_receiver"):
            assert time.monotonic() < deadline, "the replica still receives"
            time.sleep(0.1)
        for number, home in enumerate(site.homes):
            make_checkins(home, 250, start=10 + number * 7)
            assert _sync(site, home)["acked_seq"] == 260
        before, statement = _events(site), _statement(site, tmp_path / "before.json")
        site.server.stop()
        assert sql(replica_url, "SELECT count(*) FROM events") == 20  # it missed them
        assert sql(promoted.url("postgres"), "SELECT pg_promote()") is True
        write_settings(site.server.data_dir, {"database_url": replica_url})
        site.server = start_node(site.server.data_dir, port=site.server.port)
        for home in site.homes:
            assert _sync(site, home)["sent"] == 250
        assert _events(site) == before
        assert _statement(site, tmp_path / "after.json") == statement
    finally:
        site.server.stop()
        site.proxy.close()
