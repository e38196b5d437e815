"""Signed terminal requests and the server's signed answers (protocol 2).

A terminal signs each request: method, path, query, its id, its idea of the server's time,
a fresh random nonce and a hash of the body. The server refuses a request whose time is more
than :data:`FRESHNESS_S` off its own clock, or whose signature it has seen before, so a
recorded request cannot be played again (a replayed health report would hide a stolen
terminal).

The server signs every answer to a terminal, errors included: method, path, query, the
terminal id and nonce of the request it answers, the HTTP status and a hash of the exact
body bytes. The terminal checks that signature with the key it pinned at enrolment before it
reads anything of the answer, so nobody between the two can invent, alter or replay an answer
(a recorded answer names another nonce). What the answer carries is then checked by its
reader: whose it is, and that the state it brings is not older than the state kept.
"""

from __future__ import annotations

import base64
import binascii
import re

from protocol import crypto
from protocol.errors import AnswerError, AnswerRefusal, SignatureError

HEADER_TERMINAL = "Qatys-Terminal"
HEADER_TIME = "Qatys-Time"
HEADER_NONCE = "Qatys-Nonce"
HEADER_SIGNATURE = "Qatys-Signature"
HEADER_PROTOCOL = "Qatys-Protocol"
HEADER_ANSWER = "Qatys-Answer-Signature"
"""The server's Ed25519 signature over :func:`answer_signing_input`, base64."""
HEADER_SERVER_KEY = "Qatys-Server-Key"
"""The public key that signed the answer, base64: only a terminal that is enrolling uses it,
after checking it against the fingerprint in its token; every other reader uses its pin."""

FRESHNESS_S = 300
"""A signed request more than this many seconds off the server's clock is refused."""
NONCE_BYTES = 16
_NONCE = re.compile(r"^[0-9a-f]{32}$")
_REQUEST_DOMAIN = "qatys/v2/request"
_ANSWER_DOMAIN = "qatys/v2/answer"


def nonce_text(random_bytes: bytes) -> str:
    """A request nonce (32 hex digits) from :data:`NONCE_BYTES` random bytes."""
    if len(random_bytes) != NONCE_BYTES:
        raise ValueError(f"a nonce is {NONCE_BYTES} random bytes")
    return random_bytes.hex()


def is_nonce(text: str) -> bool:
    return bool(_NONCE.match(text))


def request_signing_input(method: str, path: str, query: str, terminal_id: str, time_s: int,
                          nonce: str, body: bytes) -> bytes:
    """What a terminal signs for one request. ``query`` is the raw query string as sent
    (without ``?``), so a parameter cannot be added, dropped or changed on the way."""
    return "\n".join([_REQUEST_DOMAIN, method.upper(), path, query, terminal_id, str(time_s),
                      nonce, crypto.sha256(body).hex()]).encode("utf-8")


def answer_signing_input(method: str, path: str, query: str, terminal_id: str, nonce: str,
                         status: int, body: bytes) -> bytes:
    """What the server signs for one answer: the request it answers (by its nonce), the
    status and the exact bytes of the body."""
    return "\n".join([_ANSWER_DOMAIN, method.upper(), path, query, terminal_id, nonce,
                      str(status), crypto.sha256(body).hex()]).encode("utf-8")


def is_fresh(time_s: int, now_us: int) -> bool:
    """Whether a request signed at ``time_s`` (unix seconds) may be taken at ``now_us``."""
    return abs(time_s * 1_000_000 - now_us) <= FRESHNESS_S * 1_000_000


def sign_answer(server_seed: bytes, signing_input: bytes) -> str:
    """The value of :data:`HEADER_ANSWER`."""
    return base64.b64encode(crypto.sign(server_seed, signing_input)).decode("ascii")


def verify_answer(server_public: bytes, signing_input: bytes, header: str | None) -> None:
    """Raise :class:`AnswerError` (``unsigned`` or ``bad_signature``) unless ``header``
    is the pinned server key's signature over ``signing_input``."""
    if not header:
        raise AnswerError(AnswerRefusal.UNSIGNED, "the answer carries no server signature")
    try:
        crypto.verify(server_public, signing_input, base64.b64decode(header, validate=True))
    except (SignatureError, binascii.Error, ValueError) as exc:
        raise AnswerError(AnswerRefusal.BAD_SIGNATURE,
                          "the answer's signature does not verify under "
                          "the server key pinned at enrolment") from exc
