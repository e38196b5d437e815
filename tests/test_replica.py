"""Reports from a streaming replica (server/storage/replica.py): a real PostgreSQL primary, a
real hot standby made with ``pg_basebackup -R``, a real server whose ``database_read_url``
names the standby.

The replica logs every statement with its client's application name (tests/postgres.py), so
the tests read there that a report was served by the replica, and that nothing the server
wrote ever went there (a standby refuses every write: it would be a 500 and an ERROR line).
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
import requests
from sqlalchemy import Engine

from qatys.timeutil import local_date, now_us
from server.money.jobs import figures_for, start_month_job
from server.money.statements import shipped_policy, statement_for
from server.storage.db import make_engine
from server.storage.replica import Reads, ReadSource
from tests.helpers import (
    CHILDREN,
    ServerProcess,
    add_user,
    checkin,
    enrol,
    roster_csv,
    run,
    staff_session,
    start_server,
)
from tests.postgres import Cluster, sql, start_cluster, start_replica, wait_replayed

PASSWORD = "finance-pass-1"
APP = "qatys-reports"
"""The application name the server's read URL gives its replica connections."""
MONTH = local_date(now_us()).strftime("%Y-%m")
"""This month: the check-ins are made now (no faked clock needed)."""


def _seed(server: ServerProcess, home: Path, env: dict[str, str]) -> None:
    data = str(server.data_dir)
    text, _ = roster_csv(20)
    (server.data_dir / "roster.csv").write_text(text, encoding="utf-8")
    run("kindergarten", "add", "--data", data, "--code", "KG1", "--name", "Балабақша 1")
    run("roster", "import", "--data", data, "--kindergarten", "KG1",
        str(server.data_dir / "roster.csv"))
    add_user(server, "fin", "finance", PASSWORD)
    enrol(server, home, env)


@pytest.fixture(scope="module")
def replicated(pg_cluster: Cluster, pg_replica: Cluster,
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    base = tmp_path_factory.mktemp("replica")
    name = "replica_reports"
    primary_url = pg_cluster.create_database(name)
    replica_url = pg_replica.url(name)
    server = start_server(base / "server", primary_url, settings={
        "database_read_url": f"{replica_url}?application_name={APP}", "replica_wait_ms": 3000,
        "run_worker": False})  # the tests run the month job's worker themselves
    env = {"QATYS_RUNTIME_DIR": str(base / "run")}
    home = base / "door"
    _seed(server, home, env)
    assert checkin(home, env, CHILDREN[1])["result"] == "accepted"
    run("terminal", "sync", "--home", str(home), env=env)
    wait_replayed(primary_url, replica_url)
    yield {"server": server, "primary": primary_url, "replica": replica_url, "home": home,
           "env": env, "session": staff_session(server.url, "fin", PASSWORD)}
    sql(replica_url, "SELECT pg_wal_replay_resume()")
    server.stop()


def _statement_json(url: str) -> bytes:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            year, number = (int(part) for part in MONTH.split("-"))
            return statement_for(conn, "KG1", year, number, shipped_policy()).to_json()
    finally:
        engine.dispose()


def _read_from(html: str) -> str:
    found = re.search(r'id="read-from"[^>]*data-source="([a-z]+)"', html)
    assert found is not None, html[:2000]
    return found.group(1)


def _replica_log(replica: Cluster) -> str:
    return replica.log_file.read_text(encoding="utf-8", errors="replace")


def _served_by_replica(replica: Cluster, since: int) -> str:
    """The replica's log after offset ``since`` from the server's report connections: their
    statements and the lines of each statement (a statement goes on over lines without the
    prefix); the tests' own probes (no application name) left out."""
    kept, mine = [], False
    for line in _replica_log(replica)[since:].splitlines():
        if re.match(r"^[^|\s]*\|[^|\s]*\|", line):
            mine = line.startswith(f"{APP}|replica_reports|")
        if mine:
            kept.append(line)
    return "\n".join(kept)


def test_reports_read_the_replica_when_it_has_caught_up(replicated: dict[str, object],
                                                        pg_replica: Cluster) -> None:
    server, session = replicated["server"], replicated["session"]
    assert isinstance(server, ServerProcess)
    assert isinstance(session, requests.Session)
    before = len(_replica_log(pg_replica))
    page = session.get(f"{server.url}/finance/k/KG1/{MONTH}", timeout=30)
    assert page.status_code == 200
    assert _read_from(page.text) == ReadSource.REPLICA
    exported = session.get(f"{server.url}/finance/k/KG1/{MONTH}/export/statement.json",
                           timeout=30)
    assert exported.headers["X-Qatys-Read-From"] == ReadSource.REPLICA
    assert exported.content == _statement_json(str(replicated["primary"]))
    tabel = session.get(f"{server.url}/finance/k/KG1/{MONTH}/tabel", timeout=30)
    assert _read_from(tabel.text) == ReadSource.REPLICA
    # the replica itself served the report's queries (the events, the roster), in one snapshot
    time.sleep(0.2)  # the log is written by the replica's own process
    served = _served_by_replica(pg_replica, before)
    assert "FROM events" in served
    assert "FROM children" in served


def test_a_paused_replica_is_never_read_for_a_month_it_has_not_replayed(
        replicated: dict[str, object], pg_replica: Cluster) -> None:
    server, session = replicated["server"], replicated["session"]
    assert isinstance(server, ServerProcess)
    assert isinstance(session, requests.Session)
    primary, replica = str(replicated["primary"]), str(replicated["replica"])
    home, env = replicated["home"], replicated["env"]
    assert isinstance(home, Path)
    assert isinstance(env, dict)
    sql(replica, "SELECT pg_wal_replay_pause()")
    try:
        stale = _statement_json(replica)
        assert checkin(home, env, CHILDREN[2])["result"] == "accepted"
        run("terminal", "sync", "--home", str(home), env=env)
        fresh = _statement_json(primary)
        assert fresh != stale == _statement_json(replica)  # the replica holds the old month
        started = time.monotonic()
        page = session.get(f"{server.url}/finance/k/KG1/{MONTH}", timeout=30)
        waited = time.monotonic() - started
        assert _read_from(page.text) == ReadSource.PRIMARY
        assert waited >= 3.0  # replica_wait_ms: it waited for the replica first
        exported = session.get(f"{server.url}/finance/k/KG1/{MONTH}/export/statement.json",
                               timeout=30)
        assert exported.headers["X-Qatys-Read-From"] == ReadSource.PRIMARY
        assert exported.content == fresh
        health = requests.get(server.url + "/api/v1/health", timeout=10)
        body = health.json()
        assert health.status_code == 200
        assert body["replica"] == "reachable"
        assert body["replica_behind_bytes"] > 0
        assert body["replica_lag_seconds"] is None or body["replica_lag_seconds"] > 0
    finally:
        sql(replica, "SELECT pg_wal_replay_resume()")
    wait_replayed(primary, replica)
    page = session.get(f"{server.url}/finance/k/KG1/{MONTH}", timeout=30)
    assert _read_from(page.text) == ReadSource.REPLICA
    exported = session.get(f"{server.url}/finance/k/KG1/{MONTH}/export/statement.json",
                           timeout=30)
    assert exported.headers["X-Qatys-Read-From"] == ReadSource.REPLICA
    assert exported.content == fresh


def test_health_reports_the_database_and_the_replica(replicated: dict[str, object]) -> None:
    server = replicated["server"]
    assert isinstance(server, ServerProcess)
    wait_replayed(str(replicated["primary"]), str(replicated["replica"]))
    deadline = time.monotonic() + 10
    while True:
        body = requests.get(server.url + "/api/v1/health", timeout=10).json()
        if body["replica_behind_bytes"] == 0 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert body["ok"] is True
    assert body["database"] == "reachable"
    assert body["replica"] == "reachable"
    assert body["replica_behind_bytes"] == 0
    assert body["replica_lag_seconds"] == 0.0
    for field in ("version", "protocol", "max_batch_events", "server_time_us"):
        assert field in body


def test_ingest_and_approvals_never_touch_the_replica(replicated: dict[str, object],
                                                     pg_replica: Cluster) -> None:
    """A standby refuses every write (shown first); the server's syncs, sign-ins and an
    approval all succeed, and the replica saw no statement of theirs."""
    server, session = replicated["server"], replicated["session"]
    assert isinstance(server, ServerProcess)
    assert isinstance(session, requests.Session)
    home, env = replicated["home"], replicated["env"]
    assert isinstance(home, Path)
    assert isinstance(env, dict)
    reads = Reads.from_config(make_engine(str(replicated["primary"])),
                              str(replicated["replica"]), 3000)
    assert isinstance(reads.replica, Engine)
    with pytest.raises(Exception, match="read-only transaction"), \
            reads.replica.connect() as conn:
        conn.exec_driver_sql("CREATE TABLE written_here (x int)")
    reads.dispose()
    reads.primary.dispose()
    before = len(_replica_log(pg_replica))
    assert checkin(home, env, CHILDREN[3])["result"] == "accepted"
    run("terminal", "sync", "--home", str(home), env=env)
    staff_session(server.url, "fin", PASSWORD)  # a session written
    last_day = date.fromisoformat(f"{MONTH}-01") - timedelta(days=1)
    month = last_day.strftime("%Y-%m")  # a month that is over
    page = session.get(f"{server.url}/finance/k/KG1/{month}", timeout=30)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf is not None
    approved = session.post(f"{server.url}/finance/k/KG1/{month}/approve",
                            data={"csrf": csrf.group(1)}, allow_redirects=False, timeout=30)
    assert approved.status_code == 302, approved.text
    assert sql(str(replicated["primary"]), "SELECT count(*) FROM approvals") == 1
    time.sleep(0.2)
    served = _served_by_replica(pg_replica, before).upper()
    for write in ("INSERT", "UPDATE ", "DELETE", "FOR UPDATE"):
        assert write not in served
    assert "read-only transaction" not in _replica_log(pg_replica)[before:]


def test_health_answers_503_when_the_primary_is_down_and_200_when_only_the_replica_is(
        tmp_path: Path) -> None:
    directory = Path(tempfile.mkdtemp(prefix="qatys-pg-down-"))
    directory.chmod(0o755)
    primary = start_cluster(directory)
    replica_dir = Path(tempfile.mkdtemp(prefix="qatys-pg-down-replica-"))
    replica_dir.chmod(0o755)
    replica = start_replica(primary, replica_dir)
    server = None
    try:
        url = primary.create_database("down")
        # One web worker, booted before the health answers: a worker that boots while the
        # database is down fails (create_app checks the schema) and gunicorn then ends.
        server = start_server(tmp_path / "server", url, settings={
            "database_read_url": replica.url("down"), "replica_wait_ms": 100, "workers": 1,
            "run_worker": False})
        replica.stop()
        answer = requests.get(server.url + "/api/v1/health", timeout=10)
        assert answer.status_code == 200
        body = answer.json()
        assert body["database"] == "reachable"
        assert body["replica"] == "unreachable"
        assert body["replica_lag_seconds"] is None
        primary.stop()
        started = time.monotonic()
        answer = requests.get(server.url + "/api/v1/health", timeout=30)
        took = time.monotonic() - started
        assert answer.status_code == 503, answer.text
        assert answer.json() == {"ok": False, "database": "unreachable",
                                 "version": answer.json()["version"]}
        assert took < 5
        primary.start()
        assert requests.get(server.url + "/api/v1/health", timeout=30).status_code == 200
    finally:
        if server is not None:
            server.stop()
        replica.stop()
        primary.stop()
        shutil.rmtree(directory, ignore_errors=True)
        shutil.rmtree(replica_dir, ignore_errors=True)


def _job_figures(url: str, job_id: int) -> tuple[object, ...]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            row = conn.exec_driver_sql(
                "SELECT total, inputs_digest, children FROM month_totals WHERE kindergarten = "
                "'KG1' AND month = %(month)s AND job_id = %(job)s",
                {"month": MONTH, "job": job_id}).one()
            year, number = (int(part) for part in MONTH.split("-"))
            wanted = figures_for(conn, "KG1", year, number, shipped_policy())
        assert (row.total, row.inputs_digest, row.children) == (
            wanted.total, wanted.inputs_digest, wanted.children)
        return tuple(row)
    finally:
        engine.dispose()


def test_the_month_job_computes_from_the_replica_only_when_it_has_caught_up(
        replicated: dict[str, object], pg_replica: Cluster) -> None:
    """The worker's own log is not written with --once: the replica's log says whether it
    served the job's queries."""
    server = replicated["server"]
    assert isinstance(server, ServerProcess)
    primary, replica = str(replicated["primary"]), str(replicated["replica"])
    home, env = replicated["home"], replicated["env"]
    assert isinstance(home, Path)
    assert isinstance(env, dict)
    engine = make_engine(primary)
    try:
        wait_replayed(primary, replica)
        job = start_month_job(engine, MONTH, "officer", now_us(), 30_000_000)
        before = len(_replica_log(pg_replica))
        run("server", "worker", "--data", str(server.data_dir), "--once", "--processes", "1")
        time.sleep(0.2)
        assert "FROM events" in _served_by_replica(pg_replica, before)
        _job_figures(primary, job)
        sql(replica, "SELECT pg_wal_replay_pause()")
        try:
            assert checkin(home, env, CHILDREN[4])["result"] == "accepted"
            run("terminal", "sync", "--home", str(home), env=env)
            job = start_month_job(engine, MONTH, "officer", now_us(), 30_000_000)
            before = len(_replica_log(pg_replica))
            run("server", "worker", "--data", str(server.data_dir), "--once",
                "--processes", "1")
            time.sleep(0.2)
            served = _served_by_replica(pg_replica, before)
            assert "pg_last_wal_replay_lsn" in served  # it asked, and did not read there
            assert "FROM events" not in served
            figures = _job_figures(primary, job)  # the figures of the primary's month
            assert figures[1] == json.loads(_statement_json(primary))["inputs_digest"]
        finally:
            sql(replica, "SELECT pg_wal_replay_resume()")
    finally:
        engine.dispose()
