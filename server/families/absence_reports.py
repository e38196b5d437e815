"""Absences a guardian reports from the phone (docs/parents.md, "Reporting an absence"): the
days, the reason, a note and, where there is one, the certificate's photo (sealed as the
office's documents are: server/office/report_api.py stores it). The kindergarten's director
accepts a pending report — it becomes an absence record with the guardian as its source
(``recorded_by`` = ``guardian:<id>``) and the photo as its document — or declines it with a
note the guardian sees.

Refused, with nothing written: a last day before the first; a first day more than the
policy's ``[parents] report_past_working_days`` working days before today; a last day more
than :data:`DAYS_AHEAD` days after today; more than a year; a reason that is no absence
reason; a note over 500 characters; a file that is not a JPEG, PNG or PDF by its content, or
over 10 MB; a child the guardian is not bound to (404, as for a child that does not exist).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Connection, Row, select

from qatys.sentences import Sentence
from qatys.timeutil import local_date
from server.domain.calendar import DayKind, day_kind
from server.domain.policy import Policy
from server.errors import FamiliesError, OfficeError, RequestError
from server.families.guardians import is_guardian_of
from server.registry.records import ABSENCE_REASONS, MAX_SPAN_DAYS, AbsenceReason, add_absence
from server.staff.accounts import User
from server.staff.audit import Action, record
from server.storage import db
from server.storage.db import ReportStatus

DAYS_AHEAD = 30
"""A report may reach this many days past today (an illness "from tomorrow", a planned
stay): its last day at most today + 30."""
MAX_NOTE = 500
SOURCE_PREFIX = "guardian:"
"""``absences.recorded_by`` of a record a guardian's report became."""


@dataclass(frozen=True)
class Report:
    id: int
    child_id: str
    child_name: str
    group: str
    guardian_id: str
    first: date
    last: date
    reason: str
    note: str
    document_id: int | None
    status: ReportStatus
    reported_at_us: int
    decided_by: str | None
    decided_at_us: int | None
    decision_note: str | None
    absence_id: int | None


def earliest_day(today: date, policy: Policy, six_day: bool = False) -> date:
    """The first day a report made ``today`` may begin on: the policy's number of working
    days back (weekends and holidays between them are days it may cover)."""
    day, counted = today, 0
    while counted < policy.report_past_working_days:
        day -= timedelta(days=1)
        if day_kind(day, six_day, policy.calendar) == DayKind.WORKING:
            counted += 1
    return day


def _six_day(conn: Connection, child_id: str) -> bool:
    return bool(conn.execute(select(db.kindergartens.c.six_day)
                             .join(db.children,
                                   db.kindergartens.c.code == db.children.c.kindergarten)
                             .where(db.children.c.child_id == child_id)).scalar_one())


def window_of(conn: Connection, child_id: str, today: date,
              policy: Policy) -> tuple[date, date]:
    """The first and last days a report made ``today`` for the child may cover."""
    return (earliest_day(today, policy, _six_day(conn, child_id)),
            today + timedelta(days=DAYS_AHEAD))


def _check(first: date, last: date, reason: str, note: str, today: date, policy: Policy,
           six_day: bool) -> AbsenceReason:
    if last < first:
        raise FamiliesError("report_reversed", Sentence(
            "the last day (%(last)s) is before the first day (%(first)s)", last=last,
            first=first), field="last_day")
    earliest = earliest_day(today, policy, six_day)
    if first < earliest:
        raise FamiliesError("report_too_old", Sentence(
            "an absence is reported from %(earliest)s on (%(days)s working days back); "
            "%(first)s is earlier: tell the kindergarten", earliest=earliest,
            days=policy.report_past_working_days, first=first), field="first_day")
    if last > today + timedelta(days=DAYS_AHEAD):
        raise FamiliesError("report_too_far", Sentence(
            "an absence is reported at most %(days)s days ahead: %(last)s is later",
            days=DAYS_AHEAD, last=last), field="last_day")
    if (last - first).days >= MAX_SPAN_DAYS:
        raise FamiliesError("report_too_long", Sentence(
            "a report spans at most %(max_span_days)s days", max_span_days=MAX_SPAN_DAYS),
            field="last_day")
    if reason not in ABSENCE_REASONS:
        raise FamiliesError("bad_reason", Sentence("reason must be one of %(reasons)s",
                                                   reasons=", ".join(ABSENCE_REASONS)),
                            field="reason")
    if len(note) > MAX_NOTE:
        raise FamiliesError("note_too_long", Sentence(
            "the note has %(length)s characters; at most %(limit)s", length=len(note),
            limit=MAX_NOTE), field="note")
    return AbsenceReason(reason)


def check_report(conn: Connection, guardian_id: str, child_id: str, first: date,
                 last: date, reason: str, note: str, policy: Policy,
                 now_us: int) -> tuple[str, AbsenceReason]:
    """The report's checks before anything is written: the child's kindergarten and the
    reason. A child the guardian is not bound to is answered as one that does not exist."""
    if not is_guardian_of(conn, guardian_id, child_id):
        raise RequestError("not_found", "no such child")
    child = conn.execute(select(db.children.c.kindergarten, db.kindergartens.c.six_day)
                         .join(db.kindergartens,
                               db.kindergartens.c.code == db.children.c.kindergarten)
                         .where(db.children.c.child_id == child_id)).one()
    chosen = _check(first, last, reason, note.strip(), local_date(now_us), policy,
                    bool(child.six_day))
    return child.kindergarten, chosen


def add_report(conn: Connection, guardian_id: str, child_id: str, kindergarten: str,
               first: date, last: date, reason: AbsenceReason, note: str,
               document_id: int | None, now_us: int) -> int:
    """A checked report (:func:`check_report`), pending; returns its id."""
    result = conn.execute(db.absence_reports.insert().values(
        child_id=child_id, kindergarten=kindergarten, guardian_id=guardian_id,
        first_day=first.isoformat(), last_day=last.isoformat(), reason=reason,
        note=note.strip(), document_id=document_id, status=ReportStatus.PENDING,
        reported_at_us=now_us))
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def _reports(conn: Connection, *where: Any) -> list[Report]:
    rows = conn.execute(
        select(db.absence_reports, db.children.c.last_name, db.children.c.first_name,
               db.children.c.group_name)
        .join(db.children, db.children.c.child_id == db.absence_reports.c.child_id)
        .where(*where).order_by(db.absence_reports.c.id.desc()))
    return [_report(r) for r in rows]


def _report(r: Row[Any]) -> Report:
    return Report(r.id, r.child_id, f"{r.last_name} {r.first_name}", r.group_name,
                  r.guardian_id, date.fromisoformat(r.first_day), date.fromisoformat(r.last_day),
                  r.reason, r.note, r.document_id, ReportStatus(r.status), r.reported_at_us,
                  r.decided_by, r.decided_at_us, r.decision_note, r.absence_id)


def of_child(conn: Connection, child_id: str) -> list[Report]:
    """A child's reports, newest first (the parents' page)."""
    return _reports(conn, db.absence_reports.c.child_id == child_id)


def listed(conn: Connection, kindergarten: str, who: User) -> list[Report]:
    """The kindergarten's reports of the children ``who`` may see (a teacher: own groups),
    newest first: pending ones and decided ones alike."""
    return [r for r in _reports(conn, db.absence_reports.c.kindergarten == kindergarten)
            if who.may_see_group(kindergarten, r.group)]


def pending(conn: Connection, kindergarten: str, who: User) -> list[Report]:
    return [r for r in listed(conn, kindergarten, who) if r.status == ReportStatus.PENDING]


def _pending_one(conn: Connection, kindergarten: str, who: User, report_id: int) -> Report:
    found = next((r for r in pending(conn, kindergarten, who) if r.id == report_id), None)
    if found is None:
        raise OfficeError("unknown_record", Sentence(
            "no pending absence report %(report_id)s you may decide", report_id=report_id))
    return found


def _check_overlap(conn: Connection, child_id: str, first: date, last: date) -> None:
    rows = list(conn.execute(select(db.absences).where(db.absences.c.child_id == child_id)))
    replaced = {r.replaces for r in rows if r.replaces is not None}
    for r in rows:
        if (r.id not in replaced and r.reason != AbsenceReason.CANCELLED
                and r.first_day <= last.isoformat() and r.last_day >= first.isoformat()):
            raise OfficeError("overlapping_absence", Sentence(
                "absence record %(record_id)s (%(first)s to %(last)s) already covers some of "
                "these days: correct or cancel it instead", record_id=r.id, first=r.first_day,
                last=r.last_day), "from")


def accept(conn: Connection, kindergarten: str, director: User, report_id: int,
           now_us: int) -> int:
    """The report becomes an absence record (the guardian its source, the photo its
    document); returns the record's id."""
    found = _pending_one(conn, kindergarten, director, report_id)
    _check_overlap(conn, found.child_id, found.first, found.last)
    absence_id = add_absence(conn, found.child_id, found.first, found.last,
                             AbsenceReason(found.reason), "", SOURCE_PREFIX + found.guardian_id,
                             now_us, None, found.document_id)
    conn.execute(db.absence_reports.update().where(db.absence_reports.c.id == report_id)
                 .values(status=ReportStatus.ACCEPTED, decided_by=director.username,
                         decided_at_us=now_us, absence_id=absence_id))
    record(conn, director, Action.REPORT_ACCEPTED, kindergarten, f"REP-{report_id}", now_us,
           child_id=found.child_id, absence_id=absence_id, first=found.first.isoformat(),
           last=found.last.isoformat(), reason=found.reason, document_id=found.document_id)
    return absence_id


def decline(conn: Connection, kindergarten: str, director: User, report_id: int, note: str,
            now_us: int) -> None:
    """Declined, with the note the guardian sees (required)."""
    note = note.strip()
    if not note:
        raise OfficeError("decision_note_missing", Sentence(
            "say why the report is declined: the guardian sees it"), "note")
    if len(note) > MAX_NOTE:
        raise OfficeError("bad_form", Sentence(
            "the note has %(length)s characters; at most %(limit)s", length=len(note),
            limit=MAX_NOTE), "note")
    found = _pending_one(conn, kindergarten, director, report_id)
    conn.execute(db.absence_reports.update().where(db.absence_reports.c.id == report_id)
                 .values(status=ReportStatus.DECLINED, decided_by=director.username,
                         decided_at_us=now_us, decision_note=note))
    record(conn, director, Action.REPORT_DECLINED, kindergarten, f"REP-{report_id}", now_us,
           child_id=found.child_id, note=note)
