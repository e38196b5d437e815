"""Attendance days and the monthly funding statement of one kindergarten (pure).

For each child and working day of the month the day is one of: present (evidence: the accepted
check-ins of that day), a paid absence, an unpaid absence, absent without a record, or outside
the child's enrolment. Paid leave is capped per calendar year and counted in date order from
1 January, so the caller passes the year's presence and absences up to the month's end.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from server.domain.calendar import Closure, DayKind, day_kind, month_days, working_days
from server.domain.policy import AbsenceReason, Policy


class FundingError(ValueError):
    """Inputs a statement cannot be computed from (e.g. a category without a norm)."""


@dataclass(frozen=True)
class ChildInput:
    child_id: str
    funding_category: str
    enrolled_on: date
    withdrawn_on: date | None = None
    """The first day the child no longer belongs (exclusive)."""
    group: str = ""
    """The child's group: a closure of that group closes the child's days."""

    def belongs(self, day: date) -> bool:
        return self.enrolled_on <= day and (self.withdrawn_on is None or day < self.withdrawn_on)


@dataclass(frozen=True)
class Evidence:
    event_id: str
    method: str
    assurance: str


@dataclass(frozen=True)
class AbsenceSpan:
    """An absence record in effect (corrections already applied by the caller)."""

    record_id: str
    child_id: str
    first: date
    last: date
    reason: str
    document: str = ""
    """The document's reference as text (a certificate's number), if one was given."""
    document_id: int | None = None
    """The document itself, uploaded in the office (a sealed photo or PDF), if one was."""

    @property
    def documented(self) -> bool:
        """Backed by a document: a reference or an uploaded photo or PDF."""
        return bool(self.document) or self.document_id is not None


class DayMark(StrEnum):
    """What a child's day is in the табель and the statement (``mark``)."""
    PRESENT = "present"
    PAID_ABSENCE = "paid_absence"
    UNPAID_ABSENCE = "unpaid_absence"
    ABSENT = "absent"
    """Absent without a record."""
    NON_WORKING = "non_working"
    NOT_ENROLLED = "not_enrolled"


@dataclass(frozen=True)
class DayEntry:
    day: date
    mark: DayMark
    reason: str = ""
    evidence: tuple[Evidence, ...] = ()
    absence_record: str = ""


@dataclass(frozen=True)
class ChildLine:
    child_id: str
    funding_category: str
    norm: Decimal
    working_days: int
    present_days: int
    paid_absence_days: int
    amount: Decimal
    days: tuple[DayEntry, ...]


@dataclass(frozen=True)
class Statement:
    kindergarten: str
    month: str
    policy_version: str
    working_days: int
    total: Decimal
    children: tuple[ChildLine, ...]
    inputs_digest: str

    def to_json(self) -> bytes:
        """The statement's canonical bytes (the shape in docs/cli.md): same inputs, same bytes."""
        body = {
            "kindergarten": self.kindergarten, "month": self.month,
            "policy_version": self.policy_version, "working_days": self.working_days,
            "total": f"{self.total:.2f}", "inputs_digest": self.inputs_digest,
            "children": [{
                "child_id": c.child_id, "funding_category": c.funding_category,
                "norm": f"{c.norm:.2f}", "working_days": c.working_days,
                "present_days": c.present_days, "paid_absence_days": c.paid_absence_days,
                "amount": f"{c.amount:.2f}"} for c in self.children],
        }
        return (json.dumps(body, ensure_ascii=False, indent=1) + "\n").encode("utf-8")


Presence = Mapping[str, Mapping[date, Sequence[Evidence]]]


def compute_statement(kindergarten: str, year: int, month: int, six_day: bool,
                      closures: Sequence[Closure], policy: Policy,
                      children: Sequence[ChildInput], presence: Presence,
                      absences: Sequence[AbsenceSpan]) -> Statement:
    """The statement for one month; ``presence`` and ``absences`` cover 1 January to the
    month's end (earlier months only feed the yearly leave cap)."""
    month_working = working_days(year, month, six_day, policy.calendar, closures)
    # once per group, not per child: a group's closure closes its children's days only
    grouped = {c.group for c in closures if c.group is not None}
    calendars = {group: _year_kinds(year, month, six_day, policy, closures, group)
                 for group in {None, *grouped}}
    denominators = {group: len(working_days(year, month, six_day, policy.calendar, closures,
                                            group)) for group in calendars}
    by_child: dict[str, list[AbsenceSpan]] = {}
    for absence in absences:
        by_child.setdefault(absence.child_id, []).append(absence)
    lines = []
    for child in sorted(children, key=lambda c: c.child_id):
        norm = policy.norms.get(child.funding_category)
        if norm is None:
            raise FundingError(f"child {child.child_id}: the policy {policy.version} has no "
                               f"norm for funding category {child.funding_category!r}")
        group = child.group if child.group in grouped else None
        earlier, this_month = calendars[group]
        days = _child_days(child, earlier, this_month, policy,
                           presence.get(child.child_id, {}), by_child.get(child.child_id, []))
        present = sum(d.mark == DayMark.PRESENT for d in days)
        paid = sum(d.mark == DayMark.PAID_ABSENCE for d in days)
        lines.append(ChildLine(
            child_id=child.child_id, funding_category=child.funding_category, norm=norm,
            working_days=sum(d.mark not in (DayMark.NON_WORKING, DayMark.NOT_ENROLLED)
                             for d in days),
            present_days=present, paid_absence_days=paid,
            amount=_amount(norm, present + paid, denominators[group], policy.rounding_step),
            days=tuple(days)))
    total = sum((line.amount for line in lines), Decimal("0.00"))
    return Statement(kindergarten, f"{year:04d}-{month:02d}", policy.version,
                     len(month_working), total, tuple(lines),
                     inputs_digest(kindergarten, year, month, six_day, closures, policy,
                                   children, presence, absences))


Kinds = list[tuple[date, str]]


def _year_kinds(year: int, month: int, six_day: bool, policy: Policy,
                closures: Sequence[Closure], group: str | None) -> tuple[Kinds, Kinds]:
    """Each day's kind from 1 January for a child of ``group``: the earlier months' days
    (they feed the yearly leave cap) and the month's own."""
    kinds = [(day, day_kind(day, six_day, policy.calendar, closures, group))
             for m in range(1, month + 1) for day in month_days(year, m)]
    return ([(day, kind) for day, kind in kinds if day.month != month],
            [(day, kind) for day, kind in kinds if day.month == month])


def leave_days_used(year: int, month: int, six_day: bool, closures: Sequence[Closure],
                    policy: Policy, children: Sequence[ChildInput], presence: Presence,
                    absences: Sequence[AbsenceSpan]) -> dict[str, int]:
    """Each child's paid leave days from 1 January to the end of ``month``, counted as the
    statement counts them (working days absent on leave, up to the policy's yearly cap)."""
    grouped = {c.group for c in closures if c.group is not None}
    calendars = {group: _year_kinds(year, month, six_day, policy, closures, group)
                 for group in {None, *grouped}}
    by_child: dict[str, list[AbsenceSpan]] = {}
    for absence in absences:
        by_child.setdefault(absence.child_id, []).append(absence)
    used = {}
    for child in children:
        earlier, this_month = calendars[child.group if child.group in grouped else None]
        days = _child_days(child, earlier, this_month, policy,
                           presence.get(child.child_id, {}), by_child.get(child.child_id, []))
        used[child.child_id] = _leave_before(child, earlier, policy,
                                             presence.get(child.child_id, {}),
                                             by_child.get(child.child_id, [])) + sum(
            d.mark == DayMark.PAID_ABSENCE and d.reason == AbsenceReason.LEAVE for d in days)
    return used


def _leave_before(child: ChildInput, earlier: Sequence[tuple[date, str]], policy: Policy,
                  presence: Mapping[date, Sequence[Evidence]],
                  absences: Sequence[AbsenceSpan]) -> int:
    """Paid leave days of the months before this one (the yearly cap counts from them)."""
    leave_used = 0
    if any(a.reason == AbsenceReason.LEAVE for a in absences):
        for day, kind in earlier:
            if kind == DayKind.WORKING and child.belongs(day) and not presence.get(day):
                leave_used += _absence_day(day, absences, policy, leave_used)[1]
    return leave_used


def _amount(norm: Decimal, paid_days: int, month_working_days: int, step: Decimal) -> Decimal:
    if month_working_days == 0 or paid_days == 0:
        return Decimal("0").quantize(step)
    return (norm * paid_days / month_working_days).quantize(step, rounding=ROUND_HALF_UP)


def _child_days(child: ChildInput, earlier: Sequence[tuple[date, str]],
                this_month: Sequence[tuple[date, str]], policy: Policy,
                presence: Mapping[date, Sequence[Evidence]],
                absences: Sequence[AbsenceSpan]) -> list[DayEntry]:
    """Every day of the month for one child. Paid leave is capped per calendar year in date
    order, so earlier months are walked first, only to count the leave already paid."""
    leave_used = _leave_before(child, earlier, policy, presence, absences)
    entries: list[DayEntry] = []
    for day, kind in this_month:
        if kind != DayKind.WORKING:
            entry = DayEntry(day, DayMark.NON_WORKING, kind)
        elif not child.belongs(day):
            entry = DayEntry(day, DayMark.NOT_ENROLLED)
        elif presence.get(day):
            entry = DayEntry(day, DayMark.PRESENT, evidence=tuple(presence[day]))
        else:
            entry, used = _absence_day(day, absences, policy, leave_used)
            leave_used += used
        entries.append(entry)
    return entries


def _absence_day(day: date, absences: Sequence[AbsenceSpan], policy: Policy,
                 leave_used: int) -> tuple[DayEntry, int]:
    """The day's absence mark and how many paid leave days it used (0 or 1)."""
    covering = [a for a in absences if a.first <= day <= a.last]
    if not covering:
        return DayEntry(day, DayMark.ABSENT), 0
    record = covering[-1]  # the latest record in effect for the day
    paid = record.reason in policy.paid_reasons
    if (record.reason == AbsenceReason.ILLNESS and policy.illness_requires_document
            and not record.documented):
        paid = False
    used = 0
    if paid and record.reason == AbsenceReason.LEAVE:
        if leave_used >= policy.leave_cap_days_per_year:
            paid = False
        else:
            used = 1
    return DayEntry(day, DayMark.PAID_ABSENCE if paid else DayMark.UNPAID_ABSENCE, record.reason,
                    absence_record=record.record_id), used


def inputs_digest(kindergarten: str, year: int, month: int, six_day: bool,
                  closures: Iterable[Closure], policy: Policy,
                  children: Iterable[ChildInput], presence: Presence,
                  absences: Iterable[AbsenceSpan]) -> str:
    """SHA-256 over a canonical listing of every input and the policy file's digest: one
    line per fact, each section sorted, so the order the caller passed them in never
    matters."""
    digest = hashlib.sha256()

    def section(name: str, lines: Iterable[str]) -> None:
        digest.update(f"[{name}]\n".encode())
        for line in sorted(lines):
            digest.update(line.encode("utf-8") + b"\n")

    section("statement", [json.dumps([kindergarten, f"{year:04d}-{month:02d}", six_day,
                                      policy.digest])])
    # A group (of a closure, of a child) and an uploaded document enter the listing only
    # where they matter, so a month without them keeps the digest it always had.
    grouped = any(c.group is not None for c in closures)
    section("closures", (json.dumps([c.first.isoformat(), c.last.isoformat(), c.reason,
                                     *([c.group] if c.group is not None else [])],
                                    ensure_ascii=False) for c in closures))
    section("children", (json.dumps([c.child_id, c.funding_category, c.enrolled_on.isoformat(),
                                     c.withdrawn_on.isoformat() if c.withdrawn_on else None,
                                     *([c.group] if grouped else [])], ensure_ascii=False)
                         for c in children))
    # ids and dates hold no tab or comma: plain joins here, the bulk of the listing
    section("presence", (f"{child}\t{day.isoformat()}\t"
                         + ",".join(sorted(e.event_id for e in evidence))
                         for child, days in presence.items()
                         for day, evidence in days.items() if evidence))
    section("absences", (json.dumps([a.record_id, a.child_id, a.first.isoformat(),
                                     a.last.isoformat(), a.reason, a.document,
                                     *([a.document_id] if a.document_id is not None else [])],
                                    ensure_ascii=False) for a in absences))
    return digest.hexdigest()
