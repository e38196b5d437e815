"""Terminal tokens, enrolment and revocation.

An administrator issues a one-time token (valid at most an hour); the
terminal makes its own keys and enrols with the token, proving it holds the
private key it registers. Revocation takes effect on the very next request.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass

from sqlalchemy import Connection, select

from protocol import crypto, enrolment, events
from protocol.errors import SignatureError, TokenError
from provisioning.errors import InvalidInput, TokenRefused
from qatys.sentences import Sentence
from server.registry.kindergartens import require_kindergarten
from server.registry.revocation import revoke_once
from server.storage import db

MAX_TOKEN_TTL_SECONDS = 3600


@dataclass(frozen=True)
class Enrolment:
    terminal_id: str
    kindergarten: str
    kindergarten_name: str


def issue_token(conn: Connection, kindergarten: str, server_sign_public: bytes, now_us: int,
                ttl_seconds: int = MAX_TOKEN_TTL_SECONDS) -> enrolment.Token:
    require_kindergarten(conn, kindergarten)
    if not 0 < ttl_seconds <= MAX_TOKEN_TTL_SECONDS:
        raise InvalidInput(Sentence("a token is valid for 1..%(max_token_ttl_seconds)s seconds",
                                    max_token_ttl_seconds=MAX_TOKEN_TTL_SECONDS))
    token = enrolment.make_token(os.urandom(enrolment.SECRET_BYTES), server_sign_public)
    conn.execute(db.terminal_tokens.insert().values(
        digest=token.digest, kindergarten=kindergarten, created_at_us=now_us,
        expires_at_us=now_us + ttl_seconds * 1_000_000))
    return token


def new_terminal_id() -> str:
    return "T-" + base64.b32encode(os.urandom(5)).decode("ascii")


def enrol_terminal(conn: Connection, token_text: str, sign_pub: bytes, box_pub: bytes,
                   proof: bytes, software_version: str, now_us: int) -> Enrolment:
    """Consume a token and register the terminal's keys, in the caller's transaction."""
    try:
        token = enrolment.parse_token(token_text)
    except TokenError as exc:
        raise TokenRefused("token_invalid", Sentence("this is not an enrolment token: %(problem)s",
                                                     problem=exc)) from exc
    if len(sign_pub) != 32 or len(box_pub) != 32:
        raise InvalidInput(Sentence("public keys must be 32 bytes each"))
    try:
        crypto.verify(sign_pub, enrolment.proof_input(token_text, sign_pub, box_pub), proof)
    except SignatureError as exc:
        raise TokenRefused("bad_proof", Sentence("the enrolment proof does not verify")) from exc
    row = conn.execute(select(db.terminal_tokens)
                       .where(db.terminal_tokens.c.digest == token.digest)
                       .with_for_update()).first()
    if row is None:
        raise TokenRefused("token_unknown", Sentence("this enrolment token was never issued here"))
    if row.used_at_us is not None:
        raise TokenRefused("token_used", Sentence("this enrolment token has already been used"))
    if now_us >= row.expires_at_us:
        raise TokenRefused("token_expired", Sentence("this enrolment token has expired; issue a "
                                                     "new one"))
    if conn.execute(select(db.terminals.c.terminal_id)
                    .where(db.terminals.c.sign_pub == sign_pub)).first():
        raise TokenRefused("key_reused", Sentence("this terminal key is already enrolled"))
    terminal_id = new_terminal_id()
    conn.execute(db.terminals.insert().values(
        terminal_id=terminal_id, kindergarten=row.kindergarten, sign_pub=sign_pub,
        box_pub=box_pub, enrolled_at_us=now_us, head_seq=0, head_hash=events.GENESIS_HASH,
        software_version=software_version[:40]))
    conn.execute(db.terminal_tokens.update().where(db.terminal_tokens.c.digest == token.digest)
                 .values(used_at_us=now_us, terminal_id=terminal_id))
    return Enrolment(terminal_id, row.kindergarten, require_kindergarten(conn, row.kindergarten))


def revoke_terminal(conn: Connection, terminal_id: str, reason: str, now_us: int) -> bool:
    """Revoke at once; returns False when it was already revoked (nothing changes then)."""
    return revoke_once(conn, db.terminals, "terminal_id", terminal_id, "revoke_reason", reason,
                       now_us, Sentence("terminal %(terminal_id)s does not exist",
                                        terminal_id=terminal_id))
