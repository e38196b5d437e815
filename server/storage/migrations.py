"""Bringing a database to the newest schema revision (Alembic, frozen revisions).

``qatys server init`` calls :func:`migrate`; the server refuses to start while
:func:`pending` names anything. A database made before Alembic carries a
``schema_migrations`` table naming the steps it ran: once it names every step up to 0013 (the
last release before Alembic, commit 6029b19), it is stamped at the revision its newest step
matches and the old table is dropped, in the same transaction as the upgrade that follows.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, column, inspect, select, table, text

from qatys.sentences import Sentence
from server.errors import SetupError
from server.storage import db

HERE = Path(__file__).resolve().parent
LEGACY_TABLE = "schema_migrations"
LEGACY_STEPS = ("0001_initial", "0002_unlock_cards", "0003_cards", "0004_event_receipts",
                "0005_closures_absences", "0006_queue_core_outbox", "0007_finance_pages",
                "0008_events_child_time", "0009_guardians", "0010_consent_and_confirmations",
                "0011_terminal_health", "0012_event_notes", "0013_face_templates")
"""What the last release before Alembic had applied to every database it made."""
LEGACY_REVISIONS = {"0013_face_templates": "0013", "0014_web_sessions": "0014",
                    "0015_request_replays_and_phone_codes": "0015"}
"""The revision a legacy database is at, by the newest step it names."""


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(HERE / "alembic"))
    config.set_main_option("version_locations", str(HERE / "revisions"))
    config.set_main_option("path_separator", "os")
    config.attributes["connection"] = connection
    return config


def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def current_revision(conn: Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


def migrate(engine: Engine) -> list[str]:
    """Upgrade to the newest revision; returns the revisions applied now, oldest first."""
    with db.writing(engine) as conn:
        config = alembic_config(conn)
        legacy = _legacy_revision(conn)
        if legacy is not None:
            command.stamp(config, legacy)
            conn.execute(text(f"DROP TABLE {LEGACY_TABLE}"))
        todo = _after(current_revision(conn))
        command.upgrade(config, "head")
    return todo


def pending(engine: Engine) -> list[str]:
    """The revisions this database still needs (reads only)."""
    with engine.connect() as conn:
        legacy = _legacy_revision(conn)
        return _after(legacy if legacy is not None else current_revision(conn))


def _after(revision: str | None) -> list[str]:
    """Revisions newer than ``revision`` (None: all of them), oldest first."""
    scripts = _scripts()
    newer = [s.revision for s in scripts.iterate_revisions("head", revision or "base")
             if s.revision != revision]
    return list(reversed(newer))


def _legacy_revision(conn: Connection) -> str | None:
    """For a database made before Alembic, the revision it is at (None for any other)."""
    tables = set(inspect(conn).get_table_names())
    if LEGACY_TABLE not in tables or "alembic_version" in tables:
        return None
    names: set[str] = set(conn.execute(select(column("name"))
                                       .select_from(table(LEGACY_TABLE))).scalars())
    missing = [step for step in LEGACY_STEPS if step not in names]
    if missing:
        raise SetupError(Sentence("this database was made by a release older than the last one "
                                  "before frozen migrations (it lacks step %(missing)s): upgrade "
                                  "it with that release (commit 6029b19) first",
                                  missing=missing[0]))
    return max(LEGACY_REVISIONS[n] for n in names if n in LEGACY_REVISIONS)
