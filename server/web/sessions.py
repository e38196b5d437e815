"""Server-side sessions of the finance pages (staff) and the parents' pages (guardians).

The browser's cookie holds a random session id (256 bits); the database keeps only its
SHA-256, with the kind, the subject (a username or a guardian id), when it began, when it
ends and whether it was revoked. So logging out, or disabling an account, ends a session at
once: a cookie copied before opens nothing afterwards. The CSRF token of a session is an HMAC
of its id under the server's session secret: bound to the session, nothing more to store.

No HTTP here: the pages set and read the cookies (server/staff/sessions.py,
server/families/pages.py).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import Connection, select

from server.storage import db

KEEP_ENDED_US = 24 * 3600 * 1_000_000
"""How long an ended session's row stays (for the log's sake) before it is deleted."""


class SessionKind(StrEnum):
    STAFF = "staff"
    GUARDIAN = "guardian"


class SessionStatus(StrEnum):
    ACTIVE = "active"
    EXPIRED = "expired"
    REVOKED = "revoked"
    UNKNOWN = "unknown"
    """No such session of this kind (never was, deleted, or a cookie of the other kind)."""


class RevokeReason(StrEnum):
    LOGOUT = "logout"
    ACCOUNT_DISABLED = "account_disabled"
    SIGNED_IN_AGAIN = "signed_in_again"
    """The browser signed in again: the session its cookie held before ends."""
    GUARDIAN_REMOVED = "guardian_removed"
    """A director removed the guardian from a child (server/office/guardian_forms.py)."""


@dataclass(frozen=True)
class Found:
    status: SessionStatus
    subject: str | None
    """The username or guardian id, only for an active session."""


def digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("ascii", "replace")).digest()


def open_session(conn: Connection, kind: SessionKind, subject: str, now_us: int,
                 lifetime_us: int) -> str:
    """A new session; returns the id for the cookie (never stored as such)."""
    token = secrets.token_urlsafe(32)
    conn.execute(db.web_sessions.delete().where(
        db.web_sessions.c.expires_at_us < now_us - KEEP_ENDED_US))
    conn.execute(db.web_sessions.insert().values(
        id_digest=digest(token), kind=kind.value, subject=subject, created_at_us=now_us,
        expires_at_us=now_us + lifetime_us))
    return token


def look_up(conn: Connection, kind: SessionKind, token: str, now_us: int) -> Found:
    row = conn.execute(select(db.web_sessions).where(
        db.web_sessions.c.id_digest == digest(token))).first()
    if row is None or row.kind != kind.value:
        return Found(SessionStatus.UNKNOWN, None)
    if row.revoked_at_us is not None:
        return Found(SessionStatus.REVOKED, None)
    if row.expires_at_us <= now_us:
        return Found(SessionStatus.EXPIRED, None)
    return Found(SessionStatus.ACTIVE, str(row.subject))


def revoke(conn: Connection, kind: SessionKind, token: str, reason: RevokeReason,
           now_us: int) -> bool:
    """End one session; False when it had ended already (or never was)."""
    result = conn.execute(db.web_sessions.update()
                          .where(db.web_sessions.c.id_digest == digest(token))
                          .where(db.web_sessions.c.kind == kind.value)
                          .where(db.web_sessions.c.revoked_at_us.is_(None))
                          .values(revoked_at_us=now_us, revoke_reason=reason.value))
    return bool(result.rowcount)


def revoke_subject(conn: Connection, kind: SessionKind, subject: str, reason: RevokeReason,
                   now_us: int) -> int:
    """End every open session of one person; returns how many there were."""
    result = conn.execute(db.web_sessions.update()
                          .where(db.web_sessions.c.kind == kind.value)
                          .where(db.web_sessions.c.subject == subject)
                          .where(db.web_sessions.c.revoked_at_us.is_(None))
                          .where(db.web_sessions.c.expires_at_us > now_us)
                          .values(revoked_at_us=now_us, revoke_reason=reason.value))
    return int(result.rowcount)


def csrf_token(secret: bytes, purpose: str, token: str) -> str:
    """The form token bound to a session id (or to a sign-in form's own cookie)."""
    mac = hmac.new(secret, f"qatys-csrf-v1\n{purpose}\n{token}".encode("ascii", "replace"),
                   hashlib.sha256)
    return mac.hexdigest()


def csrf_matches(secret: bytes, purpose: str, token: str, offered: str) -> bool:
    return bool(token) and secrets.compare_digest(
        csrf_token(secret, purpose, token).encode("ascii"), offered.encode("utf-8"))
