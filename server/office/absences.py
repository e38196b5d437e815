"""Absences as the office records them: a child, a date range, a reason from the policy and,
where there is one, the document itself (a photo or PDF of the certificate, sealed at rest by
server/office/documents.py). New records only: a correction replaces a record in effect, a
cancellation is a record with the reason "cancelled" that replaces it (invariant 6).

Refused, with nothing written: a day after today (Asia/Almaty) — an absence is recorded once
it has begun and only up to today, a planned leave or sanatorium stay too, its last day
corrected when the child is back (docs/office.md); a last day before the first; more than a
year; days an absence in effect already covers (correct or cancel that one instead); a child
on no roster; a child of another kindergarten or, for a teacher, of another group; a file
that is not a JPEG, PNG or PDF by its content; a file over 10 MB.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, Row, select

from provisioning.errors import InvalidInput, NotFound
from qatys.sentences import Sentence
from qatys.timeutil import local_date
from server.domain.policy import Policy
from server.errors import OfficeError
from server.keys import ServerKeys
from server.money.statements import leave_used
from server.office import documents
from server.registry.records import (
    ABSENCE_REASONS,
    MAX_SPAN_DAYS,
    AbsenceReason,
    add_absence,
)
from server.staff.accounts import User
from server.staff.audit import Action, record
from server.storage import db


class State(StrEnum):
    """Where a record stands (``records``)."""
    IN_EFFECT = "in_effect"
    REPLACED = "replaced"
    """A later record corrects it."""
    CANCELLED = "cancelled"
    """A later record cancels it."""
    CANCELLATION = "cancellation"
    """The record that cancels an earlier one."""


@dataclass(frozen=True)
class Child:
    child_id: str
    name: str
    group: str


@dataclass(frozen=True)
class Absence:
    id: int
    child: Child
    first: date
    last: date
    reason: str
    document: str
    document_id: int | None
    replaces: int | None
    recorded_at_us: int
    recorded_by: str
    state: State


def children_of(conn: Connection, kindergarten: str, who: User) -> list[Child]:
    """The kindergarten's children ``who`` may see (a teacher: own groups), by group and
    name."""
    rows = conn.execute(select(db.children.c.child_id, db.children.c.last_name,
                               db.children.c.first_name, db.children.c.group_name)
                        .where(db.children.c.kindergarten == kindergarten)
                        .order_by(db.children.c.group_name, db.children.c.last_name,
                                  db.children.c.first_name, db.children.c.child_id))
    return [Child(r.child_id, f"{r.last_name} {r.first_name}", r.group_name) for r in rows
            if who.may_see_group(kindergarten, r.group_name)]


def _child(conn: Connection, kindergarten: str, who: User, child_id: str) -> Child:
    row = conn.execute(select(db.children).where(db.children.c.child_id == child_id)).first()
    if row is None:
        raise OfficeError("unknown_child", Sentence("no child with id %(child_id)s on any "
                                                    "roster", child_id=child_id[:64]), "child")
    if row.kindergarten != kindergarten or not who.may_see_group(row.kindergarten,
                                                                 row.group_name):
        raise OfficeError("not_your_child", Sentence(
            "child %(child_id)s is not in your kindergarten or your groups",
            child_id=child_id), "child")
    return Child(row.child_id, f"{row.last_name} {row.first_name}", row.group_name)


def _check_days(first: date, last: date, now_us: int) -> None:
    if last < first:
        raise OfficeError("span_reversed", Sentence(
            "the last day (%(last)s) is before the first day (%(first)s)", last=last,
            first=first), "to")
    today = local_date(now_us)
    if last > today:
        raise OfficeError("future_date", Sentence(
            "%(day)s is after today (%(today)s): an absence is recorded up to today",
            day=last, today=today), "to" if first <= today else "from")
    if (last - first).days >= MAX_SPAN_DAYS:
        raise OfficeError("span_too_long", Sentence("a record spans at most %(max_span_days)s "
                                                    "days", max_span_days=MAX_SPAN_DAYS), "to")


def _reason(text: str) -> AbsenceReason:
    if text not in ABSENCE_REASONS:
        raise OfficeError("bad_form", Sentence("reason must be one of %(reasons)s",
                                               reasons=", ".join(ABSENCE_REASONS)), "reason")
    return AbsenceReason(text)


def _rows(conn: Connection, child_ids: list[str]) -> list[Row[Any]]:
    return list(conn.execute(select(db.absences)
                             .where(db.absences.c.child_id.in_(child_ids))
                             .order_by(db.absences.c.id)))


def _states(rows: list[Row[Any]]) -> dict[int, State]:
    by_id = {r.id: r for r in rows}
    states = {r.id: (State.CANCELLATION if r.reason == AbsenceReason.CANCELLED
                     else State.IN_EFFECT) for r in rows}
    for r in rows:
        if r.replaces is not None and r.replaces in by_id:
            states[r.replaces] = (State.CANCELLED if r.reason == AbsenceReason.CANCELLED
                                  else State.REPLACED)
    return states


def _in_effect(conn: Connection, child_id: str, record_id: int) -> Row[Any]:
    rows = _rows(conn, [child_id])
    found = next((r for r in rows if r.id == record_id), None)
    if found is None or _states(rows)[record_id] != State.IN_EFFECT:
        raise OfficeError("unknown_record", Sentence(
            "no absence record %(record_id)s in effect to correct or cancel",
            record_id=record_id))
    return found


def _check_overlap(conn: Connection, child_id: str, first: date, last: date,
                   replacing: int | None) -> None:
    rows = _rows(conn, [child_id])
    states = _states(rows)
    for r in rows:
        if (states[r.id] == State.IN_EFFECT and r.id != replacing
                and r.first_day <= last.isoformat() and r.last_day >= first.isoformat()):
            raise OfficeError("overlapping_absence", Sentence(
                "absence record %(record_id)s (%(first)s to %(last)s) already covers some of "
                "these days: correct or cancel it instead", record_id=r.id, first=r.first_day,
                last=r.last_day), "from")


def _record_of(conn: Connection, kindergarten: str, who: User, record_id: int) -> Row[Any]:
    row = conn.execute(select(db.absences).where(db.absences.c.id == record_id)).first()
    if row is None:
        raise OfficeError("unknown_record", Sentence("no absence record %(record_id)s",
                                                     record_id=record_id))
    _child(conn, kindergarten, who, row.child_id)
    return row


def record_absence(conn: Connection, keys: ServerKeys, who: User, kindergarten: str,
                   child_id: str, first: date, last: date, reason: str,
                   content: bytes | None, now_us: int, replaces: int | None = None) -> int:
    """A new absence record (a correction when it ``replaces`` a record in effect: the child
    is that record's, and its document stays with the correction unless a new one comes);
    ``content``: the document's bytes, or None. Returns the new record's id."""
    earlier = None
    if replaces is not None:
        earlier = _record_of(conn, kindergarten, who, replaces)
        child_id = earlier.child_id
    child = _child(conn, kindergarten, who, child_id)
    chosen = _reason(reason)
    _check_days(first, last, now_us)
    if earlier is not None:
        _in_effect(conn, child.child_id, earlier.id)
    _check_overlap(conn, child.child_id, first, last, replaces)
    if content is not None:
        documents.media_type_of(content)  # refused before anything is written
    document_id = earlier.document_id if earlier is not None else None
    text_reference = earlier.document if earlier is not None else ""
    if content is not None:
        document_id = documents.store(conn, keys, kindergarten, child.child_id,
                                      documents.Purpose.CERTIFICATE, content, who, now_us)
    try:
        new_id = add_absence(conn, child.child_id, first, last, chosen, text_reference,
                             who.username, now_us, replaces, document_id)
    except (InvalidInput, NotFound) as exc:  # checked above; the records' own last word
        raise OfficeError("bad_form", exc.sentence) from exc
    action = Action.ABSENCE_RECORDED if replaces is None else Action.ABSENCE_CORRECTED
    record(conn, who, action, kindergarten, f"ABS-{new_id}", now_us,
           child_id=child.child_id, first=first.isoformat(), last=last.isoformat(),
           reason=chosen, document_id=document_id, replaces=replaces)
    return new_id


def cancel_absence(conn: Connection, who: User, kindergarten: str, record_id: int,
                   now_us: int) -> int:
    """A record that cancels ``record_id`` (which must be in effect); returns its id."""
    earlier = _record_of(conn, kindergarten, who, record_id)
    _in_effect(conn, earlier.child_id, record_id)
    new_id = add_absence(conn, earlier.child_id, date.fromisoformat(earlier.first_day),
                         date.fromisoformat(earlier.last_day), AbsenceReason.CANCELLED, "",
                         who.username, now_us, record_id)
    record(conn, who, Action.ABSENCE_CANCELLED, kindergarten, f"ABS-{new_id}", now_us,
           child_id=earlier.child_id, cancels=record_id)
    return new_id


def records(conn: Connection, kindergarten: str, who: User) -> list[Absence]:
    """The absence records of the children ``who`` may see, newest first."""
    children = {c.child_id: c for c in children_of(conn, kindergarten, who)}
    rows = _rows(conn, sorted(children))
    states = _states(rows)
    return [Absence(r.id, children[r.child_id], date.fromisoformat(r.first_day),
                    date.fromisoformat(r.last_day), r.reason, r.document, r.document_id,
                    r.replaces, r.recorded_at_us, r.recorded_by, states[r.id])
            for r in reversed(rows)]


def leave_days(conn: Connection, kindergarten: str, who: User, policy: Policy,
               now_us: int) -> dict[str, int]:
    """Each visible child's paid leave days this calendar year (of the policy's cap)."""
    today = local_date(now_us)
    used = leave_used(conn, kindergarten, today.year, today.month, policy)
    visible = {c.child_id for c in children_of(conn, kindergarten, who)}
    return {child: days for child, days in used.items() if child in visible}


def open_document(conn: Connection, keys: ServerKeys, who: User, kindergarten: str,
                  record_id: int, now_us: int) -> documents.Document:
    """The document behind absence record ``record_id``, for who may see the child (the
    showing is audited)."""
    row = _record_of(conn, kindergarten, who, record_id)
    if row.document_id is None:
        raise OfficeError("unknown_record", Sentence(
            "absence record %(record_id)s has no document", record_id=record_id))
    group = conn.execute(select(db.children.c.group_name)
                         .where(db.children.c.child_id == row.child_id)).scalar_one()
    return documents.show(conn, keys, row.document_id, who, {row.child_id: group}, now_us)
