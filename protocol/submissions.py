"""Signing what the server sends to the queue core (funding statements).

The queue core checks two headers on every submission: ``Idempotency-Key`` and
``X-Qatys-Signature``. The signature covers the key and the exact body bytes, so a
body cannot be replayed under another key, nor a key reused for another body.
"""

from __future__ import annotations

import base64
import binascii
import re

from protocol import crypto
from protocol.errors import SignatureError

SIGNATURE_HEADER = "X-Qatys-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"
_DOMAIN = b"qatys-submission-v1\n"
_KEY = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")
_HEADER = re.compile(r"^ed25519 keyid=([A-Z2-7]{16}) sig=([A-Za-z0-9+/=]{88})$")


def signing_input(idempotency_key: str, body: bytes) -> bytes:
    if not _KEY.match(idempotency_key):
        raise SignatureError("the idempotency key must be 8-128 of A-Z a-z 0-9 . _ : -",
                             code="bad_idempotency_key")
    return _DOMAIN + idempotency_key.encode("ascii") + b"\n" + body


def sign_submission(seed: bytes, idempotency_key: str, body: bytes) -> str:
    """The ``X-Qatys-Signature`` header value for this key and body."""
    signature = crypto.sign(seed, signing_input(idempotency_key, body))
    keyid = crypto.fingerprint(crypto.signing_public_key(seed))
    return f"ed25519 keyid={keyid} sig={base64.b64encode(signature).decode('ascii')}"


def verify_submission(public_key: bytes, idempotency_key: str, body: bytes,
                      header: str) -> None:
    """Raise :class:`SignatureError` unless ``header`` signs this key and body with the key."""
    found = _HEADER.match(header.strip())
    if found is None:
        raise SignatureError(f"{SIGNATURE_HEADER} must be 'ed25519 keyid=… sig=…'",
                             code="bad_signature")
    if found.group(1) != crypto.fingerprint(public_key):
        raise SignatureError("signed by a key this queue core does not trust",
                             code="unknown_key")
    try:
        signature = base64.b64decode(found.group(2), validate=True)
    except binascii.Error as exc:
        raise SignatureError("the signature is not base64", code="bad_signature") from exc
    crypto.verify(public_key, signing_input(idempotency_key, body), signature)
