"""The rotating phone credential: a QR that a guardian's phone signs every 30 seconds.

The phone keeps an ECDSA P-256 key pair made by the browser (WebCrypto: the private key is
not extractable and never leaves the phone). When a guardian is bound to a child, the server
signs a **binding** with the kindergarten's card key (Ed25519, the key terminals already
trust for cards): "this phone key may bring in this child", with a serial that can be revoked
like a card's. The phone shows

    QP1:<key id>:<child id>:<window>:<binding serial>:<binding signature>:<code signature>

(signatures base64url), where ``window`` counts 30-second periods since 1970 and the code
signature, by the phone's key, covers ``"qatys-phone-v1\\n" + key id + "\\n" + child id + "\\n"
+ window``. A terminal needs only the phone key's public half (sent at sync, named by its
pseudonymous key id) and the revoked serials: no child id is stored on the terminal for it.
A photo of the screen is good for its window (plus one, for a clock a little behind); a
terminal also refuses a code it has already accepted.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass
from enum import StrEnum

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from protocol import crypto
from protocol.errors import CardRefusal, CardRefused, SignatureError

PHONE_PREFIX = "QP1:"
WINDOW_SECONDS = 30
GRACE_WINDOWS = 1
SPKI_BYTES = 91
_TEXT = re.compile(r"^QP1:([0-9a-f]{16}):([A-Za-z0-9][A-Za-z0-9._-]{0,63}):(\d{1,12}):"
                   r"([A-Z2-7]{8}):([A-Za-z0-9_-]{86}):([A-Za-z0-9_-]{86})$")
_CODE_DOMAIN = "qatys-phone-v1"
_BINDING_DOMAIN = b"qatys/v1/phone-binding\x00"


class PickupRelation(StrEnum):
    """How an adult a guardian allowed to collect the child is related to them. The terminal
    learns only this code per phone key (no name) and shows its word on a departure; a code
    it does not know (a newer server) is shown as nothing, never an error."""
    GRANDMOTHER = "grandmother"
    GRANDFATHER = "grandfather"
    NANNY = "nanny"
    AUNT = "aunt"
    UNCLE = "uncle"
    SISTER = "sister"
    BROTHER = "brother"
    NEIGHBOUR = "neighbour"
    OTHER = "other"


MAX_RELATION = 20


@dataclass(frozen=True)
class PhoneCode:
    key_id: str
    child_id: str
    window: int
    serial: str
    binding: bytes
    signature: bytes


def window_at(unix_seconds: float) -> int:
    return int(unix_seconds // WINDOW_SECONDS)


def public_key_from_spki(spki: bytes) -> ec.EllipticCurvePublicKey:
    """A P-256 public key from its SubjectPublicKeyInfo bytes (what WebCrypto exports: 91
    bytes, the point uncompressed)."""
    if len(spki) != SPKI_BYTES:
        raise SignatureError(f"a P-256 key is {SPKI_BYTES} bytes of SubjectPublicKeyInfo",
                             code="bad_key")
    try:
        key = serialization.load_der_public_key(spki)
    except ValueError as exc:
        raise SignatureError("not a public key", code="bad_key") from exc
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        raise SignatureError("the key must be ECDSA P-256", code="bad_key")
    return key


def key_id(spki: bytes) -> str:
    return hashlib.sha256(spki).hexdigest()[:16]


def verify_p1363(spki: bytes, message: bytes, signature: bytes) -> None:
    """Check a WebCrypto ECDSA P-256/SHA-256 signature (r ‖ s, 64 bytes)."""
    if len(signature) != 64:
        raise SignatureError("an ECDSA P-256 signature has 64 bytes", code="bad_signature")
    der = encode_dss_signature(int.from_bytes(signature[:32], "big"),
                               int.from_bytes(signature[32:], "big"))
    try:
        public_key_from_spki(spki).verify(der, message, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature as exc:
        raise SignatureError("signature does not verify", code="bad_signature") from exc


def code_message(key: str, child_id: str, window: int) -> bytes:
    return f"{_CODE_DOMAIN}\n{key}\n{child_id}\n{window}".encode("ascii")


def binding_message(key: str, child_id: str, kindergarten: str, serial: str) -> bytes:
    return _BINDING_DOMAIN + f"{key}\n{child_id}\n{kindergarten}\n{serial}".encode("ascii")


def sign_binding(card_key_seed: bytes, key: str, child_id: str, kindergarten: str,
                 serial: str) -> bytes:
    return crypto.sign(card_key_seed, binding_message(key, child_id, kindergarten, serial))


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def looks_like_phone_code(text: str) -> bool:
    return text.startswith(PHONE_PREFIX)


def read_phone_code(text: str) -> PhoneCode:
    found = _TEXT.match(text.strip())
    if found is None:
        raise CardRefused(CardRefusal.DAMAGED_CARD, "not a Qatys phone code")
    try:
        binding, signature = _unb64url(found.group(5)), _unb64url(found.group(6))
    except (binascii.Error, ValueError) as exc:
        raise CardRefused(CardRefusal.DAMAGED_CARD,
                          "the phone code's signatures are not base64url") from exc
    return PhoneCode(found.group(1), found.group(2), int(found.group(3)), found.group(4),
                     binding, signature)


def verify_phone_code(code: PhoneCode, spki: bytes, kindergarten: str,
                      card_keys: tuple[bytes, ...], now_window: int) -> None:
    """Raise :class:`CardRefused` unless the binding is signed by a card key of this
    kindergarten and the code by the phone's key for a current window."""
    message = binding_message(code.key_id, code.child_id, kindergarten, code.serial)
    if not any(crypto.verifies(key, message, code.binding) for key in card_keys):
        raise CardRefused(CardRefusal.NOT_GUARDIAN, "this phone is not bound to this child here")
    if code.window > now_window + GRACE_WINDOWS:
        raise CardRefused(CardRefusal.EXPIRED_CODE, "the phone's clock is ahead of the terminal's")
    if code.window < now_window - GRACE_WINDOWS:
        raise CardRefused(CardRefusal.EXPIRED_CODE,
                          "the code is from an earlier window (a photo or screenshot?)")
    try:
        verify_p1363(spki, code_message(code.key_id, code.child_id, code.window),
                     code.signature)
    except SignatureError as exc:
        raise CardRefused(CardRefusal.FORGED_CARD,
                          "the phone code's signature does not verify") from exc
