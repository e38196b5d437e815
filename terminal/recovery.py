"""A damaged store (issue 23): the file moved aside, what can be read back rebuilt into a new
store, the events that could not be read back declared lost (never silently).

When SQLite's quick check fails at start, or SQLite reported the file corrupt while running
(:func:`is_corruption`; the running process leaves the :data:`NEEDED` marker), the next
:func:`recover_if_needed` (from ``open_terminal``):

1. moves ``terminal.db`` with its ``-wal`` and ``-shm`` into ``HOME/damaged/<stamp>/`` (kept for
   the server and staff: it is still ciphertext, event bodies are sealed to the server);
2. reads every row still readable in it (terminal/salvage.py), keeps the events whose bytes
   decode, whose hash matches and whose chain links, and the other tables' rows of the right
   shape (day state, retention spans, faces, consent outbox, meta);
3. writes them into ``terminal.db.recovering`` and renames it to ``terminal.db``, with each
   range of sequence numbers it could not read back in ``damaged_ranges``: the next sync
   declares each, signed, with reason ``store_damaged`` (protocol/gaps.py) before sending the
   events after it, and the chain goes on after the range.

A journal (``HOME/damaged/recovery.json``, written by atomic rename) says how far it got; killed
at any point, the next start does the remaining steps from the same moved files, with the same
stamp and time, and so ends in the same store.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from protocol import events
from protocol.errors import ProtocolError
from qatys.logs import log
from terminal import salvage
from terminal.keys import KEY_FILE
from terminal.store import (
    DB_FILE,
    LOCK_FILE,
    NEEDED,
    create_schema,
    is_corruption,
    mark_needed,
    set_meta,
)

__all__ = ["NEEDED", "Recovery", "RecoveryBusy", "check", "is_corruption", "mark_needed",
           "recover", "recover_if_needed"]

logger = logging.getLogger("qatys.terminal.recovery")

DAMAGED_DIR = "damaged"
JOURNAL = Path(DAMAGED_DIR) / "recovery.json"
REPORT = "recovery.json"
TAIL_MARGIN = 1000
"""When the store's head (``meta``) is not readable either, the terminal cannot know how many
events it made after the last one it read back: it declares this many more lost (at most; the
server takes off those it holds), so no new event can reuse a sequence number the server has."""
NOTICE_US = 86_400_000_000
"""The kiosk's banner says the store was recovered for a day (and as long as lost events are
not declared to the server)."""
_SUFFIXES = ("", "-wal", "-shm")


class RecoveryBusy(Exception):
    """Another process has the store open (its shared lock): it recovers the store itself
    (the kiosk, on the :data:`NEEDED` marker left for it); this one changes nothing."""


@dataclass(frozen=True)
class Lost:
    first_seq: int
    last_seq: int
    first_time_us: int
    last_time_us: int
    last_hash: bytes

    @property
    def count(self) -> int:
        return self.last_seq - self.first_seq + 1


@dataclass(frozen=True)
class Recovery:
    stamp: str
    kept: int
    """Events read back and verified."""
    lost: tuple[Lost, ...]
    head_seq: int
    problem: str

    @property
    def lost_count(self) -> int:
        return sum(r.count for r in self.lost)


def check(home: Path) -> str:
    """"ok", or why the store needs recovering (SQLite's quick check, or its error)."""
    path = home / DB_FILE
    if not path.exists():
        return "ok"
    try:
        conn = sqlite3.connect(path, isolation_level=None, timeout=30)
        try:
            return str(conn.execute("PRAGMA quick_check(1)").fetchone()[0])
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        if is_corruption(exc):
            return f"{type(exc).__name__}: {exc}"
        raise


def recover_if_needed(home: Path, terminal_id: str, now_us: int | None = None) -> Recovery | None:
    """Recover the store when a recovery was interrupted, asked for, or the quick check
    fails; None when the store is sound."""
    journal = _read_journal(home)
    if journal is not None:
        problem = str(journal.get("problem", "interrupted"))
    elif (home / NEEDED).exists():
        problem = "corruption reported while running"
        if (home / DB_FILE).exists() and check(home) == "ok":
            (home / NEEDED).unlink(missing_ok=True)
            log(logger, "store.corruption_not_confirmed", logging.WARNING)
            return None
    else:
        problem = check(home)
        if problem == "ok":
            return None
    return recover(home, terminal_id, problem, now_us)


def recover(home: Path, terminal_id: str, problem: str, now_us: int | None = None) -> Recovery:
    lock = os.open(home / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            mark_needed(home)
            raise RecoveryBusy(problem) from None
        return _recover(home, terminal_id, problem, now_us)
    finally:
        os.close(lock)


def _recover(home: Path, terminal_id: str, problem: str, now_us: int | None) -> Recovery:
    started = time.monotonic()
    journal = _read_journal(home)
    if journal is None:
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        journal = {"stamp": stamp, "stage": "move", "problem": problem,
                   "now_us": now_us if now_us is not None else time.time_ns() // 1000}
        (home / DAMAGED_DIR).mkdir(mode=0o700, exist_ok=True)
        _write_journal(home, journal)
    stamp, when = str(journal["stamp"]), int(str(journal["now_us"]))
    aside = home / DAMAGED_DIR / stamp
    log(logger, "store.damaged", logging.ERROR, problem=journal["problem"], kept_in=str(aside))
    if journal["stage"] == "move":
        aside.mkdir(mode=0o700, parents=True, exist_ok=True)
        for suffix in _SUFFIXES:
            source = home / (DB_FILE + suffix)
            if source.exists():
                os.replace(source, aside / (DB_FILE + suffix))
        _sync_dir(aside)
        _sync_dir(home)
        journal["stage"] = "build"
        _write_journal(home, journal)
    result = _build(home, aside, terminal_id, stamp, when, str(journal["problem"]))
    (home / NEEDED).unlink(missing_ok=True)
    (home / JOURNAL).unlink(missing_ok=True)
    _sync_dir(home / DAMAGED_DIR)
    log(logger, "store.recovered", logging.ERROR, kept=result.kept, lost=result.lost_count,
        ranges=[[r.first_seq, r.last_seq] for r in result.lost], head_seq=result.head_seq,
        seconds=round(time.monotonic() - started, 2))
    return result


def _build(home: Path, aside: Path, terminal_id: str, stamp: str, now_us: int,
           problem: str) -> Recovery:
    rows = list(salvage.Pages(aside / DB_FILE, aside / (DB_FILE + "-wal")).rows())
    found: dict[int, tuple[bytes, bytes, events.Event]] = {}
    meta: dict[str, bytes] = {}
    tables: dict[str, list[tuple[salvage.Value, ...]]] = {name: [] for name in _SHAPES}
    for row in rows:
        v = row.values
        if len(v) == 3 and v[0] is None and isinstance(v[1], bytes) and len(v[1]) == 32 \
                and isinstance(v[2], bytes):
            event = _verified(row.rowid, v[1], v[2], terminal_id)
            if event is not None:
                found.setdefault(row.rowid, (v[1], v[2], event))
            continue
        if len(v) == 2 and isinstance(v[0], str) and isinstance(v[1], bytes) and len(v[0]) < 64:
            meta[v[0]] = v[1]  # the newest copy is read last (the WAL after the file)
            continue
        for name, shape in _SHAPES.items():
            if len(v) == len(shape) \
                    and all(isinstance(x, t) for x, t in zip(v, shape, strict=True)):
                tables[name].append((row.rowid, *v[1:]) if v[0] is None else v)
                break
    kept: dict[int, tuple[bytes, bytes, events.Event]] = {}
    for seq in sorted(found):
        digest, raw, event = found[seq]
        before = kept.get(seq - 1)
        if before is not None and before[0] != event.prev_hash:
            continue  # does not link to the event before it: not this chain's
        kept[seq] = (digest, raw, event)
    meta_head = _int(meta.get("head_seq"))
    acked = _int(meta.get("acked_seq")) or 0
    retired = [(int(r[0]), int(r[1]), int(r[2]), int(r[3]))  # type: ignore[arg-type]
               for r in tables["retired_spans"]]
    # pruning removes only acknowledged events: a span above the acknowledged head is not one
    # (a damaged range of an earlier recovery has the same shape) and must not hide a loss
    floor = max([last for _, last, _, _ in retired if last <= acked], default=0)
    known = [acked, floor, *kept, *(r[0] for r in tables["acked_spans"] if isinstance(r[0], int)),
             *(r[2] for r in tables["day_state"] if isinstance(r[2], int))]
    top = max([meta_head or 0, *known])
    if meta_head is None:
        top += TAIL_MARGIN
    lost: list[Lost] = []
    seq = floor + 1
    while seq <= top:
        if seq in kept:
            seq += 1
            continue
        end = seq
        while end + 1 <= top and end + 1 not in kept:
            end += 1
        lost.append(_lost(seq, end, kept, retired, meta, meta_head, terminal_id, stamp, now_us,
                          _enrolled_us(home)))
        seq = end + 1
    head_hash = kept[top][0] if top in kept else lost[-1].last_hash if lost and \
        lost[-1].last_seq == top else events.GENESIS_HASH
    new = home / (DB_FILE + ".recovering")
    for suffix in _SUFFIXES:
        (home / (DB_FILE + ".recovering" + suffix)).unlink(missing_ok=True)
    conn = sqlite3.connect(new, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=DELETE")
        conn.execute("BEGIN")
        create_schema(conn)
        for key, value in meta.items():
            if key not in ("head_seq", "head_hash", "acked_seq"):
                set_meta(conn, key, value)
        conn.executemany("INSERT INTO events(seq, hash, raw) VALUES (?, ?, ?)",
                         [(s, d, r) for s, (d, r, _) in sorted(kept.items())])
        for name in _SHAPES:
            marks = ", ".join("?" * len(_COLUMNS[name]))
            for values in reversed(tables[name]):  # the newest copy (the WAL's) first
                conn.execute(f"INSERT OR IGNORE INTO {name}({', '.join(_COLUMNS[name])}) "  # noqa: S608 - fixed names
                             f"VALUES ({marks})", values[-len(_COLUMNS[name]):])
        conn.executemany("INSERT INTO damaged_ranges(first_seq, last_seq, first_time_us, "
                         "last_time_us, last_hash) VALUES (?, ?, ?, ?, ?)",
                         [(r.first_seq, r.last_seq, r.first_time_us, r.last_time_us,
                           r.last_hash) for r in lost])
        set_meta(conn, "head_seq", top)
        set_meta(conn, "head_hash", head_hash)
        set_meta(conn, "acked_seq", min(acked, top))
        set_meta(conn, "recovered_top", top)
        set_meta(conn, "store_damaged_us", now_us)
        set_meta(conn, "store_damaged", json.dumps({
            "stamp": stamp, "kept": len(kept), "lost": sum(r.count for r in lost),
            "ranges": [[r.first_seq, r.last_seq] for r in lost], "problem": problem}))
        conn.execute("COMMIT")
    finally:
        conn.close()
    with open(new, "rb+") as handle:
        os.fsync(handle.fileno())
    os.chmod(new, 0o600)
    os.replace(new, home / DB_FILE)
    _sync_dir(home)
    result = Recovery(stamp, len(kept), tuple(lost), top, problem)
    report = {"stamp": stamp, "problem": problem, "kept": len(kept), "head_seq": top,
              "lost": [[r.first_seq, r.last_seq] for r in lost]}
    _atomic_write(aside / REPORT, json.dumps(report).encode())
    return result


_SHAPES: dict[str, tuple[type, ...]] = {
    "day_state": (bytes, str, int, str, int, str),
    "acked_spans": (type(None), int),
    "retired_spans": (type(None), int, int, int, bytes),
    "face_templates": (str, bytes, int, str, bytes, int),
    "face_erasures": (str, int, str),
    "consent_outbox": (str, bytes, bytes),
}
"""The rows kept besides events and meta, by the types of their columns (a rowid alias is
stored as NULL; the roster, its unlock wraps and the face keys come again from the server)."""
_COLUMNS = {
    "day_state": ("tag", "day", "last_seq", "last_direction", "last_time_us", "receipt"),
    "acked_spans": ("last_seq", "acked_us"),
    "retired_spans": ("first_seq", "last_seq", "first_time_us", "last_time_us", "last_hash"),
    "face_templates": ("template_id", "child_tag", "consent_record", "key_id", "blob",
                       "uploaded"),
    "face_erasures": ("template_id", "erased_at_us", "reason"),
    "consent_outbox": ("request_id", "sealed", "child_tag"),
}


def _verified(seq: int, digest: bytes, raw: bytes, terminal_id: str) -> events.Event | None:
    try:
        event = events.decode_event(raw)
    except ProtocolError:
        return None
    if event.seq != seq or event.terminal_id != terminal_id or events.event_hash(raw) != digest:
        return None
    return event


def _lost(first: int, last: int, kept: dict[int, tuple[bytes, bytes, events.Event]],
          retired: list[tuple[int, int, int, int]], meta: dict[str, bytes],
          meta_head: int | None, terminal_id: str, stamp: str, now_us: int,
          enrolled_us: int) -> Lost:
    """The range as known: its last hash is the ``prev`` of the event after it, or the stored
    head's hash, or (neither readable) a fresh anchor the chain continues from; its period runs
    from the event before it (else the pruned span before it, else the enrolment) to the event
    after it (else to the time of the recovery)."""
    after = kept.get(last + 1)
    if after is not None:
        last_hash = after[2].prev_hash
    elif meta_head == last and len(meta.get("head_hash", b"")) == 32:
        last_hash = meta["head_hash"]
    else:
        last_hash = hashlib.sha256(b"qatys/v1/store-damaged\x00" + terminal_id.encode()
                                   + b"\x00" + stamp.encode() + b"\x00" + str(last).encode()
                                   ).digest()
    before = kept.get(first - 1)
    start = before[2].time_us if before is not None else max(
        [t for _, end, _, t in retired if end == first - 1], default=enrolled_us)
    end_us = after[2].time_us if after is not None else max(now_us, start)
    start = min(start, end_us)
    return Lost(first, last, start, max(end_us, start), last_hash)


def _enrolled_us(home: Path) -> int:
    """When the key file was written (enrolment): no event of this terminal is older."""
    try:
        return (home / KEY_FILE).stat().st_mtime_ns // 1000
    except OSError:
        return 0


def _int(value: bytes | None) -> int | None:
    try:
        return None if value is None else int(value)
    except ValueError:
        return None


def _read_journal(home: Path) -> dict[str, object] | None:
    try:
        data = json.loads((home / JOURNAL).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except ValueError:  # a torn journal cannot be: it is renamed into place whole
        return None
    return data if isinstance(data, dict) and "stamp" in data else None


def _write_journal(home: Path, journal: dict[str, object]) -> None:
    _atomic_write(home / JOURNAL, json.dumps(journal).encode())


def _atomic_write(path: Path, data: bytes) -> None:
    temporary = path.with_name(path.name + ".tmp")
    with open(temporary, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    _sync_dir(path.parent)


def _sync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
