"""Today's list: every child of a kindergarten (or of a teacher's groups) with their arrival
and departure, how they came, the receipt shown at the door, an absence recorded for today,
or nothing yet; counts per group; after closing time, who is still here.

Read from the events the terminals have synced (times corrected where a terminal's clock was
wrong), the roster and the absences in effect. Nothing is written here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from sqlalchemy import Connection, func, select

from protocol.events import Direction, EventKind, Method
from qatys.timeutil import LOCAL_ZONE, local_date, to_datetime
from server.domain.today import ChildState, state_today
from server.families.pickup import Who, bindings_by_serial, who
from server.money.statements import absences_in_effect, local_midnight_us, time_corrections
from server.storage import db
from server.storage.db import DEFAULT_CLOSING


@dataclass(frozen=True)
class Passage:
    """One arrival or departure at the door."""
    at_us: int
    method: str
    receipt: str | None
    note: str | None
    """A manual entry's reason."""
    phone_code: str | None = None
    """A phone's entry code: its binding serial and window (who brought or collected)."""


@dataclass
class ChildToday:
    child_id: str
    name: str
    group: str
    arrival: Passage | None = None
    departure: Passage | None = None
    absence: str | None = None
    """The reason of today's absence record, if one is in effect."""
    absence_document: bool = False
    brought_by: Who | None = None
    collected_by: Who | None = None
    """Who showed the code, or how (card, face, by hand): server/families/pickup.py."""

    @property
    def state(self) -> ChildState:
        return state_today(self.arrival.at_us if self.arrival else None,
                           self.departure.at_us if self.departure else None,
                           bool(self.absence))


@dataclass
class Today:
    kindergarten: str
    day: str
    closes_at: str
    closed: bool
    """Past closing time: the "still here" list matters now."""
    children: list[ChildToday]
    counts: dict[str, Counter[ChildState]] = field(default_factory=dict)
    manual: list[tuple[ChildToday, Passage]] = field(default_factory=list)
    last_sync_us: int | None = None

    @property
    def still_here(self) -> list[ChildToday]:
        return [c for c in self.children if c.state == ChildState.PRESENT] if self.closed else []


def today_list(conn: Connection, kindergarten: str, groups: Iterable[str] | None, now_us: int,
               closes_at: str | None = None) -> Today:
    """The list at ``now_us`` (local day, Asia/Almaty); ``groups`` narrows it (a teacher)."""
    day = local_date(now_us)
    start, end = local_midnight_us(day), local_midnight_us(day + timedelta(days=1))
    children = _children(conn, kindergarten, day.isoformat(), groups)
    by_id = {c.child_id: c for c in children}
    _add_passages(conn, kindergarten, by_id, start, end)
    _add_who(conn, children)
    for span in absences_in_effect(conn, set(by_id), day, day):
        by_id[span.child_id].absence = span.reason
        by_id[span.child_id].absence_document = bool(span.document)
    closing = closes_at or DEFAULT_CLOSING
    hour, minute = (int(part) for part in closing.split(":"))
    closed = to_datetime(now_us).astimezone(LOCAL_ZONE) >= datetime.combine(
        day, time(hour, minute), LOCAL_ZONE)
    result = Today(kindergarten, day.isoformat(), closing, closed, children,
                   last_sync_us=last_sync(conn, kindergarten))
    for child in children:
        result.counts.setdefault(child.group, Counter())[child.state] += 1
        for passage in (child.arrival, child.departure):
            if passage is not None and passage.method == Method.MANUAL:
                result.manual.append((child, passage))
    result.manual.sort(key=lambda item: item[1].at_us)
    return result


def _add_who(conn: Connection, children: list[ChildToday]) -> None:
    """Who brought and who collected each child: a phone's binding (a guardian, or a pickup
    adult by first name and relation), or the card, the face, the hand."""
    passages = [p for c in children for p in (c.arrival, c.departure) if p is not None]
    bindings = bindings_by_serial(conn, [p.phone_code or "" for p in passages])
    for child in children:
        if child.arrival is not None:
            child.brought_by = who(child.arrival.method, child.arrival.phone_code, bindings)
        if child.departure is not None:
            child.collected_by = who(child.departure.method, child.departure.phone_code,
                                     bindings)


def last_sync(conn: Connection, kindergarten: str) -> int | None:
    """When the kindergarten's terminals last brought events: the live page's signal."""
    found: int | None = conn.execute(select(func.max(db.events.c.received_at_us))
                                     .where(db.events.c.kindergarten == kindergarten)).scalar()
    return found


def _children(conn: Connection, kindergarten: str, day: str,
              groups: Iterable[str] | None) -> list[ChildToday]:
    query = (select(db.children.c.child_id, db.children.c.last_name, db.children.c.first_name,
                    db.children.c.group_name)
             .where(db.children.c.kindergarten == kindergarten)
             .where(db.children.c.enrolled_on <= day)
             .where((db.children.c.withdrawn_on.is_(None)) | (db.children.c.withdrawn_on >= day))
             .order_by(db.children.c.group_name, db.children.c.last_name,
                       db.children.c.first_name))
    if groups is not None:
        query = query.where(db.children.c.group_name.in_(sorted(groups)))
    return [ChildToday(r.child_id, f"{r.last_name} {r.first_name}", r.group_name)
            for r in conn.execute(query)]


def _add_passages(conn: Connection, kindergarten: str, by_id: dict[str, ChildToday],
                  start: int, end: int) -> None:
    """The first arrival and the last departure of each child today."""
    fixed = time_corrections(conn, kindergarten)
    rows = conn.execute(
        select(db.events.c.event_id, db.events.c.child_id, db.events.c.kind,
               db.events.c.direction, db.events.c.method, db.events.c.receipt,
               db.events.c.note, db.events.c.recorded_at_us, db.events.c.phone_code)
        .where(db.events.c.kindergarten == kindergarten)
        .where(db.events.c.kind.in_([EventKind.ARRIVAL, EventKind.DEPARTURE]))
        .where(db.events.c.body_status == db.BodyStatus.OK)
        .where(db.events.c.recorded_at_us >= start - 86_400_000_000)
        .where(db.events.c.recorded_at_us < end + 86_400_000_000))
    for r in rows:
        at = fixed.get(r.event_id, r.recorded_at_us)
        child = by_id.get(r.child_id)
        if child is None or not start <= at < end:
            continue
        passage = Passage(at, r.method, r.receipt, r.note, r.phone_code)
        if r.direction == Direction.OUT or r.kind == EventKind.DEPARTURE:
            if child.departure is None or at > child.departure.at_us:
                child.departure = passage
        elif child.arrival is None or at < child.arrival.at_us:
            child.arrival = passage
