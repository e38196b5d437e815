"""Signed terminal requests already taken, so that a recorded one cannot be played again.

A signed request carries its time and a nonce (protocol/auth.py). The server takes one only
when its time is within the freshness window of the server's clock and its signature has not
been seen; the signature is remembered until the request would be refused as stale anyway,
so the table holds a few minutes of requests. Kept in the database, it is shared by every
worker and node.
"""

from __future__ import annotations

from sqlalchemy import Connection, delete, select

from protocol import auth, crypto
from server.storage import db

WINDOW_US = auth.FRESHNESS_S * 1_000_000


def first_sight(conn: Connection, terminal_id: str, signature: bytes, signed_time_s: int,
                now_us: int) -> bool:
    """Remember this request's signature; False when it was taken before (a replay)."""
    digest = crypto.sha256(signature)[:16]
    conn.execute(delete(db.request_replays).where(db.request_replays.c.expires_at_us < now_us))
    if conn.execute(select(db.request_replays.c.digest)
                    .where(db.request_replays.c.digest == digest)).first() is not None:
        return False
    conn.execute(db.request_replays.insert().values(
        digest=digest, terminal_id=terminal_id,
        expires_at_us=max(signed_time_s * 1_000_000, now_us) + WINDOW_US))
    return True
