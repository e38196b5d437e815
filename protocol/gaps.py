"""Chain gaps: a terminal's signed declaration that it no longer holds events ``first_seq ..
last_seq`` of its own chain, so the server records the range as lost (never silently) and takes
the chain continuing after it.

A gap is declared only when the server's signed answer says its head for the terminal is behind
what the server once acknowledged (a restore from an older backup, a failover to a replica that
missed the last transactions) and the terminal has pruned some of those events after its
retention window. ``last_hash`` is the hash of the last lost event — the ``prev`` of the first
event the terminal still holds — so the chain goes on verifiably from it. ``reason`` says why
the events are gone; issue 23 (a damaged store) reuses the same declaration with its own reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from protocol import MESSAGE_VERSION, canonical, crypto, events, fields
from protocol.errors import EncodingError

_DOMAIN = b"qatys/v1/chain-gap\x00"
_KEYS = {"v", "type", "terminal", "kindergarten", "first_seq", "last_seq", "first_time_us",
         "last_time_us", "last_hash", "reason", "declared_us"}


class LostReason(StrEnum):
    """Why a terminal no longer holds a range of its events (``reason``)."""
    RETENTION_EXPIRED = "retention_expired"
    """Acknowledged, then pruned after the retention window; the server lost them later."""
    STORE_DAMAGED = "store_damaged"
    """The terminal's store was damaged and the events could not be read back (issue 23)."""


_REASONS = {r.value: r for r in LostReason}


@dataclass(frozen=True)
class ChainGap:
    terminal_id: str
    kindergarten: str
    first_seq: int
    last_seq: int
    first_time_us: int
    """The earliest time any lost event may carry (the terminal keeps the period of pruned
    events per day, so this is exact to the day at worst)."""
    last_time_us: int
    """The latest time any lost event may carry."""
    last_hash: bytes
    """SHA-256 of the last lost event's bytes: the ``prev`` of the event after the range."""
    reason: LostReason
    declared_us: int
    """The terminal's time of the declaration (as it knows the server's time)."""

    @property
    def count(self) -> int:
        return self.last_seq - self.first_seq + 1


def encode_gap(gap: ChainGap) -> bytes:
    return canonical.encode({
        "v": MESSAGE_VERSION, "type": "chain_gap", "terminal": gap.terminal_id,
        "kindergarten": gap.kindergarten, "first_seq": gap.first_seq, "last_seq": gap.last_seq,
        "first_time_us": gap.first_time_us, "last_time_us": gap.last_time_us,
        "last_hash": gap.last_hash, "reason": str(gap.reason), "declared_us": gap.declared_us,
    })


def sign_gap(gap: ChainGap, terminal_seed: bytes) -> tuple[bytes, bytes]:
    """The declaration's bytes and the terminal's Ed25519 signature over them."""
    raw = encode_gap(gap)
    return raw, crypto.sign(terminal_seed, _DOMAIN + raw)


def verify_gap(raw: bytes, signature: bytes, terminal_public_key: bytes) -> ChainGap:
    """The declaration, once its signature verifies under the terminal's key and its fields
    are well-formed (raises SignatureError or EncodingError otherwise)."""
    crypto.verify(terminal_public_key, _DOMAIN + raw, signature)
    data = canonical.decode_map(raw, "chain gap")
    events.check_version(data, "chain gap")
    fields.require_keys(data, _KEYS, set(), "chain gap")
    if data["type"] != "chain_gap":
        raise EncodingError("message is not a chain gap declaration")
    gap = ChainGap(
        terminal_id=fields.text(data, "terminal", max_len=events.MAX_TERMINAL_ID),
        kindergarten=fields.text(data, "kindergarten", max_len=32),
        first_seq=fields.uint(data, "first_seq", minimum=1),
        last_seq=fields.uint(data, "last_seq", minimum=1),
        first_time_us=fields.uint(data, "first_time_us"),
        last_time_us=fields.uint(data, "last_time_us"),
        last_hash=fields.blob(data, "last_hash", size=32),
        reason=fields.member(data, "reason", _REASONS),
        declared_us=fields.uint(data, "declared_us"),
    )
    if gap.last_seq < gap.first_seq:
        raise EncodingError("last_seq must not be below first_seq")
    if gap.last_time_us < gap.first_time_us:
        raise EncodingError("last_time_us must not be below first_time_us")
    return gap
