"""One-time enrolment tokens and the proof a terminal gives when it enrols.

A token is ``QTK1-<secret>-<fingerprint>``: 160 random bits in base32 and the
fingerprint of the server's signing key. The terminal checks that the server
it reaches holds the key the token names, so a token cannot enrol a terminal
against an impostor; the server stores only a hash of the secret.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from urllib.parse import parse_qs, urlencode, urlparse

from protocol import canonical, crypto
from protocol.errors import TokenError

TOKEN_PREFIX = "QTK1"  # noqa: S105 - a format marker, not a secret
SECRET_BYTES = 20
_TOKEN_RE = re.compile(r"^QTK1-([A-Z2-7]{32})-([A-Z2-7]{16})$")
_PROOF_DOMAIN = b"qatys/v1/enrol\x00"
QR_SCHEME = "qatys"


@dataclass(frozen=True)
class Token:
    secret: bytes
    server_fingerprint: str

    def __str__(self) -> str:
        secret = base64.b32encode(self.secret).decode("ascii")
        return f"{TOKEN_PREFIX}-{secret}-{self.server_fingerprint}"

    @property
    def digest(self) -> bytes:
        """What the server stores instead of the secret."""
        return crypto.sha256(b"qatys/v1/token\x00" + self.secret)


def make_token(secret: bytes, server_signing_public: bytes) -> Token:
    if len(secret) != SECRET_BYTES:
        raise ValueError(f"token secret must be {SECRET_BYTES} bytes")
    return Token(secret, crypto.fingerprint(server_signing_public))


def parse_token(text: str) -> Token:
    match = _TOKEN_RE.match(text.strip().upper())
    if not match:
        raise TokenError("enrolment token must look like QTK1-<32 characters>-<16 characters>")
    try:
        secret = base64.b32decode(match.group(1))
    except binascii.Error as exc:
        raise TokenError("enrolment token is not valid base32") from exc
    return Token(secret, match.group(2))


def enrolment_uri(server_url: str, token: Token) -> str:
    """What the token's QR code holds: the terminal learns server and token from one scan."""
    return f"{QR_SCHEME}://enrol?" + urlencode({"server": server_url, "token": str(token)})


def parse_enrolment_uri(uri: str) -> tuple[str, Token]:
    parsed = urlparse(uri)
    query = parse_qs(parsed.query)
    if parsed.scheme != QR_SCHEME or parsed.netloc != "enrol" or "server" not in query:
        raise TokenError("this code is not a Qatys enrolment code")
    return query["server"][0], parse_token(query.get("token", [""])[0])


def proof_input(token: str, signing_public: bytes, box_public: bytes) -> bytes:
    """What the new terminal signs, proving it holds the private key it registers."""
    return _PROOF_DOMAIN + canonical.encode(
        {"token": token, "sign_pub": signing_public, "box_pub": box_public}
    )
