"""Revocation, the same for terminals, children's cards and unlock cards: once, at once, kept."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Table, select

from provisioning.errors import NotFound
from qatys.sentences import Sentence


def revoke_once(conn: Connection, table: Table, key: str, value: str, reason_column: str,
                reason: str, now_us: int, missing: Sentence) -> bool:
    """Mark the row revoked now; False when it already was (nothing changes then).
    ``missing`` is the message when there is no such row."""
    column: Any = table.c[key]
    row = conn.execute(select(table.c.revoked_at_us).where(column == value)).first()
    if row is None:
        raise NotFound(missing)
    if row.revoked_at_us is not None:
        return False
    conn.execute(table.update().where(column == value)
                 .values({"revoked_at_us": now_us, reason_column: reason[:500]}))
    return True
