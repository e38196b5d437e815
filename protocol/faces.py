"""Face templates and the kindergarten's face key, in the forms they are stored and relayed.

A *template* is a child's face encodings (128 numbers each, from dlib's encoder), with the
consent record it depends on. It is encrypted under the kindergarten's *face key*, a random
32-byte key that only that kindergarten's terminals hold: each terminal receives the key
sealed to its own X25519 key by a sibling terminal, through the server, which relays both
without being able to open either (invariant 5). Encodings travel as little-endian float32.
"""

from __future__ import annotations

import math
import re
import struct
from dataclasses import dataclass
from enum import StrEnum

from protocol import MESSAGE_VERSION, canonical, crypto, events, fields
from protocol.errors import EncodingError

DIMENSIONS = 128
ENCODING_BYTES = DIMENSIONS * 4
MAX_ENCODINGS = 10
"""Per template: enrolment keeps the best frames, a handful is plenty."""
MAX_TEMPLATE_BLOB = 1024 + MAX_ENCODINGS * ENCODING_BYTES
"""An encrypted template is never larger than this; the server refuses bigger uploads."""
MAX_KEY_WRAP = crypto.SEAL_OVERHEAD + 256


class EraseReason(StrEnum):
    """Why a face template was erased: the server says it in a face sync's ``erase`` list,
    a terminal says it in its erasure receipts (docs/faces.md)."""
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"
    LEFT = "left"
    """The child left the kindergarten (or the terminal's roster)."""
    REPLACED = "replaced"
    """A newer enrolment of the same child."""
    NO_CONSENT = "no_consent"
    """No grant of this child is in force under the record it names."""
    REFUSED = "refused"
    """The server refused the template, for a reason the terminal does not record."""
    UNKNOWN = "unknown"
    """The server knows no such template (said in a face sync only)."""


_ID = re.compile(r"^[0-9a-f]{32}$")
_KEY_ID = re.compile(r"^[0-9a-f]{16}$")
_TEMPLATE_AAD = b"qatys/v1/face-template\x00"
_WRAP_AAD = b"qatys/v1/face-key\x00"
_TEMPLATE_KEYS = {"v", "type", "kindergarten", "template", "child", "record", "terminal",
                  "enrolled_us", "encodings"}


@dataclass(frozen=True)
class Template:
    template_id: str
    kindergarten: str
    child_id: str
    consent_record: int
    """The consent-ledger record (a grant) this template exists under."""
    terminal_id: str
    """Where it was enrolled."""
    enrolled_at_us: int
    encodings: bytes
    """n × 128 float32, little-endian."""

    @property
    def count(self) -> int:
        return len(self.encodings) // ENCODING_BYTES


def is_template_id(value: str) -> bool:
    return bool(_ID.match(value))


def is_key_id(value: str) -> bool:
    return bool(_KEY_ID.match(value))


def pack_encodings(encodings: list[list[float]]) -> bytes:
    """Encodings as float32 bytes; refuses a wrong dimension or a non-finite number."""
    if not 1 <= len(encodings) <= MAX_ENCODINGS:
        raise EncodingError(f"a template holds 1..{MAX_ENCODINGS} encodings")
    out = bytearray()
    for encoding in encodings:
        if len(encoding) != DIMENSIONS:
            raise EncodingError(f"an encoding has {DIMENSIONS} numbers")
        out += struct.pack(f"<{DIMENSIONS}f", *encoding)
    check_encodings(bytes(out))
    return bytes(out)


def check_encodings(raw: bytes) -> None:
    if not raw or len(raw) % ENCODING_BYTES or len(raw) // ENCODING_BYTES > MAX_ENCODINGS:
        raise EncodingError(f"encodings must be 1..{MAX_ENCODINGS} × {ENCODING_BYTES} bytes")
    if not all(math.isfinite(x) for x in struct.unpack(f"<{len(raw) // 4}f", raw)):
        raise EncodingError("an encoding holds a number that is not finite")


def _template_aad(kindergarten: str, key_id: str, template_id: str) -> bytes:
    return _TEMPLATE_AAD + f"{kindergarten}\x00{key_id}\x00{template_id}".encode()


def encrypt_template(template: Template, key_id: str, face_key: bytes, nonce: bytes) -> bytes:
    """The template under the kindergarten's face key: what terminals store and relay."""
    if not is_template_id(template.template_id) or not is_key_id(key_id):
        raise EncodingError("template id is 32 hex digits, key id 16")
    check_encodings(template.encodings)
    plain = canonical.encode({
        "v": MESSAGE_VERSION, "type": "face-template", "kindergarten": template.kindergarten,
        "template": template.template_id, "child": template.child_id,
        "record": template.consent_record, "terminal": template.terminal_id,
        "enrolled_us": template.enrolled_at_us, "encodings": template.encodings,
    })
    return crypto.encrypt(face_key, nonce, plain,
                          _template_aad(template.kindergarten, key_id, template.template_id))


def decrypt_template(blob: bytes, kindergarten: str, key_id: str, template_id: str,
                     face_key: bytes) -> Template:
    """Open a template; :class:`~protocol.errors.SealError` if it is not what it says."""
    plain = crypto.decrypt(face_key, blob, _template_aad(kindergarten, key_id, template_id))
    data = canonical.decode_map(plain, "face template")
    events.check_version(data, "face template")
    fields.require_keys(data, _TEMPLATE_KEYS, set(), "face template")
    if data["type"] != "face-template":
        raise EncodingError("not a face template")
    template = Template(
        template_id=fields.text(data, "template", max_len=32),
        kindergarten=fields.text(data, "kindergarten", max_len=32),
        child_id=fields.text(data, "child", max_len=events.MAX_CHILD_ID),
        consent_record=fields.uint(data, "record", minimum=1),
        terminal_id=fields.text(data, "terminal", max_len=events.MAX_TERMINAL_ID),
        enrolled_at_us=fields.uint(data, "enrolled_us"),
        encodings=fields.blob(data, "encodings", max_len=MAX_ENCODINGS * ENCODING_BYTES),
    )
    check_encodings(template.encodings)
    if (template.template_id, template.kindergarten) != (template_id, kindergarten):
        raise EncodingError("the template names another id or kindergarten")
    return template


def _wrap_aad(kindergarten: str, key_id: str, terminal_id: str) -> bytes:
    return _WRAP_AAD + f"{kindergarten}\x00{key_id}\x00{terminal_id}".encode()


def wrap_face_key(face_key: bytes, key_id: str, kindergarten: str, terminal_id: str,
                  terminal_box_public: bytes, ephemeral_private: bytes, nonce: bytes) -> bytes:
    """The face key sealed to one terminal's X25519 key, bound to its id and kindergarten."""
    if len(face_key) != crypto.KEY_SIZE or not is_key_id(key_id):
        raise EncodingError("a face key is 32 bytes with a 16-hex-digit id")
    return crypto.seal_to(terminal_box_public, face_key,
                          _wrap_aad(kindergarten, key_id, terminal_id), ephemeral_private, nonce)


def unwrap_face_key(sealed: bytes, key_id: str, kindergarten: str, terminal_id: str,
                    terminal_box_private: bytes) -> bytes:
    key = crypto.open_sealed(terminal_box_private, sealed,
                             _wrap_aad(kindergarten, key_id, terminal_id))
    if len(key) != crypto.KEY_SIZE:
        raise EncodingError("a face key is 32 bytes")
    return key
