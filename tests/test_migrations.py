"""An upgraded database equals a fresh one: a database left at 0013 and then migrated has the
same tables, columns, keys and indexes as one made now (SQLite and PostgreSQL); 0014 counts
the phone-signed consent messages already in the ledger as recorded, 0015 adds the terminals'
request replays and the events' phone codes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, inspect, select

from server import db
from server.migrations import MIGRATIONS, migrate
from tests.postgres import Cluster


def _url(kind: str, name: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / (name + '.db')}"
    cluster: Cluster = request.getfixturevalue("pg_cluster")
    return cluster.create_database(f"{name}_{tmp_path.name.lower().replace('-', '_')}"[:60])


def _schema(engine: Engine) -> dict[str, Any]:
    found = inspect(engine)
    return {table: {
        "columns": sorted((c["name"], str(c["type"]), c["nullable"])
                          for c in found.get_columns(table)),
        "primary": found.get_pk_constraint(table)["constrained_columns"],
        "foreign": sorted((tuple(f["constrained_columns"]), f["referred_table"])
                          for f in found.get_foreign_keys(table)),
        "indexes": sorted((i["name"], tuple(i["column_names"]), bool(i["unique"]))
                          for i in found.get_indexes(table)),
        "unique": sorted(tuple(u["column_names"]) for u in found.get_unique_constraints(table)),
    } for table in sorted(found.get_table_names())}


def _up_to_0013(engine: Engine) -> None:
    db.metadata.create_all(engine, tables=[db.schema_migrations])
    for name, step in MIGRATIONS:
        if name.startswith("0014"):
            break
        with db.writing(engine) as conn:
            step(conn)
            conn.execute(db.schema_migrations.insert().values(name=name, applied_at_us=0))


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_an_upgraded_database_equals_a_fresh_one(kind: str, tmp_path: Path,
                                                 request: pytest.FixtureRequest) -> None:
    old = db.make_engine(_url(kind, "old", tmp_path, request))
    _up_to_0013(old)
    with db.writing(old) as conn:
        # 0001 builds events from today's table: take off what 0015 adds, as 0013 left it.
        conn.exec_driver_sql("ALTER TABLE events DROP COLUMN phone_code")
        conn.execute(db.kindergartens.insert().values(code="KG1", name="KG 1", six_day=False,
                                                      created_at_us=0))
        conn.execute(db.roster_imports.insert().values(
            kindergarten="KG1", imported_at_us=0, rows=1, sha256="0" * 64, source="t"))
        conn.execute(db.children.insert().values(
            child_id="c-1", kindergarten="KG1", iin="000000000000", last_name="L",
            first_name="F", birth_date="2021-01-01", group_name="A", funding_category="x",
            enrolled_on="2025-09-01", roster_import=1))
        conn.execute(db.guardians.insert().values(guardian_id="G-1", key_id="k" * 16,
                                                  public_key=b"p", created_at_us=0))
        for signed_at, signature in ((1000, b"s" * 64), (1000, b"s" * 64), (2000, b"t" * 64)):
            conn.execute(db.consent_records.insert().values(
                child_id="c-1", kindergarten="KG1", action="grant", until="2027-01-01",
                source="phone", guardian_id="G-1", signature=signature, recorded_at_us=0,
                recorded_by="G-1", signed_text=f"qatys-consent-v1\ngrant\nc-1\nKG1\n"
                                               f"2027-01-01\n{signed_at}"))
    assert migrate(old) == [name for name, _ in MIGRATIONS if name >= "0014"]
    fresh = db.make_engine(_url(kind, "fresh", tmp_path, request))
    migrate(fresh)
    assert _schema(old) == _schema(fresh)
    with old.connect() as conn:
        kept = conn.execute(select(db.consent_signatures.c.signed_at_ms,
                                   db.consent_signatures.c.record_id)
                            .order_by(db.consent_signatures.c.signed_at_ms)).all()
    assert [tuple(row) for row in kept] == [(1000, 1), (2000, 3)]  # the repeat kept once
    old.dispose()
    fresh.dispose()
