"""Terminals in the office: an enrolment code made on screen (the QR a new kiosk's camera
reads at first boot, as ``qatys terminal token --qr`` writes it), the kindergarten's
terminals, and revoking one with a reason. Each action writes its audit line in the same
transaction; the trail never holds the token itself, only when it expires."""

from __future__ import annotations

from dataclasses import dataclass

import segno
from sqlalchemy import Connection, Engine, select

from protocol import enrolment
from qatys.sentences import Sentence
from qatys.timeutil import iso_utc
from server.errors import OfficeError
from server.registry.terminals import issue_token, revoke_terminal
from server.staff import audit
from server.staff.accounts import User
from server.storage import db
from server.storage.db import writing

MAX_REASON = 500


@dataclass(frozen=True)
class EnrolmentCode:
    token: str
    uri: str
    """What the QR holds: the server's public address and the token."""
    expires_at_us: int

    def svg(self) -> str:
        """The QR as inline SVG (no script, no style: the pages' CSP allows it)."""
        return str(segno.make(self.uri, error="m").svg_inline(scale=6, border=4))


@dataclass(frozen=True)
class Terminal:
    terminal_id: str
    enrolled_at_us: int
    last_contact_us: int | None
    revoked_at_us: int | None
    revoke_reason: str | None
    software_version: str

    @property
    def active(self) -> bool:
        return self.revoked_at_us is None


def issue_code(engine: Engine, sign_public: bytes, public_url: str, who: User,
               kindergarten: str, now_us: int, ttl_seconds: int) -> EnrolmentCode:
    """A one-time enrolment token of ``kindergarten`` and its audit line."""
    with writing(engine) as conn:
        token = issue_token(conn, kindergarten, sign_public, now_us, ttl_seconds)
        expires = now_us + ttl_seconds * 1_000_000
        audit.record(conn, who, audit.Action.TERMINAL_CODE_ISSUED, kindergarten,
                     "", now_us, expires_at=iso_utc(expires))  # never the token
    return EnrolmentCode(str(token), enrolment.enrolment_uri(public_url, token), expires)


def terminals_of(conn: Connection, kindergarten: str) -> list[Terminal]:
    query = (select(db.terminals).where(db.terminals.c.kindergarten == kindergarten)
             .order_by(db.terminals.c.revoked_at_us.is_not(None), db.terminals.c.terminal_id))
    return [Terminal(r.terminal_id, r.enrolled_at_us, r.last_contact_us, r.revoked_at_us,
                     r.revoke_reason, r.software_version) for r in conn.execute(query)]


def revoke(engine: Engine, who: User, kindergarten: str, terminal_id: str, reason: str,
           now_us: int) -> bool:
    """Revoke a terminal of ``kindergarten`` (refused at its next request) with its audit
    line; False when it already was revoked (nothing written)."""
    reason = " ".join(reason.split())
    if not reason or len(reason) > MAX_REASON:
        raise OfficeError("bad_form", Sentence("a revocation needs a reason of 1-%(limit)s "
                                               "characters", limit=MAX_REASON), "reason")
    with writing(engine) as conn:
        row = conn.execute(select(db.terminals.c.kindergarten)
                           .where(db.terminals.c.terminal_id == terminal_id)).first()
        if row is None or row.kindergarten != kindergarten:
            raise OfficeError("unknown_record", Sentence(
                "terminal %(terminal_id)s is not one of %(kindergarten)s's",
                terminal_id=terminal_id, kindergarten=kindergarten), "terminal")
        if not revoke_terminal(conn, terminal_id, reason, now_us):
            return False
        audit.record(conn, who, audit.Action.TERMINAL_REVOKED, kindergarten, terminal_id,
                     now_us, reason=reason)
    return True
