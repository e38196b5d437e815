"""HTTP to the sync server: signed requests out, and only answers the server signed back.

Every request carries a fresh nonce; every answer must carry the server's signature over that
nonce, the request line, the status and the exact body (protocol/auth.py). It is checked with
the key pinned at enrolment before anything of the answer is read: an answer that is
unsigned, altered or recorded earlier raises :class:`AnswerRefused`, and nothing of it is
used. Network failures, timeouts and 5xx answers become :class:`ServerUnreachable` (try again
later: they change nothing here); signed 4xx answers become :class:`ServerRefused` with the
server's stable code. Nothing here retries: the sync loop decides.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import requests

from protocol import PROTOCOL_VERSION, auth, crypto
from protocol.errors import AnswerError, AnswerRefusal
from qatys import __version__
from qatys.sentences import Sentence
from terminal.errors import AnswerRefused, ServerRefused, ServerUnreachable

USER_AGENT = f"qatys-terminal/{__version__}"
KeyCheck = Callable[[str | None], bytes]
"""Turns the answer's Qatys-Server-Key header into the key to verify with, or raises: for
an enrolling terminal, which has no pinned key yet but a fingerprint in its token."""


@dataclass(frozen=True)
class Signer:
    """A terminal's identity for signed requests."""

    terminal_id: str
    sign_seed: bytes


@dataclass(frozen=True)
class _Request:
    method: str
    path: str
    query: str
    terminal_id: str
    nonce: str
    body: bytes


def wall_clock_s() -> int:
    return int(time.time())


class ServerClient:
    def __init__(self, base_url: str, timeout: float = 30.0,
                 session: requests.Session | None = None, *, server_key: bytes = b"",
                 clock_s: Callable[[], int] = wall_clock_s) -> None:
        """``server_key`` is the pinned server key every answer is checked with;
        ``clock_s`` is the terminal's idea of the server's time, for Qatys-Time."""
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.server_key = server_key
        self.clock_s = clock_s
        self.session = session or requests.Session()
        self.session.headers["User-Agent"] = USER_AGENT
        self.session.headers[auth.HEADER_PROTOCOL] = str(PROTOCOL_VERSION)

    def post_batch(self, body: bytes, terminal_id: str) -> dict[str, Any]:
        """A batch carries its own signature; the answer is checked like every other."""
        return self._call(_request("POST", "/api/v1/batches", "", terminal_id, body),
                          {"Content-Type": "application/cbor"})

    def enrol(self, payload: dict[str, Any], key_check: KeyCheck) -> dict[str, Any]:
        """The enrolment answer, signed by the key ``key_check`` accepts."""
        body = json.dumps(payload, separators=(",", ":")).encode("utf-8")
        return self._call(_request("POST", "/api/v1/terminals/enrol", "", "", body),
                          {"Content-Type": "application/json"}, key_check)

    def signed_get(self, path: str, terminal_id: str, sign_seed: bytes,
                   params: dict[str, str] | None = None) -> dict[str, Any]:
        query = urlencode(sorted((params or {}).items()))
        request = _request("GET", path, query, terminal_id, b"")
        return self._call(request, self._signature(request, Signer(terminal_id, sign_seed)))

    def signed_post(self, path: str, terminal_id: str, sign_seed: bytes,
                    payload: dict[str, Any]) -> dict[str, Any]:
        """A JSON body signed with the terminal's key (the signature covers its hash)."""
        body = json.dumps(payload, separators=(",", ":")).encode("utf-8")
        request = _request("POST", path, "", terminal_id, body)
        headers = self._signature(request, Signer(terminal_id, sign_seed))
        return self._call(request, {**headers, "Content-Type": "application/json"})

    def _signature(self, request: _Request, signer: Signer) -> dict[str, str]:
        now_s = self.clock_s()
        message = auth.request_signing_input(request.method, request.path, request.query,
                                             signer.terminal_id, now_s, request.nonce,
                                             request.body)
        return {auth.HEADER_TIME: str(now_s),
                auth.HEADER_SIGNATURE: base64.b64encode(
                    crypto.sign(signer.sign_seed, message)).decode("ascii")}

    def _call(self, request: _Request, headers: dict[str, str],
              key_check: KeyCheck | None = None) -> dict[str, Any]:
        headers = {**headers, auth.HEADER_NONCE: request.nonce}
        if request.terminal_id:
            headers[auth.HEADER_TERMINAL] = request.terminal_id
        url = self.base_url + request.path + (f"?{request.query}" if request.query else "")
        try:
            response = self.session.request(request.method, url, data=request.body or None,
                                            headers=headers, timeout=self.timeout,
                                            allow_redirects=False)
        except requests.RequestException as exc:
            raise ServerUnreachable(Sentence("%(base_url)s did not answer: %(kind)s",
                                             base_url=self.base_url,
                                             kind=type(exc).__name__)) from exc
        if response.status_code >= 500:
            raise ServerUnreachable(Sentence("%(base_url)s answered %(status_code)s",
                                             base_url=self.base_url,
                                             status_code=response.status_code))
        body = self._believed(request, response, key_check)
        if response.status_code >= 400 or not body.get("ok"):
            err = body.get("error") or {}
            if not isinstance(err, dict):
                err = {}
            raise ServerRefused(str(err.get("code", f"http_{response.status_code}")),
                                str(err.get("message", "refused")), err)
        return body

    def _believed(self, request: _Request, response: requests.Response,
                  key_check: KeyCheck | None) -> dict[str, Any]:
        """The answer's JSON body, once its signature is known to be the server's."""
        key = self.server_key if key_check is None else key_check(
            response.headers.get(auth.HEADER_SERVER_KEY))
        signed = auth.answer_signing_input(request.method, request.path, request.query,
                                           request.terminal_id, request.nonce,
                                           response.status_code, response.content)
        try:
            auth.verify_answer(key, signed, response.headers.get(auth.HEADER_ANSWER))
        except AnswerError as exc:
            raise AnswerRefused(AnswerRefusal(exc.code),
                                Sentence("%(message)s (%(method)s %(path)s, HTTP "
                                         "%(status_code)s); nothing of it was used",
                                         message=exc.message, method=request.method,
                                         path=request.path,
                                         status_code=response.status_code)) from exc
        try:
            body = json.loads(response.content)
        except (ValueError, UnicodeDecodeError):
            body = None
        if not isinstance(body, dict):
            raise AnswerRefused(AnswerRefusal.MALFORMED,
                                Sentence("%(path)s: the signed answer is not a JSON object",
                                         path=request.path))
        return body


def _request(method: str, path: str, query: str, terminal_id: str, body: bytes) -> _Request:
    return _Request(method, path, query, terminal_id, auth.nonce_text(os.urandom(16)), body)


def key_from_header(header: str | None) -> bytes:
    """The public key an answer says signed it (still to be checked against a pin)."""
    try:
        key = base64.b64decode(header or "", validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != 32:
        raise AnswerRefused(AnswerRefusal.UNSIGNED,
                            Sentence("the answer does not name the key that signed it"))
    return key
