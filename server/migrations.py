"""Named schema migrations, each applied in the same transaction as its record."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from sqlalchemy import Connection, Engine, inspect, select

from qatys.timeutil import now_us
from server import db

Migration = Callable[[Connection], None]


def _initial(conn: Connection) -> None:
    db.metadata.create_all(
        conn,
        tables=[db.kindergartens, db.children, db.roster_imports, db.terminal_tokens,
                db.terminals, db.events, db.batches, db.equivocations],
    )


def _unlock_cards(conn: Connection) -> None:
    db.metadata.create_all(conn, tables=[db.unlock_cards])


def _cards(conn: Connection) -> None:
    db.metadata.create_all(conn, tables=[db.card_keys, db.cards])


def _event_receipts(conn: Connection) -> None:
    # 0001 builds the events table from the current schema, so a new database has it already.
    if "receipt" not in {c["name"] for c in inspect(conn).get_columns("events")}:
        conn.exec_driver_sql("ALTER TABLE events ADD COLUMN receipt VARCHAR(16)")


def _money(conn: Connection) -> None:
    db.metadata.create_all(conn, tables=[db.closures, db.absences])


def _queue_core(conn: Connection) -> None:
    db.metadata.create_all(conn, tables=[db.outbox])


def _finance(conn: Connection) -> None:
    if "district" not in {c["name"] for c in inspect(conn).get_columns("kindergartens")}:
        conn.exec_driver_sql(
            "ALTER TABLE kindergartens ADD COLUMN district VARCHAR(100) NOT NULL DEFAULT ''")
    db.metadata.create_all(conn, tables=[db.users, db.approvals, db.month_totals, db.jobs])


def _events_child_time(conn: Connection) -> None:
    names = {i["name"] for i in inspect(conn).get_indexes("events")}
    if "ix_events_child_time" not in names:
        conn.exec_driver_sql(
            "CREATE INDEX ix_events_child_time ON events (child_id, recorded_at_us)")
    if "ix_events_child" in names:
        conn.exec_driver_sql("DROP INDEX ix_events_child")


def _guardians(conn: Connection) -> None:
    db.metadata.create_all(conn, tables=[db.guardian_invitations, db.guardians,
                                         db.guardian_children, db.guardian_nonces])


def _consent(conn: Connection) -> None:
    db.metadata.create_all(conn, tables=[db.consent_records, db.month_confirmations])


def _terminal_health(conn: Connection) -> None:
    db.metadata.create_all(conn, tables=[db.terminal_health, db.event_time_corrections])


def _event_notes(conn: Connection) -> None:
    if "note" not in {c["name"] for c in inspect(conn).get_columns("events")}:
        conn.exec_driver_sql("ALTER TABLE events ADD COLUMN note VARCHAR(200)")


def _faces(conn: Connection) -> None:
    db.metadata.create_all(conn, tables=[db.face_templates, db.face_key_wraps,
                                         db.face_erasures, db.consent_notices])


def _web_sessions(conn: Connection) -> None:
    db.metadata.create_all(conn, tables=[db.web_sessions, db.rate_limits,
                                         db.consent_signatures])
    # Consent messages signed before this migration count as recorded: none can be replayed.
    seen: set[tuple[str, str, int]] = set()
    digests: set[bytes] = set()
    for row in conn.execute(select(db.consent_records.c.id, db.consent_records.c.guardian_id,
                                   db.consent_records.c.child_id,
                                   db.consent_records.c.signed_text,
                                   db.consent_records.c.signature)
                            .where(db.consent_records.c.signature.is_not(None))
                            .order_by(db.consent_records.c.id)):
        signed_at = (row.signed_text or "").rsplit("\n", 1)[-1]
        if row.guardian_id is None or not signed_at.isdigit():
            continue
        key, digest = (row.guardian_id, row.child_id, int(signed_at)), \
            hashlib.sha256(bytes(row.signature)).digest()
        if key in seen or digest in digests:
            continue
        seen.add(key)
        digests.add(digest)
        conn.execute(db.consent_signatures.insert().values(
            guardian_id=key[0], child_id=key[1], signed_at_ms=key[2],
            signature_sha256=digest, record_id=row.id))


def _trust(conn: Connection) -> None:
    db.metadata.create_all(conn, tables=[db.request_replays])
    if "phone_code" not in {c["name"] for c in inspect(conn).get_columns("events")}:
        conn.exec_driver_sql("ALTER TABLE events ADD COLUMN phone_code VARCHAR(40)")


MIGRATIONS: list[tuple[str, Migration]] = [
    ("0001_initial", _initial),
    ("0002_unlock_cards", _unlock_cards),
    ("0003_cards", _cards),
    ("0004_event_receipts", _event_receipts),
    ("0005_closures_absences", _money),
    ("0006_queue_core_outbox", _queue_core),
    ("0007_finance_pages", _finance),
    ("0008_events_child_time", _events_child_time),
    ("0009_guardians", _guardians),
    ("0010_consent_and_confirmations", _consent),
    ("0011_terminal_health", _terminal_health),
    ("0012_event_notes", _event_notes),
    ("0013_face_templates", _faces),
    ("0014_web_sessions", _web_sessions),
    ("0015_request_replays_and_phone_codes", _trust),
]


def migrate(engine: Engine) -> list[str]:
    """Apply every migration not yet recorded; return the names applied now."""
    db.metadata.create_all(engine, tables=[db.schema_migrations])
    applied: list[str] = []
    for name, step in MIGRATIONS:
        with db.writing(engine) as conn:
            done = conn.execute(
                select(db.schema_migrations.c.name).where(db.schema_migrations.c.name == name)
            ).first()
            if done:
                continue
            step(conn)
            conn.execute(db.schema_migrations.insert().values(name=name, applied_at_us=now_us()))
            applied.append(name)
    return applied


def pending(engine: Engine) -> list[str]:
    db.metadata.create_all(engine, tables=[db.schema_migrations])
    with engine.connect() as conn:
        done = set(conn.execute(select(db.schema_migrations.c.name)).scalars())
    return [name for name, _ in MIGRATIONS if name not in done]
