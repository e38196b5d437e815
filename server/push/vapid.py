"""The application server's VAPID key pair (RFC 8292): ECDSA P-256, kept as PEM in
``DATA/keys/vapid-private.pem`` (0600), made once by `qatys server init` (an older data
directory gets it at its next `qatys server init`, as every upgrade runs it). Replacing it
invalidates every phone's subscription: they must opt in again."""

from __future__ import annotations

import base64
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from qatys.files import is_private, write_private
from qatys.sentences import Sentence
from server.errors import SetupError


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
