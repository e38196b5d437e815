"""Lost ranges: a terminal's signed declaration (protocol/gaps.py) that events of its chain are
gone — the server's head was behind what it had acknowledged and the terminal had pruned them —
stored as a record, after which the server takes the chain continuing after the range.

Nothing already stored is touched: a declaration must start right after the server's head
(else ``sequence_gap``, naming the head), so it can never cover an event the server holds; the
same declaration sent again is answered as the first time. Statements are not changed by it:
the range is shown beside them (and on the fleet page) for the days it covers.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Row, and_, select

from protocol import gaps
from protocol.errors import ProtocolError, SignatureError
from qatys.logs import log
from qatys.sentences import Sentence
from server.errors import SyncError
from server.storage import db

logger = logging.getLogger("qatys.server.sync.lost_ranges")


@dataclass(frozen=True)
class Head:
    seq: int
    hash: bytes


def sequence_gap(terminal_id: str, head_seq: int, head_hash: bytes) -> SyncError:
    """The refusal of anything that does not start right after the server's head; it names the
    head (seq and hash), so the terminal can check it and send again from there."""
    return SyncError("sequence_gap",
                     Sentence("the server holds events up to %(head)s; send from %(next)s",
                              head=head_seq, next=head_seq + 1),
                     expected_seq=head_seq + 1, head_seq=head_seq, head_hash=head_hash.hex())


def declare(conn: Connection, terminal: Row[Any], raw: bytes, signature: bytes,
            now_us: int) -> tuple[gaps.ChainGap, Head]:
    """Record the declaration (in the caller's write transaction) and move the head past it;
    returns the declaration and the new head."""
    try:
        gap = gaps.verify_gap(raw, signature, terminal.sign_pub)
    except SignatureError as exc:
        raise SyncError("bad_signature", Sentence(
            "the chain gap declaration does not verify under this terminal's key")) from exc
    except ProtocolError as exc:
        raise SyncError("malformed", Sentence("not a valid chain gap declaration: %(problem)s",
                                              problem=exc.message)) from exc
    if gap.terminal_id != terminal.terminal_id:
        raise SyncError("terminal_mismatch", Sentence(
            "the declaration is for terminal %(theirs)s, not %(ours)s",
            theirs=gap.terminal_id, ours=terminal.terminal_id))
    if gap.kindergarten != terminal.kindergarten:
        raise SyncError("wrong_kindergarten", Sentence(
            "terminal %(terminal_id)s is not enrolled in kindergarten %(kindergarten)s",
            terminal_id=terminal.terminal_id, kindergarten=gap.kindergarten))
    locked = conn.execute(select(db.terminals)
                          .where(db.terminals.c.terminal_id == terminal.terminal_id)
                          .with_for_update()).one()
    known = conn.execute(select(db.lost_ranges.c.declaration).where(and_(
        db.lost_ranges.c.terminal_id == terminal.terminal_id,
        db.lost_ranges.c.first_seq == gap.first_seq))).scalar()
    if known is not None and bytes(known) == raw and locked.head_seq >= gap.last_seq:
        return gap, Head(int(locked.head_seq), bytes(locked.head_hash))  # sent again
    if gap.first_seq != locked.head_seq + 1 or known is not None:
        raise sequence_gap(terminal.terminal_id, int(locked.head_seq), bytes(locked.head_hash))
    conn.execute(db.lost_ranges.insert().values(
        terminal_id=gap.terminal_id, kindergarten=gap.kindergarten, first_seq=gap.first_seq,
        last_seq=gap.last_seq, first_time_us=gap.first_time_us, last_time_us=gap.last_time_us,
        last_hash=gap.last_hash, reason=str(gap.reason), declared_us=gap.declared_us,
        received_at_us=now_us, declaration=raw, signature=signature))
    conn.execute(db.terminals.update().where(db.terminals.c.terminal_id == gap.terminal_id)
                 .values(head_seq=gap.last_seq, head_hash=gap.last_hash, last_contact_us=now_us))
    log(logger, "sync.range_lost", logging.WARNING, terminal=gap.terminal_id,
        first_seq=gap.first_seq, last_seq=gap.last_seq, events=gap.count, reason=gap.reason)
    return gap, Head(gap.last_seq, gap.last_hash)


def for_kindergarten(conn: Connection, kindergarten: str, start_us: int,
                     end_us: int) -> list[Row[Any]]:
    """The lost ranges of a kindergarten's terminals whose period meets [start, end)."""
    return list(conn.execute(
        select(db.lost_ranges).where(and_(
            db.lost_ranges.c.kindergarten == kindergarten,
            db.lost_ranges.c.first_time_us < end_us,
            db.lost_ranges.c.last_time_us >= start_us))
        .order_by(db.lost_ranges.c.first_time_us, db.lost_ranges.c.terminal_id)))


def by_terminal(conn: Connection) -> dict[str, list[Row[Any]]]:
    """Every lost range, per terminal (fleet page)."""
    found: dict[str, list[Row[Any]]] = {}
    for row in conn.execute(select(db.lost_ranges).order_by(db.lost_ranges.c.terminal_id,
                                                            db.lost_ranges.c.first_seq)):
        found.setdefault(row.terminal_id, []).append(row)
    return found
