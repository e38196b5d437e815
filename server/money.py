"""Reads what a statement needs from the database and hands it to the pure domain."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, or_, select

from qatys.timeutil import LOCAL_ZONE, from_datetime, local_date
from server import db
from server.domain.calendar import Closure, month_days
from server.domain.funding import (
    AbsenceSpan,
    ChildInput,
    Evidence,
    Presence,
    Statement,
    compute_statement,
)
from server.domain.policy import Policy

COUNTED_KINDS = ("arrival", "departure")


class MoneyInputError(ValueError):
    """A kindergarten or month the statement cannot be made for."""


def parse_month(text: str) -> tuple[int, int]:
    try:
        moment = datetime.strptime(text, "%Y-%m")
    except ValueError as exc:
        raise MoneyInputError(f"month must be YYYY-MM, not {text!r}") from exc
    return moment.year, moment.month


def statement_for(conn: Connection, kindergarten: str, year: int, month: int,
                  policy: Policy, group: str | None = None) -> Statement:
    garden = conn.execute(select(db.kindergartens)
                          .where(db.kindergartens.c.code == kindergarten)).first()
    if garden is None:
        raise MoneyInputError(f"kindergarten {kindergarten} does not exist")
    first, last = date(year, 1, 1), month_days(year, month)[-1]
    children = _children(conn, kindergarten, date(year, month, 1), last, group)
    ids = {c.child_id for c in children}
    return compute_statement(kindergarten, year, month, bool(garden.six_day),
                             _closures(conn, kindergarten, first, last), policy, children,
                             _presence(conn, kindergarten, ids, first, last),
                             _absences(conn, ids, first, last))


def _children(conn: Connection, kindergarten: str, first: date, last: date,
              group: str | None) -> list[ChildInput]:
    query = (select(db.children)
             .where(db.children.c.kindergarten == kindergarten)
             .where(db.children.c.enrolled_on <= last.isoformat())
             .where(or_(db.children.c.withdrawn_on.is_(None),
                        db.children.c.withdrawn_on > first.isoformat())))
    if group is not None:
        query = query.where(db.children.c.group_name == group)
    return [ChildInput(r.child_id, r.funding_category, date.fromisoformat(r.enrolled_on),
                       date.fromisoformat(r.withdrawn_on) if r.withdrawn_on else None)
            for r in conn.execute(query)]


def _closures(conn: Connection, kindergarten: str, first: date, last: date) -> list[Closure]:
    rows = conn.execute(select(db.closures)
                        .where(db.closures.c.kindergarten == kindergarten)
                        .where(db.closures.c.first_day <= last.isoformat())
                        .where(db.closures.c.last_day >= first.isoformat())
                        .order_by(db.closures.c.id))
    return [Closure(date.fromisoformat(r.first_day), date.fromisoformat(r.last_day), r.reason)
            for r in rows]


def _presence(conn: Connection, kindergarten: str, children: set[str], first: date,
              last: date, zone: ZoneInfo = LOCAL_ZONE) -> Presence:
    start = from_datetime(datetime.combine(first, time.min, zone))
    end = from_datetime(datetime.combine(last + timedelta(days=1), time.min, zone))
    rows = conn.execute(
        select(db.events.c.child_id, db.events.c.recorded_at_us, db.events.c.event_id,
               db.events.c.method, db.events.c.assurance)
        .where(db.events.c.kindergarten == kindergarten)
        .where(db.events.c.recorded_at_us >= start)
        .where(db.events.c.recorded_at_us < end)
        .where(db.events.c.kind.in_(COUNTED_KINDS))
        .where(db.events.c.body_status == "ok")
        .order_by(db.events.c.recorded_at_us, db.events.c.event_id))
    presence: dict[str, dict[date, list[Evidence]]] = defaultdict(lambda: defaultdict(list))
    for r in rows:
        if r.child_id in children:
            presence[r.child_id][local_date(r.recorded_at_us, zone)].append(
                Evidence(r.event_id, r.method, r.assurance))
    return {child: {day: tuple(ev) for day, ev in days.items()}
            for child, days in presence.items()}


def _absences(conn: Connection, children: set[str], first: date,
              last: date) -> list[AbsenceSpan]:
    """Records in effect: not replaced by a later record, and not cancellations."""
    rows = list(conn.execute(select(db.absences)
                             .where(db.absences.c.child_id.in_(sorted(children)))
                             .where(db.absences.c.first_day <= last.isoformat())
                             .where(db.absences.c.last_day >= first.isoformat())
                             .order_by(db.absences.c.id)))
    replaced = {r.replaces for r in rows if r.replaces is not None}
    return [AbsenceSpan(f"ABS-{r.id}", r.child_id, date.fromisoformat(r.first_day),
                        date.fromisoformat(r.last_day), r.reason, r.document)
            for r in rows
            if r.id not in replaced and r.reason != "cancelled"]
