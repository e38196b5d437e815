"""The terminal's SQLite store: pending events, the chain head, acknowledgements, day state.

What is on this disk names no child: event bodies are sealed to the server,
the roster is encrypted under a RAM-only key, and day state is keyed by a
pseudonymous tag under today's RAM-only key. Acknowledged events are deleted
with ``secure_delete`` so their pages are zeroed, not merely unlinked.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from protocol import events
from terminal.door import DayState
from terminal.writer import Writer, connect

T = TypeVar("T")

DB_FILE = "terminal.db"

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY,
    hash BLOB NOT NULL,
    raw BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS day_state (
    tag BLOB PRIMARY KEY,
    day TEXT NOT NULL,
    last_seq INTEGER NOT NULL,
    last_direction TEXT NOT NULL,
    last_time_us INTEGER NOT NULL,
    receipt TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS roster (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version TEXT NOT NULL,
    blob BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS roster_unlock (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version TEXT NOT NULL,
    unlock_set BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS face_keys (
    key_id TEXT PRIMARY KEY,
    roster_version TEXT NOT NULL,
    wrapped BLOB NOT NULL,
    own_wrap BLOB
);
CREATE TABLE IF NOT EXISTS face_templates (
    template_id TEXT PRIMARY KEY,
    child_tag BLOB NOT NULL,
    consent_record INTEGER NOT NULL,
    key_id TEXT NOT NULL,
    blob BLOB NOT NULL,
    uploaded INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS ix_face_templates_child ON face_templates(child_tag);
CREATE TABLE IF NOT EXISTS face_erasures (
    template_id TEXT PRIMARY KEY,
    erased_at_us INTEGER NOT NULL,
    reason TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS consent_outbox (
    request_id TEXT PRIMARY KEY,
    sealed BLOB NOT NULL,
    child_tag BLOB NOT NULL
);
"""


@dataclass(frozen=True)
class Appended:
    seq: int
    raw: bytes
    hash: bytes


@dataclass(frozen=True)
class Counts:
    pending: int
    head_seq: int
    acked_seq: int
    last_sync_us: int | None
    revoked: bool


def _create_schema(conn: sqlite3.Connection) -> None:
    for statement in SCHEMA.split(";"):
        if statement.strip():
            conn.execute(statement)
    _add_missing_columns(conn)


def _add_missing_columns(conn: sqlite3.Connection) -> None:
    """Bring a store made by an earlier version up to date, in place, keeping its data."""
    columns = {row[1] for row in conn.execute("PRAGMA table_info(day_state)")}
    if "receipt" not in columns:
        conn.execute("ALTER TABLE day_state ADD COLUMN receipt TEXT NOT NULL DEFAULT ''")


def get_meta(conn: sqlite3.Connection, key: str) -> bytes | None:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return None if row is None else bytes(row[0])


def get_int(conn: sqlite3.Connection, key: str, default: int = 0) -> int:
    value = get_meta(conn, key)
    return default if value is None else int(value)


def set_meta(conn: sqlite3.Connection, key: str, value: bytes | str | int) -> None:
    stored = value if isinstance(value, bytes) else str(value).encode()
    conn.execute("INSERT INTO meta(key, value) VALUES (?, ?) "
                 "ON CONFLICT(key) DO UPDATE SET value = excluded.value", (key, stored))


class TerminalStore:
    """One terminal's database; writes go through the process's single writer."""

    def __init__(self, home: Path) -> None:
        self.path = home / DB_FILE
        self._writer = Writer(self.path)
        self._writer.run(_create_schema)
        self._readers = threading.local()
        self._reader_conns: list[sqlite3.Connection] = []

    def close(self) -> None:
        self._writer.close()
        for conn in self._reader_conns:
            conn.close()

    def write(self, job: Callable[[sqlite3.Connection], T]) -> T:
        return self._writer.run(job)

    def compact(self) -> None:
        """Drop freed pages from the file and empty the WAL, after an erasure: with
        ``secure_delete`` the deleted rows were zeroed, and this leaves no old copy of
        them in free pages or in the log."""
        def job(conn: sqlite3.Connection) -> None:
            conn.execute("VACUUM")
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self._writer.run_outside_transaction(job)

    def read(self, job: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``job`` on this thread's read connection (autocommit: sees every commit)."""
        conn = getattr(self._readers, "conn", None)
        if conn is None:
            conn = connect(self.path)
            self._readers.conn = conn
            self._reader_conns.append(conn)
        return job(conn)

    # --- the chain ----------------------------------------------------------

    @staticmethod
    def append(conn: sqlite3.Connection, make_event: Callable[[int, bytes], bytes]) -> Appended:
        """Give the next sequence number and previous hash to ``make_event``; store its bytes."""
        seq = get_int(conn, "head_seq") + 1
        prev = get_meta(conn, "head_hash") or events.GENESIS_HASH
        raw = make_event(seq, prev)
        digest = events.event_hash(raw)
        conn.execute("INSERT INTO events(seq, hash, raw) VALUES (?, ?, ?)", (seq, digest, raw))
        set_meta(conn, "head_seq", seq)
        set_meta(conn, "head_hash", digest)
        return Appended(seq, raw, digest)

    def pending(self, limit: int) -> list[tuple[int, bytes, bytes]]:
        def job(conn: sqlite3.Connection) -> list[tuple[int, bytes, bytes]]:
            acked = get_int(conn, "acked_seq")
            return [(int(s), bytes(h), bytes(r)) for s, h, r in conn.execute(
                "SELECT seq, hash, raw FROM events WHERE seq > ? ORDER BY seq LIMIT ?",
                (acked, limit))]
        return self.read(job)

    def acknowledge(self, seq: int, head_hash: bytes, ack_raw: bytes, signature: bytes,
                    now_us: int, server_time_us: int) -> int:
        """Record a verified acknowledgement and delete what it covers; returns events deleted."""
        def job(conn: sqlite3.Connection) -> int:
            row = conn.execute("SELECT hash FROM events WHERE seq = ?", (seq,)).fetchone()
            if row is not None and bytes(row[0]) != head_hash:
                raise ValueError(f"acknowledgement names a different event {seq}")
            if seq > get_int(conn, "head_seq"):
                raise ValueError(f"acknowledgement names event {seq} this terminal never made")
            deleted = conn.execute("DELETE FROM events WHERE seq <= ?", (seq,)).rowcount
            set_meta(conn, "acked_seq", max(seq, get_int(conn, "acked_seq")))
            set_meta(conn, "last_ack", ack_raw)
            set_meta(conn, "last_ack_signature", signature)
            set_meta(conn, "last_sync_us", now_us)
            set_meta(conn, "last_server_time_us", server_time_us)
            return int(deleted)
        return self.write(job)

    def counts(self) -> Counts:
        def job(conn: sqlite3.Connection) -> Counts:
            acked = get_int(conn, "acked_seq")
            pending = conn.execute("SELECT count(*) FROM events WHERE seq > ?",
                                   (acked,)).fetchone()[0]
            last = get_meta(conn, "last_sync_us")
            return Counts(int(pending), get_int(conn, "head_seq"), acked,
                          int(last) if last is not None else None,
                          get_meta(conn, "revoked") == b"1")
        return self.read(job)

    def quick_check(self) -> str:
        """SQLite's own check of the file ("ok", or what is broken)."""
        return str(self.read(lambda conn: conn.execute("PRAGMA quick_check").fetchone()[0]))

    def set_flag(self, key: str, value: str) -> None:
        self.write(lambda conn: set_meta(conn, key, value))

    def put_door(self, raw: bytes, signature: bytes) -> None:
        """The server-signed door credentials (card keys, revoked serials), kept verbatim."""
        def job(conn: sqlite3.Connection) -> None:
            set_meta(conn, "door", raw)
            set_meta(conn, "door_signature", signature)
        self.write(job)

    def door(self) -> tuple[bytes, bytes] | None:
        def job(conn: sqlite3.Connection) -> tuple[bytes, bytes] | None:
            raw, signature = get_meta(conn, "door"), get_meta(conn, "door_signature")
            return None if raw is None or signature is None else (raw, signature)
        return self.read(job)

    # --- day state ----------------------------------------------------------

    @staticmethod
    def day_state(conn: sqlite3.Connection, tag: bytes) -> DayState | None:
        row = conn.execute("SELECT last_seq, last_direction, last_time_us, receipt "
                           "FROM day_state WHERE tag = ?", (tag,)).fetchone()
        return None if row is None else DayState(int(row[0]), events.Direction(row[1]), int(row[2]),
                                                 str(row[3]))

    @staticmethod
    def put_day_state(conn: sqlite3.Connection, tag: bytes, day: str, state: DayState) -> None:
        conn.execute(
            "INSERT INTO day_state(tag, day, last_seq, last_direction, last_time_us, receipt) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(tag) DO UPDATE SET day = excluded.day, "
            "last_seq = excluded.last_seq, last_direction = excluded.last_direction, "
            "last_time_us = excluded.last_time_us, receipt = excluded.receipt",
            (tag, day, state.last_seq, state.last_direction, state.last_time_us,
             state.receipt))

    @staticmethod
    def purge_day_state(conn: sqlite3.Connection, keep_day: str) -> None:
        conn.execute("DELETE FROM day_state WHERE day != ?", (keep_day,))

    # --- roster -------------------------------------------------------------

    def put_roster(self, version: str, blob: bytes, unlock_set: bytes,
                   face_keys: list[tuple[str, bytes]] | None = None,
                   issued_us: int = 0) -> None:
        """The encrypted roster and its unlock wraps, replaced together in one commit, with
        the face keys wrapped anew under the new roster key (``face_keys``) when given, and
        the server time the roster was delivered at (``issued_us``: an older one is refused
        from then on, see :meth:`roster_issued_us`)."""
        def job(conn: sqlite3.Connection) -> None:
            set_meta(conn, "roster_issued_us", max(issued_us, get_int(conn, "roster_issued_us")))
            for key_id, wrapped in face_keys or []:
                conn.execute("UPDATE face_keys SET roster_version = ?, wrapped = ? "
                             "WHERE key_id = ?", (version, wrapped, key_id))
            conn.execute(
                "INSERT INTO roster(id, version, blob) VALUES (1, ?, ?) ON CONFLICT(id) DO UPDATE "
                "SET version = excluded.version, blob = excluded.blob", (version, blob))
            conn.execute(
                "INSERT INTO roster_unlock(id, version, unlock_set) VALUES (1, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET version = excluded.version, "
                "unlock_set = excluded.unlock_set", (version, unlock_set))
        self.write(job)

    def roster_issued_us(self) -> int:
        """The server time of the newest roster this terminal took (0: none yet)."""
        return self.read(lambda conn: get_int(conn, "roster_issued_us"))

    def face_key_rows(self) -> list[tuple[str, str, bytes]]:
        """(key id, roster version it is wrapped under, wrapped key) of each face key."""
        return [(str(k), str(v), bytes(w)) for k, v, w in self.read(lambda conn: conn.execute(
            "SELECT key_id, roster_version, wrapped FROM face_keys ORDER BY key_id").fetchall())]

    def roster_unlock(self) -> tuple[str, bytes] | None:
        row = self.read(lambda conn: conn.execute(
            "SELECT version, unlock_set FROM roster_unlock WHERE id = 1").fetchone())
        return None if row is None else (str(row[0]), bytes(row[1]))

    def roster(self) -> tuple[str, bytes] | None:
        row = self.read(lambda conn: conn.execute(
            "SELECT version, blob FROM roster WHERE id = 1").fetchone())
        return None if row is None else (str(row[0]), bytes(row[1]))
