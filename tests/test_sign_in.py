"""The finance sign-in's password check holds no lock, and its outcome is counted without
lost updates (SQLite and PostgreSQL); a failing statement's parameters never reach the log."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from werkzeug.security import check_password_hash

from qatys.logs import JsonLineFormatter
from qatys.timeutil import now_us
from server.app import create_app
from server.config import load_config
from server.context import ctx
from server.datadir import init_data_dir
from server.staff import accounts
from server.staff.accounts import SignInRefusal, User, add_user, sign_in
from server.storage import db
from server.storage.migrations import migrate
from tests.postgres import Cluster


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'qatys.db'}"
    cluster: Cluster = request.getfixturevalue("pg_cluster")
    return cluster.create_database(f"signin_{tmp_path.name.lower().replace('-', '_')}"[:60])


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = db.make_engine(database_url)
    migrate(engine)
    with db.writing(engine) as conn:
        add_user(conn, "fin", "finance-pass-1", "finance", None, 0)
    yield engine
    engine.dispose()


def test_the_password_check_holds_no_write_lock(engine: Engine,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    written: list[str] = []

    def check_while_another_writes(stored: str, password: str) -> bool:
        def write() -> None:  # an ingest's write transaction, meanwhile
            with db.writing(engine) as conn:
                conn.execute(db.kindergartens.insert().values(
                    code="KG1", name="KG 1", six_day=False, created_at_us=0))
            written.append("written")
        other = threading.Thread(target=write)
        other.start()
        other.join(10)  # SQLite: a held write lock would keep it waiting
        assert written == ["written"], "a write waited for the password check"
        if engine.dialect.name == "postgresql":  # nor any transaction left open meanwhile
            with engine.connect() as conn:
                assert conn.exec_driver_sql(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND state LIKE 'idle in transaction%%'").scalar_one() == 0
        return check_password_hash(stored, password)

    monkeypatch.setattr(accounts, "check_password_hash", check_while_another_writes)
    assert sign_in(engine, "fin", "not-the-password", now_us()) is SignInRefusal.WRONG
    written.clear()
    with db.writing(engine) as conn:
        conn.execute(db.kindergartens.delete())
    assert isinstance(sign_in(engine, "fin", "finance-pass-1", now_us()), User)


def _failures(engine: Engine) -> tuple[int, int | None]:
    with engine.connect() as conn:
        row = conn.execute(select(db.users.c.failed_logins, db.users.c.locked_until_us)
                           .where(db.users.c.username == "fin")).one()
    return int(row.failed_logins), row.locked_until_us


def _concurrent_wrong(engine: Engine, monkeypatch: pytest.MonkeyPatch, count: int,
                      now: int) -> list[object]:
    """``count`` wrong passwords whose checks all overlap: every one read the account before
    any counted its failure."""
    barrier = threading.Barrier(count, timeout=20)

    def slow_check(stored: str, password: str) -> bool:
        barrier.wait()
        return check_password_hash(stored, password)

    monkeypatch.setattr(accounts, "check_password_hash", slow_check)
    outcomes: list[object] = []
    threads = [threading.Thread(target=lambda: outcomes.append(
        sign_in(engine, "fin", "wrong-password", now))) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(outcomes) == count
    return outcomes


def test_concurrent_failures_all_count(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    now = now_us()
    assert _concurrent_wrong(engine, monkeypatch, 4, now) == [SignInRefusal.WRONG] * 4
    assert _failures(engine) == (4, None)  # none lost


def test_the_fifth_concurrent_failure_locks(engine: Engine,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    now = now_us()
    outcomes = _concurrent_wrong(engine, monkeypatch, 8, now)
    assert sorted(map(str, outcomes)) == ["locked"] * 4 + ["wrong"] * 4
    failures, locked_until = _failures(engine)
    assert failures == 0
    assert locked_until == now + accounts.LOCK_US
    monkeypatch.setattr(accounts, "check_password_hash", check_password_hash)
    assert sign_in(engine, "fin", "finance-pass-1", now + 1) is SignInRefusal.LOCKED


def test_a_failing_statements_parameters_stay_out_of_the_log(
        tmp_path: Path, database_url: str, caplog: pytest.LogCaptureFixture) -> None:
    init_data_dir(tmp_path / "data", database_url)
    app = create_app(config=load_config(tmp_path / "data"))
    secret = "Testovbayev-Secret-7731"

    def fail() -> str:
        for _ in range(2):  # the second insert breaks the primary key
            with db.writing(ctx().engine) as conn:
                conn.execute(db.kindergartens.insert().values(
                    code="KG7", name=secret, six_day=False, created_at_us=0))
        return "unreachable"

    app.add_url_rule("/fail", "fail", fail)
    with caplog.at_level(logging.INFO, logger="qatys"):
        answer = app.test_client().get("/fail")
    assert answer.status_code == 500
    assert answer.json is not None
    assert answer.json["error"]["code"] == "internal_error"
    lines = [JsonLineFormatter().format(record) for record in caplog.records]
    failed = [line for line in lines if "request.failed" in line]
    assert len(failed) == 1
    assert "IntegrityError" in failed[0]
    assert "SQL parameters hidden" in failed[0]
    assert all(secret not in line for line in lines)
    assert secret not in answer.text
    ctx_engine = app.extensions["qatys"].engine
    ctx_engine.dispose()
