"""A withdrawal of face-check-in consent recorded at a terminal, sealed to the server.

A parent may withdraw consent at the door. The terminal erases the child's templates at
once and queues this notice for the consent ledger; it is sealed to the server's key, so
the queue on the terminal's disk names no child. ``request`` makes it count once however
often it is sent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from protocol import MESSAGE_VERSION, canonical, crypto, events, fields
from protocol.errors import EncodingError

_AAD = b"qatys/v1/consent-withdrawal\x00"
_KEYS = {"v", "type", "request", "child", "by", "at_us"}
_REQUEST = re.compile(r"^[0-9a-f]{32}$")


@dataclass(frozen=True)
class Withdrawal:
    request_id: str
    child_id: str
    by: str
    """Who took it at the terminal (staff name), as they typed it."""
    at_us: int


def seal_withdrawal(notice: Withdrawal, terminal_id: str, server_box_public: bytes,
                    ephemeral_private: bytes, nonce: bytes) -> bytes:
    if not _REQUEST.match(notice.request_id):
        raise EncodingError("a request id is 32 hex digits")
    plain = canonical.encode({"v": MESSAGE_VERSION, "type": "consent-withdrawal",
                              "request": notice.request_id, "child": notice.child_id,
                              "by": notice.by or "-", "at_us": notice.at_us})
    return crypto.seal_to(server_box_public, plain, _AAD + terminal_id.encode("utf-8"),
                          ephemeral_private, nonce)


def open_withdrawal(sealed: bytes, terminal_id: str, server_box_private: bytes) -> Withdrawal:
    plain = crypto.open_sealed(server_box_private, sealed, _AAD + terminal_id.encode("utf-8"))
    data = canonical.decode_map(plain, "consent withdrawal")
    events.check_version(data, "consent withdrawal")
    fields.require_keys(data, _KEYS, set(), "consent withdrawal")
    if data["type"] != "consent-withdrawal":
        raise EncodingError("not a consent withdrawal")
    request_id = fields.text(data, "request", max_len=32)
    if not _REQUEST.match(request_id):
        raise EncodingError("a request id is 32 hex digits")
    return Withdrawal(request_id, fields.text(data, "child", max_len=events.MAX_CHILD_ID),
                      fields.text(data, "by", max_len=events.MAX_TEXT),
                      fields.uint(data, "at_us"))
