"""Guardians: one-time invitations, phone keys bound to children, sign-in by signature.

A director invites a guardian of one child; the guardian's phone makes an ECDSA P-256 key
pair in the browser and claims the invitation by signing its code, which binds the key to
the child. No password exists: the phone signs a one-time challenge to open a session. A
guardian (one phone key) may be bound to several children, a child to several guardians.
Sessions are server-side (server/web/sessions.py), of kind ``guardian``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, Row, select
from sqlalchemy.exc import IntegrityError

from protocol.cards import SERIAL_BYTES, serial_text
from protocol.errors import SignatureError
from protocol.phone import key_id, public_key_from_spki, sign_binding, verify_p1363
from qatys.sentences import Sentence
from qatys.timeutil import local_date
from server.errors import FamiliesError, SignInError
from server.registry.cards import card_key
from server.registry.records import check_length
from server.storage import db
from server.storage.db import writing
from server.web.sessions import RevokeReason, SessionKind, open_session, revoke_subject

INVITATION_DAYS = 7
NONCE_SECONDS = 120
_DAY_US = 86_400 * 1_000_000
_CODE_CHARS = 16


@dataclass(frozen=True)
class Invitation:
    code: str
    """XXXX-XXXX-XXXX-XXXX (80 bits): in the URL, in the QR, typed by hand."""
    child_id: str
    expires_at_us: int


def new_code() -> str:
    raw = base64.b32encode(os.urandom(10)).decode("ascii")
    return "-".join(raw[i:i + 4] for i in range(0, _CODE_CHARS, 4))


_CODE = re.compile(f"[A-Z2-7]{{{_CODE_CHARS}}}")
"""A code's characters without the dashes: base32's alphabet, ASCII only."""
_SPACING = re.compile(r"[-\s]")


def normalise_code(text: str) -> str:
    """``XXXX-XXXX-XXXX-XXXX`` from a code as typed (any case, dashes and spaces anywhere),
    or "" for anything that cannot be one: another alphabet's look-alike letters (Cyrillic
    А, В …) or other scripts' digits (٣, ²) are no code's characters, never an error."""
    if len(text) > 4 * _CODE_CHARS or not text.isascii():  # before upper(): ß → SS
        return ""
    plain = _SPACING.sub("", text).upper()
    if _CODE.fullmatch(plain) is None:
        return ""
    return "-".join(plain[i:i + 4] for i in range(0, _CODE_CHARS, 4))


def _digest(code: str) -> bytes:
    return hashlib.sha256(code.encode("ascii")).digest()


def create_invitation(conn: Connection, child_id: str, by: str, now_us: int,
                      days: int = INVITATION_DAYS, kind: db.BindingKind = db.BindingKind.GUARDIAN,
                      first_name: str | None = None, relation: str | None = None
                      ) -> Invitation:
    """A one-time invitation for a guardian of ``child_id``, valid ``days`` (at most 7); or,
    of ``kind`` pickup, for an adult allowed to collect the child (server/families/pickup.py)."""
    check_length("--by", by, db.guardian_invitations.c.created_by)
    if not 1 <= days <= INVITATION_DAYS:
        raise FamiliesError("bad_request", Sentence("an invitation is valid 1 to "
                                                    "%(invitation_days)s days",
                                                    invitation_days=INVITATION_DAYS))
    child = conn.execute(select(db.children).where(db.children.c.child_id == child_id)).first()
    if child is None:
        raise FamiliesError("unknown_child", Sentence("child %(child_id)s is not on any roster",
                                                      child_id=child_id))
    if child.withdrawn_on and child.withdrawn_on <= local_date(now_us).isoformat():
        raise FamiliesError("child_withdrawn", Sentence("child %(child_id)s has left the "
                                                        "kindergarten", child_id=child_id))
    code = new_code()
    expires = now_us + days * _DAY_US
    conn.execute(db.guardian_invitations.insert().values(
        code_digest=_digest(code), child_id=child_id, created_by=by, created_at_us=now_us,
        expires_at_us=expires, kind=kind, first_name=first_name, relation=relation))
    return Invitation(code, child_id, expires)


def claim_message(code: str) -> bytes:
    return b"qatys-claim-v1\n" + code.encode("ascii")


def login_message(nonce: str) -> bytes:
    return b"qatys-login-v1\n" + nonce.encode("ascii")


def _open_invitation(conn: Connection, code: str, now_us: int, lock: bool = False) -> Row[Any]:
    """The invitation with this (normalised) code, unused and unexpired, or the refusal."""
    query = select(db.guardian_invitations).where(
        db.guardian_invitations.c.code_digest == _digest(code))
    row = conn.execute(query.with_for_update() if lock else query).first() if code else None
    if row is None:
        raise FamiliesError("invitation_unknown", Sentence("no such invitation"))
    if row.used_at_us is not None:
        raise FamiliesError("invitation_used", Sentence("this invitation has been used already"))
    if row.expires_at_us <= now_us:
        raise FamiliesError("invitation_expired", Sentence("this invitation has expired"))
    return row


def check_claim(engine: Engine, code_text: str, spki: bytes, proof: bytes, now_us: int) -> str:
    """The normalised code of an open invitation whose proof the phone's key signed; checked
    with no lock held (the claim itself is then a short write, :func:`claim_invitation`)."""
    code = normalise_code(code_text)
    with engine.connect() as conn:
        _open_invitation(conn, code, now_us)
    try:
        public_key_from_spki(spki)
        verify_p1363(spki, claim_message(code), proof)
    except SignatureError as exc:
        raise FamiliesError(exc.code, Sentence("the phone's key or proof is not valid")) from exc
    return code


def claim_invitation(conn: Connection, code: str, spki: bytes, now_us: int) -> tuple[str, str]:
    """Bind the phone key to the invited child; returns (guardian id, child id). ``code`` and
    ``spki`` come from :func:`check_claim`; the invitation is checked again, locked, here."""
    row = _open_invitation(conn, code, now_us, lock=True)
    guardian = conn.execute(select(db.guardians)
                            .where(db.guardians.c.key_id == key_id(spki))).first()
    if guardian is not None and guardian.removed_at_us is not None:
        raise FamiliesError("guardian_removed", Sentence("this phone's access was removed"))
    guardian_id = guardian.guardian_id if guardian else f"G-{secrets.token_hex(8)}"
    if guardian is None:
        conn.execute(db.guardians.insert().values(
            guardian_id=guardian_id, key_id=key_id(spki), public_key=spki,
            created_at_us=now_us))
    kindergarten = conn.execute(select(db.children.c.kindergarten)
                                .where(db.children.c.child_id == row.child_id)).scalar_one()
    serial = serial_text(os.urandom(SERIAL_BYTES))  # a new one, even for a re-binding
    binding = sign_binding(card_key(conn, kindergarten, now_us), key_id(spki), row.child_id,
                           kindergarten, serial)
    kind = db.BindingKind(row.kind or db.BindingKind.GUARDIAN)
    values = {"invitation": row.id, "serial": serial, "binding": binding,
              "bound_at_us": now_us, "removed_at_us": None, "removed_by": None,
              "kind": kind, "first_name": row.first_name, "relation": row.relation,
              "added_by": (str(row.created_by).removeprefix("guardian:")
                           if kind == db.BindingKind.PICKUP else None)}
    bound = conn.execute(select(db.guardian_children)
                         .where(db.guardian_children.c.guardian_id == guardian_id)
                         .where(db.guardian_children.c.child_id == row.child_id)).first()
    if (bound is not None and bound.removed_at_us is None and kind == db.BindingKind.PICKUP
            and bound.kind == db.BindingKind.GUARDIAN):
        raise FamiliesError("already_guardian", Sentence(
            "this phone is already a guardian's phone for this child"))
    if bound is None:
        conn.execute(db.guardian_children.insert().values(
            guardian_id=guardian_id, child_id=row.child_id, **values))
    else:
        conn.execute(db.guardian_children.update()
                     .where(db.guardian_children.c.guardian_id == guardian_id)
                     .where(db.guardian_children.c.child_id == row.child_id).values(**values))
    conn.execute(db.guardian_invitations.update()
                 .where(db.guardian_invitations.c.id == row.id)
                 .values(used_at_us=now_us, guardian_id=guardian_id))
    return guardian_id, str(row.child_id)


_NONCE = re.compile(r"([0-9]{1,16})\.([A-Za-z0-9_-]{16})\.([A-Za-z0-9_-]{24})")
"""``<issued, ms since the epoch>.<16 random characters>.<its MAC, 24 characters>``"""
_NONCE_SKEW_US = 5 * 1_000_000
"""How far in the future an issue time may lie (another node's clock)."""


def _nonce_mac(secret: bytes, issued_ms: str, random_part: str) -> str:
    mac = hmac.new(secret, f"qatys-challenge-v1\n{issued_ms}\n{random_part}".encode("ascii"),
                   hashlib.sha256).digest()[:18]
    return base64.urlsafe_b64encode(mac).decode("ascii")


def new_nonce(secret: bytes, now_us: int) -> str:
    """A sign-in challenge that needs no storage: a random part and the time it was issued,
    with their HMAC under the server's session secret (every node has the same). Asking for
    one changes nothing; :func:`sign_in` checks the MAC and the age and remembers the nonce
    only when a sign-in uses it up, so it opens one session at most."""
    issued = str(now_us // 1000)
    random_part = base64.urlsafe_b64encode(os.urandom(12)).decode("ascii")
    return f"{issued}.{random_part}.{_nonce_mac(secret, issued, random_part)}"


def _nonce_expiry_us(secret: bytes, nonce: str, now_us: int) -> int | None:
    """When a challenge this server issued ends, or None for a forged, old or odd one."""
    found = _NONCE.fullmatch(nonce)
    if found is None:
        return None
    issued, random_part, mac = found.groups()
    if not hmac.compare_digest(mac, _nonce_mac(secret, issued, random_part)):
        return None
    issued_us = int(issued) * 1000
    expires = issued_us + NONCE_SECONDS * 1_000_000
    if issued_us > now_us + _NONCE_SKEW_US or expires <= now_us:
        return None
    return expires


def sign_in(engine: Engine, secret: bytes, key: str, nonce: str, signature: bytes,
            now_us: int, lifetime_us: int) -> tuple[str, str]:
    """A session for a valid signature over a fresh, unused challenge: (guardian id, session
    id).

    The challenge and the signature are checked with no lock held; the nonce is then
    remembered as used, and the session opened, in one short write transaction (a nonce
    opens one session, however many arrive at once). A refused sign-in writes nothing."""
    expires = _nonce_expiry_us(secret, nonce, now_us)
    with engine.connect() as conn:
        used = expires is not None and conn.execute(
            select(db.guardian_nonces.c.nonce)
            .where(db.guardian_nonces.c.nonce == nonce)).first() is not None
        guardian = conn.execute(select(db.guardians).where(db.guardians.c.key_id == key)).first()
    if expires is None or used:
        raise SignInError("challenge_invalid", Sentence("the sign-in challenge is unknown, used "
                                                        "or old"))
    if guardian is None or guardian.removed_at_us is not None:
        raise SignInError("unknown_phone", Sentence("this phone has no access (ask for an "
                                                    "invitation)"))
    try:
        verify_p1363(bytes(guardian.public_key), login_message(nonce), signature)
    except SignatureError as exc:
        raise SignInError("bad_signature",
                          Sentence("the sign-in signature does not verify")) from exc
    try:
        with writing(engine) as conn:
            conn.execute(db.guardian_nonces.delete()
                         .where(db.guardian_nonces.c.expires_at_us < now_us))
            taken = conn.execute(select(db.guardian_nonces.c.nonce)
                                 .where(db.guardian_nonces.c.nonce == nonce)).first()
            if taken is not None:
                raise SignInError("challenge_invalid",
                                  Sentence("the sign-in challenge is unknown, used or old"))
            conn.execute(db.guardian_nonces.insert().values(nonce=nonce, expires_at_us=expires,
                                                            used_at_us=now_us))
            removed = conn.execute(select(db.guardians.c.removed_at_us)
                                   .where(db.guardians.c.guardian_id == guardian.guardian_id)
                                   ).scalar_one()
            if removed is not None:
                raise SignInError("unknown_phone",
                                  Sentence("this phone has no access (ask for an invitation)"))
            token = open_session(conn, SessionKind.GUARDIAN, str(guardian.guardian_id), now_us,
                                 lifetime_us)
    except IntegrityError as exc:  # the same nonce used up by another worker just now
        raise SignInError("challenge_invalid",
                          Sentence("the sign-in challenge is unknown, used or old")) from exc
    return str(guardian.guardian_id), token


def children_of(conn: Connection, guardian_id: str) -> list[Row[Any]]:
    """The guardian's children (bound, not removed), with their kindergarten's name."""
    return list(conn.execute(
        select(db.children.c.child_id, db.children.c.first_name, db.children.c.last_name,
               db.children.c.kindergarten, db.kindergartens.c.name.label("kindergarten_name"),
               db.guardian_children.c.serial, db.guardian_children.c.binding,
               db.guardian_children.c.kind, db.guardian_children.c.relation)
        .join(db.guardian_children, db.guardian_children.c.child_id == db.children.c.child_id)
        .join(db.kindergartens, db.kindergartens.c.code == db.children.c.kindergarten)
        .join(db.guardians, db.guardians.c.guardian_id == db.guardian_children.c.guardian_id)
        .where(db.guardian_children.c.guardian_id == guardian_id)
        .where(db.guardian_children.c.removed_at_us.is_(None))
        .where(db.guardians.c.removed_at_us.is_(None))
        .order_by(db.children.c.first_name)))


def is_guardian_of(conn: Connection, guardian_id: str, child_id: str) -> bool:
    """Bound to the child as a guardian: a pickup adult's binding (docs/families.md) opens
    the entry code and today's state only, no record, consent, month or report."""
    return any(c.child_id == child_id and c.kind == db.BindingKind.GUARDIAN
               for c in children_of(conn, guardian_id))


def remove_binding(conn: Connection, guardian_id: str, child_id: str, by: str,
                   now_us: int) -> int:
    """A director removes a guardian from a child: the phone's codes stop opening the door
    at the terminals' next sync, and its pages stop showing the child at once. A guardian
    left with no child is signed out everywhere at once; returns how many sessions ended."""
    check_length("--by", by, db.guardian_children.c.removed_by)
    result = conn.execute(db.guardian_children.update()
                          .where(db.guardian_children.c.guardian_id == guardian_id)
                          .where(db.guardian_children.c.child_id == child_id)
                          .where(db.guardian_children.c.removed_at_us.is_(None))
                          .values(removed_at_us=now_us, removed_by=by))
    if not result.rowcount:
        raise FamiliesError("not_bound", Sentence("%(guardian_id)s is not a guardian of "
                                                  "%(child_id)s", guardian_id=guardian_id,
                                                  child_id=child_id))
    if children_of(conn, guardian_id):
        return 0
    return revoke_subject(conn, SessionKind.GUARDIAN, guardian_id,
                          RevokeReason.GUARDIAN_REMOVED, now_us)
