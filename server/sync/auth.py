"""Checks a request signed by an enrolled terminal (protocol/auth.py).

In order: the protocol version, the headers, the terminal, its signature over method, path,
query, time, nonce and body, revocation, then freshness: a request signed more than five
minutes off the server's clock (``stale_request``) or whose signature was already taken
(``replayed_request``) is refused before the endpoint does anything. A request that passes is
remembered and counts as the terminal's last contact, in one write.
"""

from __future__ import annotations

import base64
import binascii
import logging
from typing import Any

from flask import request
from sqlalchemy import Row, select
from sqlalchemy.exc import IntegrityError

from protocol import PROTOCOL_VERSION, auth, crypto
from protocol.errors import SignatureError
from qatys.logs import log
from qatys.sentences import Sentence
from server.context import ctx
from server.errors import SyncError
from server.storage import db
from server.sync import replays

logger = logging.getLogger("qatys.server.sync.auth")


def authenticated_terminal(*, fresh: bool = True) -> Row[Any]:
    """The terminal that signed this request, refusing unknown, revoked and forged ones and,
    unless ``fresh`` is False (the time endpoint, which changes nothing), stale and replayed
    ones."""
    version = request.headers.get(auth.HEADER_PROTOCOL, "")
    if version and version != str(PROTOCOL_VERSION):
        raise SyncError("unsupported_version",
                        Sentence("this server speaks protocol %(protocol_version)s, not "
                                 "%(version)s: update the terminal's software",
                                 protocol_version=PROTOCOL_VERSION, version=version))
    terminal_id = request.headers.get(auth.HEADER_TERMINAL, "")
    nonce = request.headers.get(auth.HEADER_NONCE, "")
    try:
        signature = base64.b64decode(request.headers.get(auth.HEADER_SIGNATURE, ""),
                                     validate=True)
        time_s = int(request.headers.get(auth.HEADER_TIME, ""))
    except (binascii.Error, ValueError) as exc:
        raise SyncError("unauthenticated",
                        Sentence("the request lacks a valid terminal signature")) from exc
    if not auth.is_nonce(nonce):
        raise SyncError("unauthenticated", Sentence("the request lacks a nonce (32 hex digits)"))
    with ctx().engine.connect() as conn:
        row = conn.execute(select(db.terminals)
                           .where(db.terminals.c.terminal_id == terminal_id)).first()
    if row is None:
        raise SyncError("unknown_terminal", Sentence("terminal %(terminal_id)s is not enrolled",
                                                     terminal_id=terminal_id))
    message = auth.request_signing_input(request.method, request.path, _query(), terminal_id,
                                         time_s, nonce, request.get_data())
    try:
        crypto.verify(row.sign_pub, message, signature)
    except SignatureError as exc:
        raise SyncError("bad_signature", Sentence("the request signature does not verify")) from exc
    if row.revoked_at_us is not None:
        raise SyncError("terminal_revoked", Sentence("terminal %(terminal_id)s was revoked",
                                                     terminal_id=terminal_id))
    if fresh:
        _require_fresh(terminal_id, time_s, signature)
    return row


def _query() -> str:
    """The raw query string as received: what the terminal signed."""
    return request.query_string.decode("latin-1")


def _require_fresh(terminal_id: str, time_s: int, signature: bytes) -> None:
    context = ctx()
    now = context.clock()
    if not auth.is_fresh(time_s, now):
        log(logger, "request.stale", logging.WARNING, terminal=terminal_id, path=request.path,
            off_s=time_s - now // 1_000_000)
        raise SyncError("stale_request", Sentence("the request's signed time is more than "
                                                  "%(minutes)s minutes off the server's clock; "
                                                  "ask /api/v1/terminal/time first",
                                                  minutes=auth.FRESHNESS_S // 60),
                        server_time_us=now)
    try:
        with db.writing(context.engine) as conn:
            first = replays.first_sight(conn, terminal_id, signature, time_s, now)
            if first:  # one write per request: remembered, and counted as a contact
                conn.execute(db.terminals.update()
                             .where(db.terminals.c.terminal_id == terminal_id)
                             .values(last_contact_us=now))
    except IntegrityError:  # the same request taken by another worker at the same moment
        first = False
    if not first:
        log(logger, "request.replayed", logging.WARNING, terminal=terminal_id,
            path=request.path)
        raise SyncError("replayed_request", Sentence("this signed request was already taken"))
