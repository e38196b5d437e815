"""Accepted events in open formats, for finance staff, auditors and the queue core."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import Connection, select

from qatys.timeutil import iso_utc
from server.storage import db

EXPORT_FIELDS = ("event_id", "terminal_id", "seq", "child_id", "direction", "kind", "method",
                 "assurance", "recorded_at", "received_at", "receipt")


def accepted_events(conn: Connection, kindergarten: str | None = None) -> Iterator[dict[str, Any]]:
    """Every stored event in (terminal, seq) order, as plain dicts."""
    query = select(db.events).order_by(db.events.c.terminal_id, db.events.c.seq)
    if kindergarten:
        query = query.where(db.events.c.kindergarten == kindergarten)
    for row in conn.execution_options(yield_per=2000).execute(query):
        yield {
            "event_id": row.event_id, "terminal_id": row.terminal_id, "seq": row.seq,
            "kindergarten": row.kindergarten, "child_id": row.child_id,
            "direction": row.direction, "kind": row.kind, "method": row.method,
            "assurance": row.assurance, "recorded_at": iso_utc(row.recorded_at_us),
            "received_at": iso_utc(row.received_at_us), "body_status": row.body_status,
            "receipt": row.receipt,
        }
