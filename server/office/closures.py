"""Closures as the director declares them in the office: the whole kindergarten, or one
group on its roster (those days are not working days for that group's children only), with a
reason; new records only, each with its line in the audit trail.

A closure may be declared ahead (a planned repair, a quarantine ordered from tomorrow) or
after the fact; it spans at most a year.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import Connection, select

from provisioning.errors import InvalidInput, NotFound
from qatys.sentences import Sentence
from server.errors import OfficeError
from server.registry.records import MAX_REASON, MAX_SPAN_DAYS, add_closure
from server.staff.accounts import User
from server.staff.audit import Action, record
from server.storage import db


@dataclass(frozen=True)
class ClosureRecord:
    id: int
    first: date
    last: date
    reason: str
    group: str | None
    recorded_at_us: int
    recorded_by: str


def groups_of(conn: Connection, kindergarten: str) -> list[str]:
    """The groups on the kindergarten's roster, by name."""
    return list(conn.execute(select(db.children.c.group_name)
                             .where(db.children.c.kindergarten == kindergarten)
                             .distinct().order_by(db.children.c.group_name)).scalars())


def record_closure(conn: Connection, who: User, kindergarten: str, first: date, last: date,
                   reason: str, group: str | None, now_us: int) -> int:
    """A closure of the kindergarten (``group`` None) or of one group; returns its id."""
    if last < first:
        raise OfficeError("span_reversed", Sentence(
            "the last day (%(last)s) is before the first day (%(first)s)", last=last,
            first=first), "to")
    if (last - first).days >= MAX_SPAN_DAYS:
        raise OfficeError("span_too_long", Sentence("a record spans at most %(max_span_days)s "
                                                    "days", max_span_days=MAX_SPAN_DAYS), "to")
    reason = reason.strip()
    if not reason or len(reason) > MAX_REASON:
        raise OfficeError("bad_form", Sentence("a closure needs a reason of at most %(limit)s "
                                               "characters", limit=MAX_REASON), "reason")
    if group is not None and group not in groups_of(conn, kindergarten):
        raise OfficeError("bad_form", Sentence("there is no group '%(group)s' on the roster",
                                               group=group[:100]), "group")
    try:
        new_id = add_closure(conn, kindergarten, first, last, reason, who.username, now_us,
                             group)
    except (InvalidInput, NotFound) as exc:  # checked above; the records' own last word
        raise OfficeError("bad_form", exc.sentence) from exc
    record(conn, who, Action.CLOSURE_RECORDED, kindergarten, f"CL-{new_id}", now_us,
           first=first.isoformat(), last=last.isoformat(), reason=reason, group=group)
    return new_id


def closures_of(conn: Connection, kindergarten: str) -> list[ClosureRecord]:
    """The kindergarten's closures, newest first."""
    rows = conn.execute(select(db.closures).where(db.closures.c.kindergarten == kindergarten)
                        .order_by(db.closures.c.id.desc()))
    return [ClosureRecord(r.id, date.fromisoformat(r.first_day), date.fromisoformat(r.last_day),
                          r.reason, r.group_name, r.recorded_at_us, r.recorded_by)
            for r in rows]
