"""The staff's audit trail: who did what in the browser, and when (invariant 6).

Each office action writes its line in the transaction of the change itself, so a change
never stands without its line and a refused one leaves neither. The records changed keep
their own who and when as well; the trail is the one place to read a person's actions.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import Connection, select

from server.staff.accounts import User
from server.storage import db


class Action(StrEnum):
    """What a line of the trail records (``audit_trail.action``)."""
    ABSENCE_RECORDED = "absence_recorded"
    ABSENCE_CORRECTED = "absence_corrected"
    ABSENCE_CANCELLED = "absence_cancelled"
    CLOSURE_RECORDED = "closure_recorded"
    CARD_ISSUED = "card_issued"
    CARD_REVOKED = "card_revoked"
    CONSENT_RECORDED = "consent_recorded"
    DOCUMENT_SHOWN = "document_shown"
    GUARDIAN_INVITED = "guardian_invited"
    GUARDIAN_REMOVED = "guardian_removed"
    PICKUP_REMOVED = "pickup_removed"
    """A director removed an adult a guardian allowed to collect the child."""
    ROSTER_IMPORTED = "roster_imported"
    TERMINAL_CODE_ISSUED = "terminal_code_issued"
    TERMINAL_REVOKED = "terminal_revoked"
    ACCOUNT_CREATED = "account_created"
    ACCOUNT_DISABLED = "account_disabled"
    REPORT_ACCEPTED = "report_accepted"
    REPORT_DECLINED = "report_declined"


@dataclass(frozen=True)
class Line:
    at_us: int
    username: str
    role: str
    action: Action
    kindergarten: str | None
    subject: str
    detail: dict[str, object]


def record(conn: Connection, user: User, action: Action, kindergarten: str | None,
           subject: str, now_us: int, **detail: object) -> None:
    """One line, in ``conn``'s transaction (the change's own)."""
    conn.execute(db.audit_trail.insert().values(
        at_us=now_us, username=user.username, role=user.role, action=action,
        kindergarten=kindergarten, subject=subject[:200],
        detail=json.dumps(detail, ensure_ascii=False, sort_keys=True, default=str)))


def lines(conn: Connection, kindergarten: str | None, limit: int = 200) -> list[Line]:
    """The newest lines first, of one kindergarten (``None``: every line)."""
    query = select(db.audit_trail).order_by(db.audit_trail.c.id.desc()).limit(limit)
    if kindergarten is not None:
        query = query.where(db.audit_trail.c.kindergarten == kindergarten)
    return [Line(r.at_us, r.username, r.role, Action(r.action), r.kindergarten, r.subject,
                 json.loads(r.detail)) for r in conn.execute(query)]
