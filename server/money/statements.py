"""Reads what a statement needs from the database and hands it to the pure domain."""

from __future__ import annotations

import functools
import multiprocessing
import os
import re
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Row, or_, select, text

from protocol.events import EventKind
from qatys.sentences import Sentence
from qatys.timeutil import LOCAL_ZONE, from_datetime, local_date
from server.domain.anomalies import AnomalyRule, CheckinFact, Flag, all_flags
from server.domain.calendar import Closure, days_between, month_days
from server.domain.funding import (
    AbsenceSpan,
    ChildInput,
    Evidence,
    Presence,
    Statement,
    compute_statement,
    leave_days_used,
)
from server.domain.policy import Policy, load_policy
from server.errors import MoneyInputError
from server.money.outages import ledger_entries, outage_periods
from server.registry.records import AbsenceReason
from server.storage import db

COUNTED_KINDS = (EventKind.ARRIVAL, EventKind.DEPARTURE)


FIRST_YEAR, LAST_YEAR = 2000, 2099
"""The years a month may name (docs/finance.md, "Months"): well inside what the shipped
policy's calendar knows (Kazakhstan's holidays, 1991–2100), so a month, the one before it
and the next one (its confirmation window) always have a calendar."""
_MONTH = re.compile(r"([0-9]{4})-([0-9]{2})")


def _month_parts(text: object) -> tuple[int, int]:
    """(year, month) of ``YYYY-MM`` in ASCII digits, any year; else MoneyInputError."""
    found = _MONTH.fullmatch(text) if isinstance(text, str) else None
    if found is None or not 1 <= int(found[2]) <= 12:
        shown = text[:24] if isinstance(text, str) else type(text).__name__
        raise MoneyInputError(Sentence("month must be YYYY-MM, not '%(text)s'", text=shown))
    return int(found[1]), int(found[2])


def parse_month(text: object) -> tuple[int, int]:
    """The one parser of months (pages, exports, the parents' API, the commands, the job):
    ``YYYY-MM`` in ASCII digits (never full-width or other scripts' digits, never
    ``2026-1``), from :data:`FIRST_YEAR` to :data:`LAST_YEAR`; anything else, of any type,
    is a MoneyInputError (``bad_request``)."""
    year, month = _month_parts(text)
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise MoneyInputError(Sentence("month %(month)s is outside the years %(first)s to "
                                       "%(last)s", month=text, first=FIRST_YEAR,
                                       last=LAST_YEAR))
    return year, month


@functools.cache
def shipped_policy() -> Policy:
    """The policy shipped with the package: what the pages compute, approve and open windows
    by (docs/finance.md); a file given with --policy is for the command line."""
    return load_policy(None)


def shift_month(month: str, by: int) -> str:
    """The month ``by`` months after (or before) ``month``, both YYYY-MM."""
    year, number = _month_parts(month)
    index = year * 12 + number - 1 + by
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def next_month_start(month: str) -> date:
    """The first day of the month after ``month`` (YYYY-MM)."""
    return date.fromisoformat(f"{shift_month(month, 1)}-01")


def _garden(conn: Connection, kindergarten: str) -> Row[Any]:
    garden = conn.execute(select(db.kindergartens)
                          .where(db.kindergartens.c.code == kindergarten)).first()
    if garden is None:
        raise MoneyInputError(Sentence("kindergarten %(kindergarten)s does not exist",
                                       kindergarten=kindergarten))
    return garden


def local_midnight_us(day: date, zone: ZoneInfo = LOCAL_ZONE) -> int:
    """The start of a local day, as the microseconds events are stored in."""
    return from_datetime(datetime.combine(day, time.min, zone))


def statement_for(conn: Connection, kindergarten: str, year: int, month: int,
                  policy: Policy, group: str | None = None,
                  presence: PresenceReader | None = None) -> Statement:
    """One kindergarten's statement; ``presence`` is how the check-ins are read (by default
    :func:`presence_for`: SQL on PostgreSQL, the Python reference elsewhere)."""
    garden = _garden(conn, kindergarten)
    first, last = date(year, 1, 1), month_days(year, month)[-1]
    children = _children(conn, kindergarten, date(year, month, 1), last, group)
    ids = {c.child_id for c in children}
    return compute_statement(kindergarten, year, month, bool(garden.six_day),
                             _closures(conn, kindergarten, first, last), policy, children,
                             (presence or presence_for)(conn, kindergarten, ids, first, last),
                             absences_in_effect(conn, ids, first, last))


def leave_used(conn: Connection, kindergarten: str, year: int, month: int, policy: Policy,
               group: str | None = None) -> dict[str, int]:
    """Each child's paid leave days from 1 January to the end of ``month``, as the
    statements count them (of the policy's yearly cap)."""
    garden = _garden(conn, kindergarten)
    first, last = date(year, 1, 1), month_days(year, month)[-1]
    children = _children(conn, kindergarten, first, last, group)
    ids = {c.child_id for c in children}
    return leave_days_used(year, month, bool(garden.six_day),
                           _closures(conn, kindergarten, first, last), policy, children,
                           presence_for(conn, kindergarten, ids, first, last),
                           absences_in_effect(conn, ids, first, last))


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
                       date.fromisoformat(r.withdrawn_on) if r.withdrawn_on else None,
                       r.group_name)
            for r in conn.execute(query)]


def _closures(conn: Connection, kindergarten: str, first: date, last: date) -> list[Closure]:
    """The kindergarten's closures over the days, its groups' too (each closes its own
    children's days only), in the order they were recorded."""
    rows = conn.execute(select(db.closures)
                        .where(db.closures.c.kindergarten == kindergarten)
                        .where(db.closures.c.first_day <= last.isoformat())
                        .where(db.closures.c.last_day >= first.isoformat())
                        .order_by(db.closures.c.id))
    return [Closure(date.fromisoformat(r.first_day), date.fromisoformat(r.last_day), r.reason,
                    r.group_name or None)
            for r in rows]


PresenceReader = Callable[[Connection, str, set[str], date, date], Presence]
"""(conn, kindergarten, children, first day, last day) → each child's counted check-ins
per local day: :func:`presence_python` or :func:`presence_sql`, same result."""


def presence_for(conn: Connection, kindergarten: str, children: set[str], first: date,
                 last: date) -> Presence:
    """The days' presence as the statements read it: :func:`presence_sql` on PostgreSQL,
    :func:`presence_python` (the reference) on SQLite."""
    reader = presence_sql if conn.dialect.name == "postgresql" else presence_python
    return reader(conn, kindergarten, children, first, last)


def _local_midnights(first: date, last: date, zone: ZoneInfo) -> tuple[list[date], list[int]]:
    """Each day from ``first`` to the day after ``last`` and its local midnight (µs), by
    Python's zone rules: once per day, since the rules change over the years (Asia/Almaty
    moved from UTC+6 to UTC+5 on 1 March 2024)."""
    days = [first + timedelta(days=i) for i in range((last - first).days + 2)]
    return days, [local_midnight_us(day, zone) for day in days]


def presence_python(conn: Connection, kindergarten: str, children: set[str], first: date,
                    last: date, zone: ZoneInfo = LOCAL_ZONE) -> Presence:
    """The reference: every counted event row of the days into Python, bucketed there."""
    # Local midnights once per day, then each event falls between two of them: cheaper
    # than converting a million timestamps.
    days, midnights = _local_midnights(first, last, zone)
    counted = (select(db.events.c.child_id, db.events.c.recorded_at_us, db.events.c.event_id,
                      db.events.c.method, db.events.c.assurance)
               .where(db.events.c.kindergarten == kindergarten)
               .where(db.events.c.kind.in_(COUNTED_KINDS))
               .where(db.events.c.body_status == db.BodyStatus.OK))
    rows = conn.execute(counted.where(db.events.c.recorded_at_us >= midnights[0])
                        .where(db.events.c.recorded_at_us < midnights[-1])).all()
    corrected = time_corrections(conn, kindergarten)
    moved_in = [event_id for event_id, at_us in corrected.items()
                if midnights[0] <= at_us < midnights[-1]]
    if moved_in:  # recorded under a wrong clock outside the range, corrected into it
        rows = [*rows, *conn.execute(counted.where(db.events.c.event_id.in_(moved_in))
                                     .where(or_(db.events.c.recorded_at_us < midnights[0],
                                                db.events.c.recorded_at_us >= midnights[-1])))]
    presence: dict[str, dict[date, list[Evidence]]] = defaultdict(lambda: defaultdict(list))
    for child_id, recorded_at_us, event_id, method, assurance in rows:
        at_us = corrected.get(event_id, recorded_at_us)
        if child_id in children and midnights[0] <= at_us < midnights[-1]:
            day = days[bisect_right(midnights, at_us) - 1]
            presence[child_id][day].append(Evidence(event_id, method, assurance))
    return {child: {day: tuple(sorted(ev, key=lambda e: e.event_id))  # a stable order
                    for day, ev in found.items()}
            for child, found in presence.items()}


_PRESENCE_SQL = text("""
WITH counted AS (
    SELECT e.child_id, e.event_id, e.method, e.assurance,
           COALESCE(c.corrected_at_us, e.recorded_at_us) AS at_us
    FROM events AS e
    LEFT JOIN event_time_corrections AS c
           ON c.event_id = e.event_id AND c.kindergarten = :kindergarten
    WHERE e.kindergarten = :kindergarten AND e.kind IN (:arrival, :departure)
      AND e.body_status = :ok
      AND e.recorded_at_us >= :start AND e.recorded_at_us < :end
  UNION ALL
    SELECT e.child_id, e.event_id, e.method, e.assurance, c.corrected_at_us
    FROM event_time_corrections AS c
    JOIN events AS e ON e.event_id = c.event_id
    WHERE c.kindergarten = :kindergarten
      AND c.corrected_at_us >= :start AND c.corrected_at_us < :end
      AND e.kindergarten = :kindergarten AND e.kind IN (:arrival, :departure)
      AND e.body_status = :ok
      AND (e.recorded_at_us < :start OR e.recorded_at_us >= :end)
)
SELECT child_id, width_bucket(at_us, CAST(:midnights AS bigint[])) AS day,
       array_agg(event_id) AS ids, array_agg(method) AS methods,
       array_agg(assurance) AS assurances
FROM counted
WHERE at_us >= :start AND at_us < :end
GROUP BY child_id, day
""")
"""A kindergarten's presence, built in PostgreSQL: its counted events of the days (time
corrections override the recorded time; events recorded outside the days but corrected into
them come in), each put in its local day by ``width_bucket`` over the local midnights Python
computed (so the day is the reference's bisect exactly, whatever zone data PostgreSQL has),
one row per child and day. The three arrays of a row come from one aggregation over the same
rows, so they line up; their order is put right in Python (by event id, as the reference
sorts). The roster filter is Python's too: ``child_id = ANY(:children)`` with a bound array is
checked element by element on every row and cost more than the rest of the query (measured,
docs/performance.md)."""


def presence_sql(conn: Connection, kindergarten: str, children: set[str], first: date,
                 last: date, zone: ZoneInfo = LOCAL_ZONE) -> Presence:
    """As :func:`presence_python`, computed by one query on PostgreSQL: rows per child and
    day instead of per event, no correction table in Python (docs/finance.md)."""
    days, midnights = _local_midnights(first, last, zone)
    rows = conn.execute(_PRESENCE_SQL, {
        "kindergarten": kindergarten, "arrival": EventKind.ARRIVAL.value,
        "departure": EventKind.DEPARTURE.value, "ok": db.BodyStatus.OK.value,
        "start": midnights[0], "end": midnights[-1], "midnights": midnights})
    presence: dict[str, dict[date, tuple[Evidence, ...]]] = defaultdict(dict)
    for child_id, bucket, ids, methods, assurances in rows:
        if child_id in children:
            presence[child_id][days[bucket - 1]] = tuple(sorted(
                map(Evidence, ids, methods, assurances), key=lambda e: e.event_id))
    return dict(presence)


def time_corrections(conn: Connection, kindergarten: str) -> dict[str, int]:
    """event id → corrected time, for events recorded under a wrong clock (a new record;
    the event keeps its own time): server/sync/clock_corrections.py."""
    return dict(conn.execute(
        select(db.event_time_corrections.c.event_id,
               db.event_time_corrections.c.corrected_at_us)
        .where(db.event_time_corrections.c.kindergarten == kindergarten)).all())


def absences_in_effect(conn: Connection, children: set[str], first: date,
                       last: date) -> list[AbsenceSpan]:
    """Records in effect: not replaced by a later record, and not cancellations."""
    rows = list(conn.execute(select(db.absences)
                             .where(db.absences.c.child_id.in_(sorted(children)))
                             .where(db.absences.c.first_day <= last.isoformat())
                             .where(db.absences.c.last_day >= first.isoformat())
                             .order_by(db.absences.c.id)))
    replaced = {r.replaces for r in rows if r.replaces is not None}
    return [AbsenceSpan(f"ABS-{r.id}", r.child_id, date.fromisoformat(r.first_day),
                        date.fromisoformat(r.last_day), r.reason, r.document, r.document_id)
            for r in rows
            if r.id not in replaced and r.reason != AbsenceReason.CANCELLED]


def _worker_statements(database_url: str, codes: Sequence[str], year: int, month: int,
                       policy_text: str | None) -> list[tuple[str, bytes]]:
    """One worker process's share: its own engine, its kindergartens' statements as bytes."""
    engine = db.make_engine(database_url)
    policy = load_policy(policy_text)
    try:
        with engine.connect() as conn:
            return [(code, statement_for(conn, code, year, month, policy).to_json())
                    for code in codes]
    finally:
        engine.dispose()


def all_statements(database_url: str, codes: Sequence[str], year: int, month: int,
                   policy_text: str | None = None,
                   workers: int | None = None) -> Iterator[tuple[str, bytes]]:
    """Every kindergarten's statement (JSON bytes), computed by one process per core: the
    month-end run for a region. Yields in the order of ``codes``."""
    workers = max(1, min(workers or os.cpu_count() or 1, len(codes)))
    if workers == 1:
        yield from _worker_statements(database_url, codes, year, month, policy_text)
        return
    shares = [list(codes[i::workers]) for i in range(workers)]
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = [pool.submit(_worker_statements, database_url, share, year, month,
                               policy_text) for share in shares]
        done = dict(item for future in futures for item in future.result())
    for code in codes:
        yield code, done[code]


def anomaly_flags(conn: Connection, kindergarten: str, year: int, month: int) -> list[Flag]:
    """The month's flags for one kindergarten; its children's check-ins elsewhere count too
    (a child present at two kindergartens the same day)."""
    _garden(conn, kindergarten)
    first, last = date(year, month, 1), month_days(year, month)[-1]
    start, end = local_midnight_us(first), local_midnight_us(last + timedelta(days=1))
    children = list(conn.execute(select(db.children.c.child_id)
                                 .where(db.children.c.kindergarten == kindergarten)).scalars())
    counted = (select(db.events.c.event_id, db.events.c.terminal_id, db.events.c.kindergarten,
                      db.events.c.child_id, db.events.c.method, db.events.c.recorded_at_us,
                      db.events.c.boot_id, db.events.c.mono_ns, db.events.c.phone_code)
               .where(db.events.c.recorded_at_us >= start)
               .where(db.events.c.recorded_at_us < end)
               .where(db.events.c.kind.in_(COUNTED_KINDS))
               .where(db.events.c.body_status == db.BodyStatus.OK))
    # Two queries, each on its own index (kindergarten + time, child + time): an OR of the
    # two, or a sub-select of the children, reads far more of the table.
    rows = [*conn.execute(counted.where(db.events.c.kindergarten == kindergarten)),
            *conn.execute(counted.where(db.events.c.kindergarten != kindergarten)
                          .where(db.events.c.child_id.in_(children)))]
    facts = [CheckinFact(event_id, terminal, garden_code, child, method, at_us,
                         local_date(at_us), bytes(boot), mono, code or "")
             for event_id, terminal, garden_code, child, method, at_us, boot, mono, code
             in rows]
    # a day closed for one group only is still a day the door opens for the others
    closed = {day for c in _closures(conn, kindergarten, first, last) if c.group is None
              for day in days_between(max(c.first, first), min(c.last, last))}
    outages = outage_periods(ledger_entries(conn, kindergarten, start, end))
    flags = all_flags(facts, closed, outages)
    return [f for f in flags if f.kindergarten == kindergarten] + _corrected_clock_flags(
        conn, kindergarten, start, end)


def _corrected_clock_flags(conn: Connection, kindergarten: str, start: int,
                           end: int) -> list[Flag]:
    """One flag per terminal and day with check-ins whose times were corrected."""
    rows = conn.execute(
        select(db.events.c.terminal_id, db.event_time_corrections.c.event_id,
               db.event_time_corrections.c.corrected_at_us,
               db.event_time_corrections.c.offset_us)
        .join(db.events, db.events.c.event_id == db.event_time_corrections.c.event_id)
        .where(db.event_time_corrections.c.kindergarten == kindergarten)
        .where(db.event_time_corrections.c.corrected_at_us >= start)
        .where(db.event_time_corrections.c.corrected_at_us < end)
        .order_by(db.event_time_corrections.c.corrected_at_us)).all()
    groups: dict[tuple[str, date], list[tuple[str, int]]] = defaultdict(list)
    for terminal_id, event_id, at_us, offset_us in rows:
        groups[(terminal_id, local_date(at_us))].append((event_id, offset_us))
    flags = []
    for (terminal, day), items in sorted(groups.items()):
        days = f"{items[0][1] / 86_400_000_000:+.1f}"
        flags.append(Flag(AnomalyRule.CLOCK_CORRECTED, kindergarten, day,
                          f"terminal {terminal}: {len(items)} events recorded with its clock "
                          f"{days} days off; their times were corrected",
                          tuple(event_id for event_id, _ in items),
                          {"terminal": terminal, "events": len(items), "days": days}))
    return flags
