"""Frozen migrations (Alembic), on SQLite and PostgreSQL: a database left at any revision and
then upgraded has exactly the schema of a fresh one; a database written by the last release
before Alembic (commit 6029b19, dumped by tests/legacy/make_dumps.py) upgrades without losing
a row; the tables the code declares are those the revisions make (``alembic check``)."""

from __future__ import annotations

import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Engine, inspect, literal_column, select, table, text

from server.errors import SetupError
from server.storage import db
from server.storage.migrations import _after, alembic_config, migrate, pending
from tests.postgres import Cluster

LEGACY = Path(__file__).resolve().parent / "legacy"
KINDS = ["sqlite", "postgres"]


def _engine(kind: str, name: str, tmp_path: Path, request: pytest.FixtureRequest) -> Engine:
    if kind == "sqlite":
        return db.make_engine(f"sqlite:///{tmp_path / (name + '.db')}")
    cluster: Cluster = request.getfixturevalue("pg_cluster")
    return db.make_engine(cluster.create_database(
        f"{name}_{tmp_path.name.lower().replace('-', '_')}"[:60]))


def _schema(engine: Engine) -> dict[str, Any]:
    found = inspect(engine)
    return {name: {
        "columns": sorted((c["name"], str(c["type"]), c["nullable"], str(c.get("default")))
                          for c in found.get_columns(name)),
        "primary": found.get_pk_constraint(name)["constrained_columns"],
        "foreign": sorted((tuple(f["constrained_columns"]), f["referred_table"],
                           tuple(f["referred_columns"])) for f in found.get_foreign_keys(name)),
        "indexes": sorted((i["name"], tuple(i["column_names"]), bool(i["unique"]))
                          for i in found.get_indexes(name)),
        "unique": sorted(tuple(u["column_names"]) for u in found.get_unique_constraints(name)),
    } for name in sorted(found.get_table_names())}


def _rows(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table (columns in the table's order), sorted."""
    with engine.connect() as conn:
        names = [n for n in inspect(conn).get_table_names() if n != "alembic_version"]
        return {name: sorted((tuple(r) for r in conn.execute(
            select(literal_column("*")).select_from(table(name)))), key=repr) for name in names}


def _fresh(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> Engine:
    fresh = _engine(kind, "fresh", tmp_path, request)
    migrate(fresh)
    return fresh


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("start", ["0013", "0014"])
def test_a_database_at_any_revision_upgrades_to_the_fresh_schema(
        kind: str, start: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    old = _engine(kind, "old", tmp_path, request)
    with db.writing(old) as conn:
        command.upgrade(alembic_config(conn), start)
    assert pending(old) == _after(start)
    assert migrate(old) == _after(start)
    assert pending(old) == []
    fresh = _fresh(kind, tmp_path, request)
    assert _schema(old) == _schema(fresh)
    assert migrate(old) == []  # a second run changes nothing
    old.dispose()
    fresh.dispose()


def _load_dump(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> Engine:
    """A database as the last release before Alembic left it (its own dump)."""
    if kind == "sqlite":
        path = tmp_path / "legacy.db"
        with sqlite3.connect(path) as conn:
            conn.executescript((LEGACY / "6029b19-sqlite.sql").read_text(encoding="utf-8"))
        return db.make_engine(f"sqlite:///{path}")
    cluster: Cluster = request.getfixturevalue("pg_cluster")
    name = f"legacy_{tmp_path.name.lower().replace('-', '_')}"[:60]
    url = cluster.create_database(name)
    subprocess.run([*cluster.run_as, "psql", "-q", "-h", "127.0.0.1", "-p", str(cluster.port),
                    "-U", "qatys", "-d", name, "-v", "ON_ERROR_STOP=1"], check=True,
                   capture_output=True, input=(LEGACY / "6029b19-postgres.sql").read_bytes())
    return db.make_engine(url)


@pytest.mark.parametrize("kind", KINDS)
def test_a_database_of_the_last_release_before_alembic_upgrades_without_loss(
        kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    old = _load_dump(kind, tmp_path, request)
    before = _rows(old)
    assert len(before["schema_migrations"]) == 13
    assert pending(old) == ["0014", "0015", "0016", "0017", "0018", "0019", "0021", "0022", "0023"]
    assert migrate(old) == ["0014", "0015", "0016", "0017", "0018", "0019", "0021", "0022", "0023"]
    fresh = _fresh(kind, tmp_path, request)
    assert _schema(old) == _schema(fresh)
    after = _rows(old)
    del before["schema_migrations"]
    for name, rows in before.items():  # columns added since (e.g. phone_code) are empty
        width = len(rows[0]) if rows else 0
        assert [r[:width] for r in after[name]] == rows, name
        # … but for 0018's binding kind, "guardian" for every binding and invitation before
        defaults = {None, "guardian"} if name.startswith("guardian_") else {None}
        assert {value for r in after[name] for value in r[width:]} <= defaults, name
    assert len(before["events"]) == 3
    assert len(before["children"]) == 20
    assert len(before["consent_records"]) == 2  # one on paper, one signed on a phone
    assert len(after["consent_signatures"]) == 1  # the phone-signed grant, now not replayable
    old.dispose()
    fresh.dispose()


def test_a_database_older_than_the_last_release_is_refused_with_what_to_do(
        tmp_path: Path) -> None:
    old = db.make_engine(f"sqlite:///{tmp_path / 'older.db'}")
    with old.begin() as conn:
        conn.execute(text("CREATE TABLE schema_migrations (name VARCHAR(100) PRIMARY KEY, "
                          "applied_at_us BIGINT NOT NULL)"))
        conn.execute(text("INSERT INTO schema_migrations VALUES ('0001_initial', 0)"))
    with pytest.raises(SetupError, match="0002_unlock_cards"):
        migrate(old)
    with old.connect() as conn:
        assert inspect(conn).get_table_names() == ["schema_migrations"]
    old.dispose()


@pytest.mark.parametrize("kind", KINDS)
def test_the_code_declares_what_the_revisions_make(kind: str, tmp_path: Path,
                                                   request: pytest.FixtureRequest) -> None:
    """``alembic check``: no difference between server/storage/db.py and a migrated database."""
    fresh = _fresh(kind, tmp_path, request)
    with fresh.connect() as conn:
        command.check(alembic_config(conn))
    fresh.dispose()
