"""Checks a request signed by an enrolled terminal (see protocol.auth)."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from flask import request
from sqlalchemy import Row, select

from protocol import auth, crypto
from protocol.errors import SignatureError
from server import db
from server.context import ctx
from server.errors import ApiError


def authenticated_terminal() -> Row[Any]:
    """The terminal that signed this request, refusing unknown, revoked and forged ones."""
    terminal_id = request.headers.get(auth.HEADER_TERMINAL, "")
    time_text = request.headers.get(auth.HEADER_TIME, "")
    try:
        signature = base64.b64decode(request.headers.get(auth.HEADER_SIGNATURE, ""),
                                     validate=True)
        time_s = int(time_text)
    except (binascii.Error, ValueError) as exc:
        raise ApiError(401, "unauthenticated",
                       "the request lacks a valid terminal signature") from exc
    with ctx().engine.connect() as conn:
        row = conn.execute(select(db.terminals)
                           .where(db.terminals.c.terminal_id == terminal_id)).first()
    if row is None:
        raise ApiError(403, "unknown_terminal", f"terminal {terminal_id} is not enrolled")
    message = auth.request_signing_input(request.method, request.path, terminal_id, time_s,
                                         request.get_data())
    try:
        crypto.verify(row.sign_pub, message, signature)
    except SignatureError as exc:
        raise ApiError(403, "bad_signature", "the request signature does not verify") from exc
    if row.revoked_at_us is not None:
        raise ApiError(403, "terminal_revoked", f"terminal {terminal_id} was revoked")
    return row
