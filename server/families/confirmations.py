"""Guardians confirm a month of their child's record, or dispute named days with a comment.

Open from the policy's first to last confirmation day of the next month (1st–7th by
default). Records are only added; the latest of a guardian for a child and month stands.
Finance staff and the director see them next to the statement.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from sqlalchemy import Connection, select

from qatys.sentences import Sentence
from qatys.timeutil import iso_utc, local_date
from server.domain.calendar import month_days
from server.domain.policy import Policy
from server.errors import FamiliesError
from server.money.statements import next_month_start, parse_month
from server.storage import db

MAX_COMMENT = 2000


class ConfirmationKind(StrEnum):
    """``month_confirmations.kind``: what a guardian said of a month (the parents' API's
    ``kind``, server/web/openapi.py)."""
    CONFIRM = "confirm"
    DISPUTE = "dispute"
    """Named days are wrong, with a comment."""


_KINDS = frozenset(ConfirmationKind)


@dataclass(frozen=True)
class Confirmation:
    record: int
    guardian_id: str
    child_id: str
    kind: str
    days: tuple[str, ...]
    comment: str
    recorded_at: str


def window(month: str, policy: Policy) -> tuple[date, date]:
    """First and last day on which ``month`` can be confirmed or disputed."""
    start = next_month_start(month)
    return start.replace(day=policy.confirm_from_day), start.replace(day=policy.confirm_to_day)


def record_confirmation(conn: Connection, guardian_id: str, child_id: str, month: str,
                        kind: str, days: list[str], comment: str, policy: Policy,
                        now_us: int) -> int:
    first, last = window(month, policy)
    today = local_date(now_us)
    if not first <= today <= last:
        raise FamiliesError("confirmation_closed",
                            Sentence("%(month)s can be confirmed or disputed from %(first)s to "
                                     "%(last)s", month=month, first=first, last=last))
    if kind not in _KINDS:
        raise FamiliesError("bad_request", Sentence("kind must be confirm or dispute"))
    year, number = parse_month(month)
    in_month = {d.isoformat() for d in month_days(year, number)}
    if kind == ConfirmationKind.DISPUTE and (not days or not set(days) <= in_month
                                             or not comment.strip()):
        raise FamiliesError("bad_dispute",
                            Sentence("a dispute names days of that month and says what is wrong"))
    if kind == ConfirmationKind.CONFIRM and days:
        raise FamiliesError("bad_request",
                            Sentence("a confirmation names no days; only a dispute does"))
    if len(comment) > MAX_COMMENT:
        raise FamiliesError("bad_request",
                            Sentence("the comment is longer than %(max_comment)s characters",
                                     max_comment=MAX_COMMENT))
    kindergarten = conn.execute(select(db.children.c.kindergarten)
                                .where(db.children.c.child_id == child_id)).scalar_one()
    inserted = conn.execute(db.month_confirmations.insert().values(
        guardian_id=guardian_id, child_id=child_id, kindergarten=kindergarten, month=month,
        kind=kind, days=json.dumps(sorted(set(days))), comment=comment.strip(),
        recorded_at_us=now_us)).inserted_primary_key
    assert inserted is not None
    return int(inserted[0])


def for_month(conn: Connection, kindergarten: str, month: str) -> list[Confirmation]:
    """Every guardian's standing word on the month, per child (latest record each)."""
    latest: dict[tuple[str, str], Confirmation] = {}
    for row in conn.execute(select(db.month_confirmations)
                            .where(db.month_confirmations.c.kindergarten == kindergarten)
                            .where(db.month_confirmations.c.month == month)
                            .order_by(db.month_confirmations.c.id)):
        latest[(row.guardian_id, row.child_id)] = Confirmation(
            row.id, row.guardian_id, row.child_id, row.kind, tuple(json.loads(row.days)),
            row.comment, iso_utc(row.recorded_at_us))
    return sorted(latest.values(), key=lambda c: (c.child_id, c.record))
