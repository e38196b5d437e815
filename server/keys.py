"""The server's own keys: Ed25519 to sign acknowledgements, X25519 to open sealed bodies.

Kept in ``DATA/keys/server-keys.json``, mode 0600. Losing this file means
terminals can no longer verify acknowledgements and sealed bodies cannot be
opened: back it up with the database.

Beside it, ``DATA/keys/vapid-private.pem`` (0600): the application server's VAPID key pair
for Web Push (RFC 8292, ECDSA P-256, docs/notifications.md), made once by `qatys server
init` (an older data directory gets it at its next `qatys server init`, as every upgrade
runs it). Replacing it invalidates every phone's push subscription: they must opt in again.
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from protocol import crypto
from qatys.files import is_private, write_private
from qatys.sentences import Sentence
from server.errors import SetupError


@dataclass(frozen=True)
class ServerKeys:
    sign_seed: bytes
    box_private: bytes

    @property
    def sign_public(self) -> bytes:
        return crypto.signing_public_key(self.sign_seed)

    @property
    def box_public(self) -> bytes:
        return crypto.box_public_key(self.box_private)


def create_keys(path: Path) -> ServerKeys:
    if path.exists():
        return load_keys(path)
    keys = ServerKeys(os.urandom(32), os.urandom(32))
    body = {"sign_seed": base64.b64encode(keys.sign_seed).decode(),
            "box_private": base64.b64encode(keys.box_private).decode()}
    write_private(path, json.dumps(body).encode())
    return keys


def load_keys(path: Path) -> ServerKeys:
    if not path.exists():
        raise SetupError(Sentence("server keys not found at %(path)s; run `qatys server init` "
                                  "first", path=path))
    if not is_private(path):
        raise SetupError(Sentence("%(path)s is readable by others; chmod 600 it", path=path))
    try:
        body = json.loads(path.read_text())
        keys = ServerKeys(base64.b64decode(body["sign_seed"]),
                          base64.b64decode(body["box_private"]))
        crypto.signing_public_key(keys.sign_seed)
        crypto.box_public_key(keys.box_private)
    except (ValueError, KeyError, TypeError) as exc:
        raise SetupError(Sentence("%(path)s is not a valid server key file", path=path)) from exc
    return keys


def create_session_secret(path: Path) -> bytes:
    """The key that signs finance-page session cookies; made once, kept beside the keys.
    Replacing it signs everyone out, nothing else."""
    if not path.exists():
        write_private(path, os.urandom(32))
    return load_session_secret(path)


def load_session_secret(path: Path) -> bytes:
    if not path.exists():
        raise SetupError(Sentence("%(path)s is missing; run `qatys server init` again", path=path))
    if not is_private(path):
        raise SetupError(Sentence("%(path)s is readable by others; chmod 600 it", path=path))
    secret = path.read_bytes()
    if len(secret) != 32:
        raise SetupError(Sentence("%(path)s is not a session secret", path=path))
    return secret


def create_vapid_key(path: Path) -> ec.EllipticCurvePrivateKey:
    """The key at ``path``, made first if there is none (safe to run again)."""
    if not path.exists():
        key = ec.generate_private_key(ec.SECP256R1())
        write_private(path, key.private_bytes(serialization.Encoding.PEM,
                                              serialization.PrivateFormat.PKCS8,
                                              serialization.NoEncryption()))
    return load_vapid_key(path)


def load_vapid_key(path: Path) -> ec.EllipticCurvePrivateKey:
    if not path.exists():
        raise SetupError(Sentence("%(path)s is missing; run `qatys server init` again", path=path))
    if not is_private(path):
        raise SetupError(Sentence("%(path)s is readable by others; chmod 600 it", path=path))
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except ValueError as exc:
        raise SetupError(Sentence("%(path)s is not a VAPID key (P-256, PEM)", path=path)) from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise SetupError(Sentence("%(path)s is not a VAPID key (P-256, PEM)", path=path))
    return key


def application_server_key(key: ec.EllipticCurvePrivateKey) -> str:
    """The public key as a browser's ``applicationServerKey`` takes it: the uncompressed
    P-256 point (65 bytes), base64url without padding."""
    raw = key.public_key().public_bytes(serialization.Encoding.X962,
                                        serialization.PublicFormat.UncompressedPoint)
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")
