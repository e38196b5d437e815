"""The terminal's SQLite store: pending events, the chain head, acknowledgements, day state.

What is on this disk names no child: event bodies are sealed to the server,
the roster is encrypted under a RAM-only key, and day state is keyed by a
pseudonymous tag under today's RAM-only key. Acknowledged events are kept, still sealed,
for the retention window (a server restored from an older backup gets them again), then
deleted with ``secure_delete`` so their pages are zeroed, not merely unlinked.
"""

from __future__ import annotations

import fcntl
import os
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
LOCK_FILE = "terminal.lock"
"""Every open store holds a shared ``flock`` on it; a recovery (terminal/recovery.py) takes it
exclusively, so a damaged store is never moved aside under another process using it."""

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

RETENTION_SCHEMA = """
CREATE TABLE IF NOT EXISTS acked_spans (
    last_seq INTEGER PRIMARY KEY,
    acked_us INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS retired_spans (
    first_seq INTEGER PRIMARY KEY,
    last_seq INTEGER NOT NULL,
    first_time_us INTEGER NOT NULL,
    last_time_us INTEGER NOT NULL,
    last_hash BLOB NOT NULL
);
"""
"""Retention (issue 20): acknowledged events stay (sealed, as before) until their
acknowledgement is older than the retention window. ``acked_spans`` holds, per acknowledgement,
the highest sequence number it newly covered and when it came; ``retired_spans`` what pruning
removed — sequence numbers, the period of the events' times and the last one's hash, one row a
day (no body, no child) — so the terminal can declare a range lost if the server ever turns out
to have lost it too (protocol/gaps.py)."""


NEEDED = Path("damaged") / "needed"
"""Left by a process that met a corrupt store while running: the next open (or the running
kiosk) recovers it (terminal/recovery.py)."""
_CORRUPT_CODES = {"SQLITE_CORRUPT", "SQLITE_NOTADB"}


def is_corruption(exc: BaseException) -> bool:
    """SQLite says the file is damaged (SQLITE_CORRUPT, SQLITE_NOTADB)."""
    if not isinstance(exc, sqlite3.DatabaseError):
        return False
    name = str(getattr(exc, "sqlite_errorname", "") or "")
    text = str(exc).lower()
    return name.split("_VTAB")[0] in _CORRUPT_CODES or "malformed" in text \
        or "not a database" in text


def mark_needed(home: Path) -> None:
    """A running process met a corrupt store: the next open recovers it."""
    try:
        (home / NEEDED.parent).mkdir(mode=0o700, exist_ok=True)
        (home / NEEDED).touch()
    except OSError:  # pragma: no cover - a card that cannot take one file: quick_check will
        pass


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


@dataclass(frozen=True)
class LostRange:
    """Events this terminal made and no longer holds (pruned after the retention window)."""
    first_seq: int
    last_seq: int
    first_time_us: int
    last_time_us: int
    last_hash: bytes


@dataclass(frozen=True)
class ServerBehind:
    behind: bool
    server_seq: int
    gap: LostRange | None = None
    """The range to declare lost before sending again, when some of it was pruned."""
    acked_seq: int = 0
    """This terminal's acknowledged head before it went back."""


def _hash_at(conn: sqlite3.Connection, seq: int) -> bytes | None:
    """This terminal's hash of its event ``seq``, where it still knows it."""
    if seq == 0:
        return events.GENESIS_HASH
    row = conn.execute("SELECT hash FROM events WHERE seq = ?", (seq,)).fetchone()
    if row is not None:
        return bytes(row[0])
    row = conn.execute("SELECT last_hash FROM retired_spans WHERE last_seq = ?",
                       (seq,)).fetchone()
    if row is not None:
        return bytes(row[0])
    row = conn.execute("SELECT raw FROM events WHERE seq = ?", (seq + 1,)).fetchone()
    return None if row is None else events.decode_event(bytes(row[0])).prev_hash


_DAY_US = 86_400_000_000


def _retire(conn: sqlite3.Connection, found: list[tuple[int, bytes, int]]) -> None:
    """Keep what was pruned as spans of sequence numbers, one a UTC day of event time, each
    with the period of its events' times and the hash of its last event."""
    spans: list[list[int | bytes]] = []
    for seq, digest, time_us in found:
        last = conn.execute("SELECT first_seq, last_seq, first_time_us, last_time_us "
                            "FROM retired_spans ORDER BY first_seq DESC LIMIT 1").fetchone() \
            if not spans else None
        if spans and int(spans[-1][1]) == seq - 1 \
                and int(spans[-1][3]) // _DAY_US == time_us // _DAY_US:
            span = spans[-1]
            span[1], span[2] = seq, min(int(span[2]), time_us)
            span[3], span[4] = max(int(span[3]), time_us), digest
            continue
        if last is not None and int(last[1]) == seq - 1 \
                and int(last[3]) // _DAY_US == time_us // _DAY_US:
            conn.execute("DELETE FROM retired_spans WHERE first_seq = ?", (int(last[0]),))
            spans.append([int(last[0]), seq, min(int(last[2]), time_us),
                          max(int(last[3]), time_us), digest])
            continue
        spans.append([seq, seq, time_us, time_us, digest])
    conn.executemany("INSERT INTO retired_spans(first_seq, last_seq, first_time_us, "
                     "last_time_us, last_hash) VALUES (?, ?, ?, ?, ?)", spans)


def _lost_range(conn: sqlite3.Connection, first: int, last: int) -> LostRange:
    """The range first..last as the retired spans know it: its period and last hash."""
    rows = conn.execute("SELECT first_seq, last_seq, first_time_us, last_time_us, last_hash "
                        "FROM retired_spans WHERE last_seq >= ? AND first_seq <= ? "
                        "ORDER BY first_seq", (first, last)).fetchall()
    last_hash = _hash_at(conn, last)
    if not rows or last_hash is None:
        raise ValueError(f"events {first}..{last} are neither held nor recorded as pruned")
    return LostRange(first, last, min(int(r[2]) for r in rows), max(int(r[3]) for r in rows),
                     last_hash)


DAMAGE_SCHEMA = """
CREATE TABLE IF NOT EXISTS damaged_ranges (
    first_seq INTEGER PRIMARY KEY,
    last_seq INTEGER NOT NULL,
    first_time_us INTEGER NOT NULL,
    last_time_us INTEGER NOT NULL,
    last_hash BLOB NOT NULL
);
"""
"""A damaged store (issue 23, terminal/recovery.py): the ranges of this terminal's events it
could not read back, each to be declared lost (``store_damaged``) before the events after it
are sent; a row goes once the server took the declaration or holds the whole range."""


def create_schema(conn: sqlite3.Connection) -> None:
    for statement in (SCHEMA + RETENTION_SCHEMA + DAMAGE_SCHEMA).split(";"):
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
        self._lock = os.open(home / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self._lock, fcntl.LOCK_SH)
            self._writer = Writer(self.path)
        except BaseException:
            os.close(self._lock)
            raise
        self._writer.run(create_schema)
        self._readers = threading.local()
        self._reader_conns: list[sqlite3.Connection] = []

    def close(self) -> None:
        self._writer.close()
        for conn in self._reader_conns:
            conn.close()
        self._reader_conns = []
        if self._lock >= 0:
            os.close(self._lock)  # the shared lock goes with the descriptor
            self._lock = -1

    def write(self, job: Callable[[sqlite3.Connection], T]) -> T:
        try:
            return self._writer.run(job)
        except sqlite3.DatabaseError as exc:
            if is_corruption(exc):
                mark_needed(self.path.parent)
            raise

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
        try:
            return job(conn)
        except sqlite3.DatabaseError as exc:
            if is_corruption(exc):
                mark_needed(self.path.parent)
            raise

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
            row = conn.execute("SELECT min(first_seq) FROM damaged_ranges WHERE last_seq > ?",
                               (acked,)).fetchone()
            stop = int(row[0]) if row and row[0] is not None else 1 << 62
            return [(int(s), bytes(h), bytes(r)) for s, h, r in conn.execute(
                "SELECT seq, hash, raw FROM events WHERE seq > ? AND seq < ? ORDER BY seq "
                "LIMIT ?", (acked, stop, limit))]
        return self.read(job)

    def acknowledge(self, seq: int, head_hash: bytes, ack_raw: bytes, signature: bytes,
                    now_us: int, server_time_us: int) -> int:
        """Record a verified acknowledgement; returns how many events it newly covers. The
        events stay (sealed to the server, as before) until :meth:`prune` finds their
        acknowledgement older than the retention window, by the server's signed time of it
        (``server_time_us``: a terminal clock that jumps prunes nothing early)."""
        def job(conn: sqlite3.Connection) -> int:
            if seq > get_int(conn, "head_seq"):
                raise ValueError(f"acknowledgement names event {seq} this terminal never made")
            known = _hash_at(conn, seq)
            if known is not None and known != head_hash:
                raise ValueError(f"acknowledgement names a different event {seq}")
            acked = get_int(conn, "acked_seq")
            if seq > acked:
                conn.execute("INSERT INTO acked_spans(last_seq, acked_us) VALUES (?, ?) "
                             "ON CONFLICT(last_seq) DO UPDATE SET acked_us = excluded.acked_us",
                             (seq, server_time_us))
            set_meta(conn, "acked_seq", max(seq, acked))
            set_meta(conn, "last_ack", ack_raw)
            set_meta(conn, "last_ack_signature", signature)
            set_meta(conn, "last_sync_us", now_us)
            set_meta(conn, "last_server_time_us", server_time_us)
            return max(0, seq - acked)
        return self.write(job)

    def prune(self, now_us: int, window_us: int) -> int:
        """Delete (``secure_delete``: zeroed) the acknowledged events whose acknowledgement is
        older than ``window_us`` at ``now_us`` (the server's time as this terminal knows it),
        keeping their sequence numbers, period and last hash in
        ``retired_spans``; returns how many were deleted."""
        def job(conn: sqlite3.Connection) -> int:
            acked = get_int(conn, "acked_seq")
            row = conn.execute("SELECT max(last_seq) FROM acked_spans WHERE acked_us <= ? "
                               "AND last_seq <= ?", (now_us - window_us, acked)).fetchone()
            upto = int(row[0]) if row and row[0] is not None else 0
            if upto == 0:
                return 0
            found = [(int(q), bytes(h), events.decode_event(bytes(r)).time_us)
                     for q, h, r in conn.execute(
                         "SELECT seq, hash, raw FROM events WHERE seq <= ? ORDER BY seq", (upto,))]
            conn.execute("DELETE FROM acked_spans WHERE last_seq <= ?", (upto,))
            if not found:
                return 0
            conn.execute("DELETE FROM events WHERE seq <= ?", (upto,))
            _retire(conn, found)
            return len(found)
        return self.write(job)

    def retained(self) -> tuple[int, int]:
        """(acknowledged events still held, events pruned since enrolment)."""
        def job(conn: sqlite3.Connection) -> tuple[int, int]:
            acked = get_int(conn, "acked_seq")
            held = conn.execute("SELECT count(*) FROM events WHERE seq <= ?", (acked,)).fetchone()
            gone = conn.execute("SELECT coalesce(sum(last_seq - first_seq + 1), 0) "
                                "FROM retired_spans").fetchone()
            return int(held[0]), int(gone[0])
        return self.read(job)

    def server_behind(self, server_seq: int, server_hash: bytes, now_us: int) -> ServerBehind:
        """The server's signed answer says it holds events only up to ``server_seq``: check
        that names this terminal's own event where it still knows it (else ValueError: a
        foreign or made-up head changes nothing), then send again from there. Returns what to
        do: nothing (the server is not behind), send again from ``server_seq + 1``, or first
        declare the range no longer held (``gap``) and send again after it."""
        def job(conn: sqlite3.Connection) -> ServerBehind:
            acked, head = get_int(conn, "acked_seq"), get_int(conn, "head_seq")
            if server_seq >= acked:
                return ServerBehind(False, acked)
            known = _hash_at(conn, server_seq)
            if known is not None and known != server_hash:
                raise ValueError(f"the server's head names a different event {server_seq}")
            row = conn.execute("SELECT min(seq) FROM events WHERE seq > ?",
                               (server_seq,)).fetchone()
            first_held = int(row[0]) if row and row[0] is not None else head + 1
            gap = None
            if first_held > server_seq + 1:
                gap = _lost_range(conn, server_seq + 1, first_held - 1)
            resume = server_seq if gap is None else gap.last_seq
            set_meta(conn, "acked_seq", resume if gap is None else server_seq)
            set_meta(conn, "server_behind", get_int(conn, "server_behind") + 1)
            set_meta(conn, "server_behind_us", now_us)
            return ServerBehind(True, server_seq, gap, acked)
        return self.write(job)

    def damaged_next(self) -> LostRange | None:
        """The first range lost to a damaged store that is due to be declared: it starts right
        after the acknowledged head (trimmed to start there), so nothing pending comes before
        it."""
        def job(conn: sqlite3.Connection) -> LostRange | None:
            acked = get_int(conn, "acked_seq")
            row = conn.execute("SELECT first_seq, last_seq, first_time_us, last_time_us, "
                               "last_hash FROM damaged_ranges WHERE last_seq > ? "
                               "ORDER BY first_seq LIMIT 1", (acked,)).fetchone()
            if row is None or int(row[0]) > acked + 1:
                return None
            return LostRange(max(int(row[0]), acked + 1), int(row[1]), int(row[2]),
                             int(row[3]), bytes(row[4]))
        return self.read(job)

    def damaged_declared(self, last_seq: int) -> None:
        """The server took the declaration of a damaged range up to ``last_seq``."""
        def job(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM damaged_ranges WHERE last_seq <= ?", (last_seq,))
            if get_int(conn, "acked_seq") < last_seq:
                set_meta(conn, "acked_seq", last_seq)
        self.write(job)

    def damaged_pending(self) -> int:
        """Events lost to a damaged store not yet declared to the server."""
        return int(self.read(lambda conn: conn.execute(
            "SELECT coalesce(sum(last_seq - max(first_seq, ?) + 1), 0) FROM damaged_ranges "
            "WHERE last_seq > ?", (get_int(conn, "acked_seq") + 1,
                                   get_int(conn, "acked_seq"))).fetchone()[0]))

    def server_ahead(self, server_seq: int, server_hash: bytes) -> bool:
        """After a recovery the server may hold events this terminal lost (or acknowledged
        without the terminal reading the acknowledgement back): its signed head
        ``server_seq`` beyond the acknowledged head is taken as acknowledged, once it names
        this terminal's own event where still known and lies within what the damaged store
        held (``recovered_top``: never past an event made since). True when taken."""
        def job(conn: sqlite3.Connection) -> bool:
            acked = get_int(conn, "acked_seq")
            top = get_meta(conn, "recovered_top")
            if top is None or server_seq <= acked or server_seq > int(top):
                return False
            known = _hash_at(conn, server_seq)
            if known is not None and known != server_hash:
                raise ValueError(f"the server's head names a different event {server_seq}")
            set_meta(conn, "acked_seq", server_seq)
            conn.execute("DELETE FROM damaged_ranges WHERE last_seq <= ?", (server_seq,))
            return True
        return self.write(job)

    def damage_record(self) -> dict[str, object] | None:
        """The last recovery of a damaged store (terminal/recovery.py), for the health report,
        selfcheck and the kiosk's notice, with ``undeclared``: events not yet declared lost."""
        import json

        raw = self.read(lambda conn: get_meta(conn, "store_damaged"))
        if raw is None:
            return None
        record = dict(json.loads(raw))
        record["at_us"] = self.read(lambda conn: get_int(conn, "store_damaged_us"))
        record["undeclared"] = self.damaged_pending()
        return record

    def gap_declared(self, last_seq: int) -> None:
        """The server took the declaration of a range up to ``last_seq``: send from after it."""
        def job(conn: sqlite3.Connection) -> None:
            if get_int(conn, "acked_seq") < last_seq:
                set_meta(conn, "acked_seq", last_seq)
        self.write(job)

    def behind_record(self) -> tuple[int, int | None]:
        """(times the server was found behind, when last), for the health report."""
        def job(conn: sqlite3.Connection) -> tuple[int, int | None]:
            last = get_meta(conn, "server_behind_us")
            return get_int(conn, "server_behind"), None if last is None else int(last)
        return self.read(job)

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
