"""What a terminal receives of the roster: ids and first names of children who belong now."""

from __future__ import annotations

import hashlib
import os

from sqlalchemy import Connection, or_, select

from protocol import roster
from qatys.timeutil import local_date
from server import db


def current_entries(conn: Connection, kindergarten: str, now_us: int) -> tuple[
        roster.RosterEntry, ...]:
    today = local_date(now_us).isoformat()
    rows = conn.execute(
        select(db.children.c.child_id, db.children.c.first_name)
        .where(db.children.c.kindergarten == kindergarten)
        .where(or_(db.children.c.withdrawn_on.is_(None), db.children.c.withdrawn_on > today))
        .order_by(db.children.c.child_id)
    ).all()
    return tuple(roster.RosterEntry(r.child_id, r.first_name) for r in rows)


def version_of(entries: tuple[roster.RosterEntry, ...]) -> str:
    return hashlib.sha256(roster.encode_entries(entries)).hexdigest()[:16]


def sealed_delivery(kindergarten: str, entries: tuple[roster.RosterEntry, ...],
                    terminal_id: str, terminal_box_public: bytes) -> bytes:
    """A fresh at-rest key and the entries, sealed to the terminal that asked."""
    delivery = roster.RosterDelivery(kindergarten, version_of(entries), os.urandom(32), entries)
    return roster.seal_roster(delivery, terminal_id, terminal_box_public, os.urandom(32),
                              os.urandom(12))
