"""Closures and absences as the director records them: new records only, never edits.

An absence is corrected by a new record that replaces it, or cancelled by a new record with
the reason "cancelled"; the earlier record stays, with who and when (brief, invariant 6).
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import Column, Connection, select

from provisioning.errors import InvalidInput, NotFound
from qatys.sentences import Sentence
from server.domain.policy import AbsenceReason as AbsenceReason  # exported: its home is the domain
from server.registry.kindergartens import require_kindergarten
from server.storage import db

ABSENCE_REASONS = tuple(r.value for r in AbsenceReason if r != AbsenceReason.CANCELLED)
"""The reasons a child is absent for, as text."""
ABSENCE_CHOICES = tuple(r.value for r in AbsenceReason)
"""What ``--reason`` takes (click's choices take text, not members): the reasons, then
"cancelled"."""
MAX_SPAN_DAYS = 366
MAX_REASON = 1_000
"""A closure's reason is stored as text without a limit; longer than this is no reason."""


def check_length(option: str, value: str, column: Column[str] | int) -> None:
    """Refuse ``value`` (given as ``option``) longer than ``column`` holds: PostgreSQL would
    refuse it with an error and SQLite store it whole, so the length is checked here, once,
    for both (``column``: a bounded column of server/storage/db.py, or a length)."""
    limit = column if isinstance(column, int) else getattr(column.type, "length", None)
    if limit is not None and len(value) > limit:
        raise InvalidInput(Sentence("%(option)s is %(length)s characters long; at most "
                                    "%(limit)s are stored", option=option, length=len(value),
                                    limit=limit))


def _check_span(first: date, last: date) -> None:
    if last < first:
        raise InvalidInput(Sentence("--to (%(last)s) is before --from (%(first)s)", last=last,
                                    first=first))
    if (last - first).days >= MAX_SPAN_DAYS:
        raise InvalidInput(Sentence("a record spans at most %(max_span_days)s days",
                                    max_span_days=MAX_SPAN_DAYS))


def add_closure(conn: Connection, kindergarten: str, first: date, last: date, reason: str,
                by: str, now_us: int, group: str | None = None) -> int:
    """A closure of the whole kindergarten, or of one ``group`` on its roster (its
    children's days only)."""
    require_kindergarten(conn, kindergarten)
    _check_span(first, last)
    if not reason.strip():
        raise InvalidInput(Sentence("a closure needs a reason"))
    check_length("--reason", reason.strip(), MAX_REASON)
    check_length("--by", by, db.closures.c.recorded_by)
    group = group.strip() if group is not None else None
    if group is not None:
        on_roster = conn.execute(select(db.children.c.child_id)
                                 .where(db.children.c.kindergarten == kindergarten)
                                 .where(db.children.c.group_name == group).limit(1)).first()
        if on_roster is None:
            raise NotFound(Sentence("kindergarten %(kindergarten)s has no group '%(group)s' on "
                                    "its roster", kindergarten=kindergarten, group=group[:100]))
    result = conn.execute(db.closures.insert().values(
        kindergarten=kindergarten, first_day=first.isoformat(), last_day=last.isoformat(),
        reason=reason.strip(), recorded_at_us=now_us, recorded_by=by, group_name=group))
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def add_absence(conn: Connection, child_id: str, first: date, last: date,
                reason: AbsenceReason, document: str, by: str, now_us: int,
                replaces: int | None = None, document_id: int | None = None) -> int:
    """One absence record (a correction when it ``replaces`` an earlier one of the child);
    ``document``: a reference as text, ``document_id``: the uploaded document itself
    (server/office/documents.py)."""
    if reason not in ABSENCE_CHOICES:  # a caller's text that is no member
        raise InvalidInput(Sentence("reason must be one of %(reasons)s",
                                    reasons=", ".join(ABSENCE_REASONS)))
    if reason == AbsenceReason.CANCELLED and replaces is None:
        raise InvalidInput(Sentence("a cancellation names the record it cancels (--replaces ID)"))
    _check_span(first, last)
    check_length("--document", document.strip(), db.absences.c.document)
    check_length("--by", by, db.absences.c.recorded_by)
    child = conn.execute(select(db.children.c.child_id)
                         .where(db.children.c.child_id == child_id)).first()
    if child is None:
        raise NotFound(Sentence("no child with id %(child_id)s on any roster", child_id=child_id))
    if replaces is not None:
        earlier = conn.execute(select(db.absences.c.child_id)
                               .where(db.absences.c.id == replaces)).first()
        if earlier is None or earlier.child_id != child_id:
            raise NotFound(Sentence("no absence record %(replaces)s of child %(child_id)s to "
                                    "replace", replaces=replaces, child_id=child_id))
    result = conn.execute(db.absences.insert().values(
        child_id=child_id, first_day=first.isoformat(), last_day=last.isoformat(),
        reason=reason, document=document.strip(), replaces=replaces, recorded_at_us=now_us,
        recorded_by=by, document_id=document_id))
    return int(result.inserted_primary_key[0])  # type: ignore[index]
