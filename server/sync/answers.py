"""Every answer to a terminal is signed (protocol/auth.py): the terminal believes nothing the
server's key did not sign for its own request, errors included (a forged "terminal revoked"
would otherwise stop a door).

Registered on the app for every response: answers to requests that carry a terminal's
nonce, on the paths terminals use, get the signature and the key that made it."""

from __future__ import annotations

import base64

from flask import request
from werkzeug.wrappers.response import Response

from protocol import auth
from server.context import ctx

TERMINAL_PATHS = ("/api/v1/terminal/", "/api/v1/terminals/", "/api/v1/batches")


def sign_terminal_answer(response: Response) -> Response:
    nonce = request.headers.get(auth.HEADER_NONCE, "")
    if not auth.is_nonce(nonce) or not request.path.startswith(TERMINAL_PATHS) \
            or response.direct_passthrough:
        return response
    keys = ctx().keys
    signed = auth.answer_signing_input(
        request.method, request.path, request.query_string.decode("latin-1"),
        request.headers.get(auth.HEADER_TERMINAL, ""), nonce, response.status_code,
        response.get_data())
    response.headers[auth.HEADER_ANSWER] = auth.sign_answer(keys.sign_seed, signed)
    response.headers[auth.HEADER_SERVER_KEY] = base64.b64encode(keys.sign_public).decode()
    return response
