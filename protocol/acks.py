"""Signed acknowledgements: the server's word that events up to a sequence number are stored.

A terminal deletes events only up to a sequence number named in an
acknowledgement that verifies under the server key pinned at enrolment.
"""

from __future__ import annotations

from dataclasses import dataclass

from protocol import MESSAGE_VERSION, canonical, crypto, events, fields
from protocol.errors import EncodingError

_DOMAIN = b"qatys/v1/ack\x00"
_KEYS = {"v", "type", "terminal", "seq", "hash", "stored", "server_time_us"}


@dataclass(frozen=True)
class Ack:
    terminal_id: str
    seq: int
    """Highest sequence number the server holds for the terminal (0: none yet)."""
    head_hash: bytes
    """Hash of the event at ``seq``, so the terminal can check it names its own event."""
    stored: int
    """How many events of the acknowledged batch were new to the server."""
    server_time_us: int


def encode_ack(ack: Ack) -> bytes:
    return canonical.encode(
        {
            "v": MESSAGE_VERSION,
            "type": "ack",
            "terminal": ack.terminal_id,
            "seq": ack.seq,
            "hash": ack.head_hash,
            "stored": ack.stored,
            "server_time_us": ack.server_time_us,
        }
    )


def sign_ack(ack: Ack, server_seed: bytes) -> tuple[bytes, bytes]:
    raw = encode_ack(ack)
    return raw, crypto.sign(server_seed, _DOMAIN + raw)


def verify_ack(raw: bytes, signature: bytes, server_public_key: bytes) -> Ack:
    crypto.verify(server_public_key, _DOMAIN + raw, signature)
    data = canonical.decode_map(raw, "ack")
    events.check_version(data, "ack")
    fields.require_keys(data, _KEYS, set(), "ack")
    if data["type"] != "ack":
        raise EncodingError("message is not an acknowledgement")
    return Ack(
        terminal_id=fields.text(data, "terminal", max_len=events.MAX_TERMINAL_ID),
        seq=fields.uint(data, "seq"),
        head_hash=fields.blob(data, "hash", size=32),
        stored=fields.uint(data, "stored"),
        server_time_us=fields.uint(data, "server_time_us"),
    )
