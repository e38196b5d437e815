"""Batch ingest: verify, store atomically and acknowledge — exactly once in effect.

Everything expensive (parsing, signature, chain, opening sealed bodies)
happens before the write transaction; inside it the terminal's stored head is
compared with the batch, new events are inserted with the new head in one
commit, and only then is an acknowledgement signed. A repeated batch finds its
events already stored and gets the same answer; a conflicting one is kept as
evidence of equivocation and refused.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, Row, select

from protocol import acks, batches, crypto, events
from protocol.errors import ChainError, ProtocolError, SealError, SignatureError, VersionError
from qatys.logs import log
from qatys.sentences import Sentence
from server.errors import SyncError
from server.keys import ServerKeys
from server.storage import db
from server.sync.lost_ranges import sequence_gap

logger = logging.getLogger("qatys.server.sync.ingest")

_SEAL_CACHE_LIMIT = 4096
_ENROLLED_CACHE_LIMIT = 50_000
"""Terminals whose rows a process keeps (a country has about 20,000)."""


@dataclass(frozen=True)
class IngestResult:
    ack: acks.Ack
    ack_raw: bytes
    signature: bytes


class Ingestor:
    """Turns request bodies into stored events; one per process, shared by its threads."""

    def __init__(self, engine: Engine, keys: ServerKeys, clock: Callable[[], int]) -> None:
        self._engine = engine
        self._keys = keys
        self._clock = clock
        self._seal_cache: crypto.OpenCache = {}
        self._cache_lock = threading.Lock()
        self._enrolled: dict[str, Row[Any]] = {}

    def ingest(self, body: bytes) -> IngestResult:
        batch = _parse(body)
        batch_hash = crypto.sha256(body)
        terminal = self._terminal(batch.terminal_id)
        _check_terminal(terminal, batch)
        verified = _verify(batch, terminal.sign_pub)
        now = self._clock()
        rows = [self._row(v, terminal.kindergarten, batch_hash, now) for v in verified]
        try:
            head_seq, head_hash, stored = self._store(batch, batch_hash, verified, rows, now)
        except _Equivocation as eq:
            self._keep_evidence(eq, body, now)
            raise _refuse("equivocation",
                          Sentence("event %(event_id)s differs from the one already stored; both "
                                   "are kept as evidence",
                                   event_id=events.event_id(batch.terminal_id, eq.seq)),
                          batch.terminal_id) from None
        ack = acks.Ack(batch.terminal_id, head_seq, head_hash, stored, self._clock())
        ack_raw, signature = acks.sign_ack(ack, self._keys.sign_seed)
        log(logger, "batch.stored", terminal=batch.terminal_id, first_seq=verified[0].event.seq,
            last_seq=verified[-1].event.seq, new=stored, head=head_seq)
        return IngestResult(ack, ack_raw, signature)

    def _store(self, batch: batches.Batch, batch_hash: bytes,
               verified: list[batches.VerifiedEvent], rows: list[tuple[Any, ...]],
               now: int) -> tuple[int, bytes, int]:
        """One transaction: compare with the stored head, insert what is new, move the head."""
        with db.writing(self._engine) as conn:
            locked = conn.execute(
                select(db.terminals).where(db.terminals.c.terminal_id == batch.terminal_id)
                .with_for_update()
            ).one()
            _check_terminal(locked, batch)
            new_rows = _new_rows(conn, locked, verified, rows)
            if new_rows:
                _insert_events(conn, new_rows)
                conn.execute(db.batches.insert().values(
                    batch_hash=batch_hash, terminal_id=batch.terminal_id,
                    first_seq=verified[0].event.seq, last_seq=verified[-1].event.seq,
                    signature=batch.signature, received_at_us=now, new_events=len(new_rows)))
                conn.execute(db.terminals.update()
                             .where(db.terminals.c.terminal_id == batch.terminal_id)
                             .values(head_seq=verified[-1].event.seq,
                                     head_hash=verified[-1].hash, last_contact_us=now))
                return verified[-1].event.seq, verified[-1].hash, len(new_rows)
            return int(locked.head_seq), bytes(locked.head_hash), 0

    def _keep_evidence(self, eq: _Equivocation, body: bytes, now: int) -> None:
        with db.writing(self._engine) as conn:
            conn.execute(db.equivocations.insert().values(
                terminal_id=eq.terminal_id, seq=eq.seq, stored_hash=eq.stored_hash,
                offered_hash=eq.offered_hash, batch_raw=body, received_at_us=now))

    def _terminal(self, terminal_id: str) -> Row[Any]:
        """The terminal's row, for its key and kindergarten before the write transaction.

        Kept per process once read while the terminal is not revoked: its key and
        kindergarten never change, and revocation is checked again on the row locked inside
        the transaction (``_store``), so a cached row never lets a revoked terminal's batch
        in. It spares a query per request (``python -m bench scale``: a one-event batch's
        request is mostly such fixed costs)."""
        known = self._enrolled.get(terminal_id)
        if known is not None:
            return known
        with self._engine.connect() as conn:
            row = conn.execute(
                select(db.terminals).where(db.terminals.c.terminal_id == terminal_id)).first()
        if row is None:
            raise _refuse("unknown_terminal", Sentence("terminal %(terminal_id)s is not enrolled",
                                                       terminal_id=terminal_id),
                          terminal_id)
        if row.revoked_at_us is None:
            if len(self._enrolled) >= _ENROLLED_CACHE_LIMIT:
                self._enrolled.clear()
            self._enrolled[terminal_id] = row
        return row

    def _row(self, v: batches.VerifiedEvent, kindergarten: str, batch_hash: bytes,
             now: int) -> tuple[Any, ...]:
        """One events row, its values in the order of :data:`_EVENT_COLUMNS`."""
        ev = v.event
        try:
            body = events.open_body(ev.body, ev.terminal_id, self._keys.box_private,
                                    self._cache())
            child_id: str | None = body.child_id
            receipt: str | None = body.receipt or None
            code: str | None = body.code or None
            note: str | None = None
            status = db.BodyStatus.OK
            if ev.kind == events.EventKind.SYSTEM:  # the terminal's outage ledger: about no child
                child_id, note = None, body.reason[:200]
            elif ev.method == events.Method.MANUAL:  # the staff's reason, for the director
                note = body.reason[:200] or None
        except (SealError, ProtocolError):
            child_id, receipt, code, note = None, None, None, None
            status = db.BodyStatus.UNREADABLE
            log(logger, "event.body_unreadable", logging.WARNING, event_id=ev.event_id)
        return (ev.event_id, ev.terminal_id, ev.seq, kindergarten, v.hash, v.raw, ev.kind,
                ev.method, ev.assurance, child_id, ev.direction, status, ev.time_us,
                ev.boot_id, ev.mono_ns, now, batch_hash, receipt, note, code)

    def _cache(self) -> crypto.OpenCache:
        with self._cache_lock:
            if len(self._seal_cache) > _SEAL_CACHE_LIMIT:
                self._seal_cache.clear()
        return self._seal_cache


def _parse(body: bytes) -> batches.Batch:
    try:
        return batches.parse_batch(body)
    except VersionError as exc:
        raise _refuse(exc.code, Sentence("the batch is refused: %(problem)s",
                                         problem=exc.message)) from exc
    except ProtocolError as exc:
        raise _refuse("malformed", Sentence("not a valid batch: %(message)s",
                                            message=exc.message)) from exc


def _check_terminal(terminal: Row[Any], batch: batches.Batch) -> None:
    if terminal.revoked_at_us is not None:
        raise _refuse("terminal_revoked",
                      Sentence("terminal %(terminal_id)s was revoked; its batches are refused",
                               terminal_id=terminal.terminal_id),
                      terminal.terminal_id)
    if terminal.kindergarten != batch.kindergarten:
        raise _refuse("wrong_kindergarten",
                      Sentence("terminal %(terminal_id)s is not enrolled in kindergarten "
                               "%(kindergarten)s", terminal_id=terminal.terminal_id,
                               kindergarten=batch.kindergarten), terminal.terminal_id)


def _verify(batch: batches.Batch, public_key: bytes) -> list[batches.VerifiedEvent]:
    try:
        return batches.verify_batch(batch, public_key)
    except SignatureError as exc:
        raise _refuse("bad_signature",
                      Sentence("the batch signature does not verify under this terminal's key"),
                      batch.terminal_id) from exc
    except (ChainError, VersionError) as exc:
        raise _refuse(exc.code, Sentence("the batch is refused: %(problem)s",
                                         problem=exc.message), batch.terminal_id) from exc
    except ProtocolError as exc:
        raise _refuse("malformed", Sentence("an event is not valid: %(message)s",
                                            message=exc.message),
                      batch.terminal_id) from exc


_EVENT_COLUMNS = ("event_id", "terminal_id", "seq", "kindergarten", "hash", "raw", "kind",
                  "method", "assurance", "child_id", "direction", "body_status", "recorded_at_us",
                  "boot_id", "mono_ns", "received_at_us", "batch_hash", "receipt", "note",
                  "phone_code")
"""The events columns in the order :meth:`Ingestor._row` fills them."""
if set(_EVENT_COLUMNS) != {c.name for c in db.events.columns}:  # pragma: no cover
    raise RuntimeError("ingest rows and the events table disagree")


def _insert_events(conn: Any, rows: list[tuple[Any, ...]]) -> None:
    """The hot path of ingest, without per-row SQL compilation: PostgreSQL takes the batch
    by COPY, SQLite by one driver-level executemany."""
    if conn.dialect.name == "postgresql":
        _copy_events(conn, rows)
        return
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    sql = (f"INSERT INTO {db.events.name} ({', '.join(_EVENT_COLUMNS)}) "  # noqa: S608
           f"VALUES ({', '.join([mark] * len(_EVENT_COLUMNS))})")
    conn.exec_driver_sql(sql, rows)


def _copy_events(conn: Any, rows: list[tuple[Any, ...]]) -> None:
    """One COPY of the batch's rows in the caller's transaction. psycopg's pipelined
    executemany costs the node about 12 µs of CPU per row in Python (ingest in one process:
    55 µs per event with it, 43 with COPY) and makes PostgreSQL run 500 statements; COPY
    writes each row in psycopg's C code as one command (``python -m bench scale`` gives the
    two side by side)."""
    sql = f"COPY {db.events.name} ({', '.join(_EVENT_COLUMNS)}) FROM STDIN"
    with conn.connection.dbapi_connection.cursor() as cursor, cursor.copy(sql) as copy:
        for row in rows:
            copy.write_row(row)


class _Equivocation(Exception):
    def __init__(self, terminal_id: str, seq: int, stored_hash: bytes, offered_hash: bytes):
        super().__init__(terminal_id, seq)
        self.terminal_id, self.seq = terminal_id, seq
        self.stored_hash, self.offered_hash = stored_hash, offered_hash


def _new_rows(conn: Any, terminal: Row[Any], verified: list[batches.VerifiedEvent],
              rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """The rows not yet stored, after checking the rest match what is stored."""
    head = terminal.head_seq
    first, last = verified[0].event.seq, verified[-1].event.seq
    if first <= head:
        stored = dict(conn.execute(
            select(db.events.c.seq, db.events.c.hash)
            .where(db.events.c.terminal_id == terminal.terminal_id)
            .where(db.events.c.seq.between(first, min(last, head)))
        ).all())
        for v in verified:
            if v.event.seq > head:
                break
            if stored.get(v.event.seq) != v.hash:
                raise _Equivocation(terminal.terminal_id, v.event.seq,
                                    bytes(stored.get(v.event.seq, bytes(32))), v.hash)
    fresh = [(v, r) for v, r in zip(verified, rows, strict=True) if v.event.seq > head]
    if not fresh:
        return []
    first_new = fresh[0][0]
    if first_new.event.seq != head + 1:
        gap = sequence_gap(terminal.terminal_id, int(head), bytes(terminal.head_hash))
        raise _refuse(gap.code, gap.sentence, terminal.terminal_id, **gap.details)
    try:
        batches.check_link(first_new.event, terminal.head_hash)
    except ChainError as exc:
        raise _refuse("broken_chain", Sentence("the batch does not continue the terminal's chain: "
                                               "%(problem)s", problem=exc.message),
                      terminal.terminal_id) from exc
    return [r for _, r in fresh]


def _refuse(code: str, message: Sentence, terminal_id: str | None = None,
            **details: object) -> SyncError:
    log(logger, "batch.refused", logging.WARNING, code=code, terminal=terminal_id,
        detail=str(message))
    return SyncError(code, message, **details)
