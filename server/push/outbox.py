"""The push outbox: messages toward the phones' push services, each written once.

Arrivals and departures are enqueued by the sender's loop, in its own process, from the
events the terminals' syncs have committed (:func:`enqueue_new`: per terminal, the events
past the sequence number it last looked at, read beside the terminals' heads): outside the
ingest transaction and off the ingest path altogether, so ingest does not slow down (docs/
performance.md). The "not collected yet" message is enqueued at the kindergarten's closing
time (:func:`enqueue_closing`), a report's outcome in the director's decision's transaction
(:func:`enqueue_report_outcome`). Every row's dedup key is what it tells + the subscription:
a repeated sync, a restarted loop looking back again, or two loops make nothing twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, func, select
from sqlalchemy.dialects import postgresql, sqlite

from protocol.events import Direction, EventKind
from qatys.timeutil import LOCAL_ZONE, local_date
from server.push import messages
from server.storage import db
from server.storage.db import DEFAULT_CLOSING, PushKind, PushStatus, writing

SWEEP_SECONDS = 600
"""How far back a starting loop looks for events that have no messages yet."""


@dataclass(frozen=True)
class Target:
    subscription_id: int
    language: str
    child_id: str


def targets(conn: Connection, child_ids: Iterable[str]) -> list[Target]:
    """The live subscriptions of the guardians bound to these children."""
    wanted = sorted(set(child_ids))
    if not wanted:
        return []
    s, gc, g = db.push_subscriptions.c, db.guardian_children.c, db.guardians.c
    rows = conn.execute(
        select(s.id, s.language, gc.child_id)
        .join(db.guardian_children, db.guardian_children.c.guardian_id == s.guardian_id)
        .join(db.guardians, db.guardians.c.guardian_id == s.guardian_id)
        .where(s.dropped_at_us.is_(None)).where(gc.removed_at_us.is_(None))
        .where(g.removed_at_us.is_(None)).where(gc.child_id.in_(wanted)))
    return [Target(int(r.id), str(r.language), str(r.child_id)) for r in rows]


def _insert(conn: Connection, rows: Sequence[dict[str, Any]]) -> int:
    """Insert the rows whose dedup key is new (one statement for all); returns how many."""
    if not rows:
        return 0
    known = set(conn.execute(select(db.push_outbox.c.dedup_key).where(
        db.push_outbox.c.dedup_key.in_([r["dedup_key"] for r in rows]))).scalars())
    fresh = [r for r in rows if r["dedup_key"] not in known]
    if fresh:  # a second sender racing this one: its rows win, these are skipped
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        conn.execute(dialect.insert(db.push_outbox).on_conflict_do_nothing(
            index_elements=["dedup_key"]), fresh)
    return len(fresh)


def _row(target: Target, kind: PushKind, key: str, payload: str, now_us: int) -> dict[str, Any]:
    return {"subscription_id": target.subscription_id, "kind": kind,
            "dedup_key": f"{key}:{target.subscription_id}", "payload": payload,
            "status": PushStatus.PENDING, "attempts": 0, "created_at_us": now_us,
            "next_attempt_at_us": now_us, "last_error": ""}


def _passage_rows(conn: Connection, where: Any, now_us: int) -> list[dict[str, Any]]:
    e = db.events.c
    found = conn.execute(
        select(e.event_id, e.child_id, e.kind, e.direction, e.recorded_at_us, e.receipt,
               e.phone_code, db.children.c.first_name)
        .join(db.children, db.children.c.child_id == e.child_id)
        .where(where).where(e.body_status == db.BodyStatus.OK)
        .where(e.kind.in_([EventKind.ARRIVAL, EventKind.DEPARTURE]))).all()
    if not found:
        return []
    by_child: dict[str, list[Target]] = {}
    for target in targets(conn, (r.child_id for r in found)):
        by_child.setdefault(target.child_id, []).append(target)
    relations = _pickup_relations(conn, (r.phone_code for r in found))
    rows = []
    for event in found:
        kind = (PushKind.DEPARTURE if event.direction == Direction.OUT
                or event.kind == EventKind.DEPARTURE else PushKind.ARRIVAL)
        relation = relations.get((event.phone_code or "").split("/", 1)[0])
        for target in by_child.get(event.child_id, []):
            payload = messages.passage(target.language, kind, event.child_id,
                                       event.first_name, event.recorded_at_us, event.receipt,
                                       relation if kind == PushKind.DEPARTURE else None)
            rows.append(_row(target, kind, f"event:{event.event_id}", payload, now_us))
    return rows


def _pickup_relations(conn: Connection, phone_codes: Iterable[str | None]) -> dict[str, str]:
    """Binding serial → relation, for the pickup adults' bindings among the events' phone
    codes (``<serial>/<window>``; a guardian's own code names no relation)."""
    serials = sorted({code.split("/", 1)[0] for code in phone_codes if code})
    if not serials:
        return {}
    gc = db.guardian_children.c
    return {str(r.serial): str(r.relation) for r in conn.execute(
        select(gc.serial, gc.relation).where(gc.serial.in_(serials))
        .where(gc.kind == db.BindingKind.PICKUP))}


def enqueue_events(engine: Engine, event_ids: Sequence[str], now_us: int) -> int:
    """Messages for these stored events (one per subscribed guardian each), those not made
    yet; writes nothing when nobody is subscribed. Returns the number of new rows."""
    if not event_ids:
        return 0
    with engine.connect() as conn:
        rows = _passage_rows(conn, db.events.c.event_id.in_(list(event_ids)), now_us)
    if not rows:
        return 0
    with writing(engine) as conn:
        return _insert(conn, rows)


@dataclass
class EventCursor:
    """Per terminal, the last sequence number the loop has enqueued messages for; kept in the
    loop's memory. A terminal it has not looked at yet starts at the events received in the
    last :data:`SWEEP_SECONDS` (a restarted loop looks back that far)."""
    seqs: dict[str, int] = field(default_factory=dict)


CATCH_UP_EVENTS = 20_000
"""A terminal's first look goes back at most this many events."""


def enqueue_new(engine: Engine, cursor: EventCursor, now_us: int,
                seconds: int = SWEEP_SECONDS) -> int:
    """Messages for every event committed since the cursor (one per subscribed guardian of
    its child); returns the number of new rows. An idle pass reads the terminals' heads."""
    t, e = db.terminals.c, db.events.c
    since = now_us - seconds * 1_000_000
    rows: list[dict[str, Any]] = []
    with engine.connect() as conn:
        heads = {str(r.terminal_id): int(r.head_seq)
                 for r in conn.execute(select(t.terminal_id, t.head_seq))}
        moved = {tid: head for tid, head in heads.items() if cursor.seqs.get(tid) != head}
        if not moved:
            return 0
        subscribed = _subscribed_children(conn)
        for terminal_id, head in moved.items():
            known = cursor.seqs.get(terminal_id)
            if known is None:
                first = conn.execute(select(func.min(e.seq))
                                     .where(e.terminal_id == terminal_id)
                                     .where(e.seq > head - CATCH_UP_EVENTS)
                                     .where(e.received_at_us >= since)).scalar()
                known = head if first is None else int(first) - 1
            if subscribed and head > known:
                rows += _passage_rows(conn, (e.terminal_id == terminal_id) & (e.seq > known)
                                      & (e.seq <= head) & e.child_id.in_(sorted(subscribed)),
                                      now_us)
            cursor.seqs[terminal_id] = head
    if not rows:
        return 0
    with writing(engine) as conn:
        return _insert(conn, rows)


def _subscribed_children(conn: Connection) -> set[str]:
    s, gc = db.push_subscriptions.c, db.guardian_children.c
    return set(conn.execute(
        select(gc.child_id).distinct()
        .join(db.push_subscriptions, s.guardian_id == gc.guardian_id)
        .where(s.dropped_at_us.is_(None)).where(gc.removed_at_us.is_(None))).scalars())


def closing_moment(day: str, closes_at: str | None) -> tuple[str, int]:
    """A kindergarten's closing time on ``day``: as written ("HH:MM") and in microseconds."""
    closing = closes_at or DEFAULT_CLOSING
    hour, minute = (int(part) for part in closing.split(":"))
    moment = datetime.combine(datetime.fromisoformat(day).date(), time(hour, minute),
                              LOCAL_ZONE)
    return closing, int(moment.timestamp() * 1_000_000)


def still_here(conn: Connection, kindergarten: str, child_ids: Iterable[str],
               now_us: int) -> set[str]:
    """Which of these children arrived today and have not left since (the office's today
    list says the same: server/office/today.py, first arrival and last departure)."""
    day = local_date(now_us)
    _, start = closing_moment(day.isoformat(), "00:00")
    _, end = closing_moment((day + timedelta(days=1)).isoformat(), "00:00")
    e = db.events.c
    arrival: dict[str, int] = {}
    departure: dict[str, int] = {}
    for r in conn.execute(
            select(e.child_id, e.kind, e.direction, e.recorded_at_us)
            .where(e.kindergarten == kindergarten).where(e.child_id.in_(sorted(child_ids)))
            .where(e.kind.in_([EventKind.ARRIVAL, EventKind.DEPARTURE]))
            .where(e.body_status == db.BodyStatus.OK)
            .where(e.recorded_at_us >= start).where(e.recorded_at_us < end)):
        if r.direction == Direction.OUT or r.kind == EventKind.DEPARTURE:
            departure[r.child_id] = max(departure.get(r.child_id, 0), r.recorded_at_us)
        else:
            arrival[r.child_id] = min(arrival.get(r.child_id, r.recorded_at_us),
                                      r.recorded_at_us)
    return {child for child, at in arrival.items() if departure.get(child, -1) < at}


def enqueue_closing(engine: Engine, now_us: int) -> int:
    """Past a kindergarten's closing time (until local midnight): "not collected yet" for
    each subscribed guardian's child still there, once per child and day."""
    day = local_date(now_us).isoformat()
    rows: list[dict[str, Any]] = []
    with engine.connect() as conn:
        gardens = conn.execute(select(db.kindergartens.c.code,
                                      db.kindergartens.c.closes_at)).all()
        for garden in gardens:
            closing, at_us = closing_moment(day, garden.closes_at)
            if now_us < at_us:
                continue
            children = dict(conn.execute(
                select(db.children.c.child_id, db.children.c.first_name)
                .where(db.children.c.kindergarten == garden.code)).all())
            subscribed = targets(conn, children)
            if not subscribed:
                continue
            here = still_here(conn, garden.code, {t.child_id for t in subscribed}, now_us)
            for target in subscribed:
                if target.child_id in here:
                    payload = messages.not_collected(target.language, target.child_id,
                                                     children[target.child_id], closing)
                    rows.append(_row(target, PushKind.NOT_COLLECTED,
                                     f"closing:{target.child_id}:{day}", payload, now_us))
    if not rows:
        return 0
    with writing(engine) as conn:
        return _insert(conn, rows)


def enqueue_report_outcome(conn: Connection, report_id: int, now_us: int) -> int:
    """The director's decision on an absence report, to the child's subscribed guardians; in
    the decision's own transaction."""
    r = conn.execute(select(db.absence_reports, db.children.c.first_name)
                     .join(db.children, db.children.c.child_id == db.absence_reports.c.child_id)
                     .where(db.absence_reports.c.id == report_id)).one()
    if r.status == db.ReportStatus.PENDING:
        return 0
    kind = (PushKind.REPORT_ACCEPTED if r.status == db.ReportStatus.ACCEPTED
            else PushKind.REPORT_DECLINED)
    rows = [_row(t, kind, f"report:{report_id}:{r.status}",
                 messages.report_outcome(t.language, kind, r.child_id, r.first_name,
                                         r.first_day, r.last_day, r.decision_note or ""),
                 now_us) for t in targets(conn, [r.child_id])]
    return _insert(conn, rows)

