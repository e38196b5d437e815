"""Signed batches: up to 500 consecutive events of one terminal, signed over the chain.

The signature covers the canonical encoding of the whole batch (less the
signature), which includes every event's bytes verbatim; each event names the
hash of its predecessor, so the signature commits to the chain itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from protocol import MAX_BATCH_EVENTS, MESSAGE_VERSION, canonical, crypto, events, fields
from protocol.errors import ChainError, EncodingError

MAX_BATCH_BYTES = 4 * 1024 * 1024
"""Largest request body the server reads; a full batch is far smaller (~200 KB)."""

_SIGNING_DOMAIN = b"qatys/v1/batch\x00"
_KEYS = {"v", "type", "terminal", "kindergarten", "events", "sig"}


@dataclass(frozen=True)
class Batch:
    terminal_id: str
    kindergarten: str
    events: tuple[bytes, ...]
    signature: bytes

    def signing_input(self) -> bytes:
        return _signing_input(self.terminal_id, self.kindergarten, self.events)


class VerifiedEvent(NamedTuple):
    """An event whose signature and chain link were checked, with its stored bytes and hash."""

    event: events.Event
    raw: bytes
    hash: bytes


def _unsigned(terminal_id: str, kindergarten: str, raws: Sequence[bytes]) -> dict[str, object]:
    return {
        "v": MESSAGE_VERSION,
        "type": "batch",
        "terminal": terminal_id,
        "kindergarten": kindergarten,
        "events": list(raws),
    }


def _signing_input(terminal_id: str, kindergarten: str, raws: Sequence[bytes]) -> bytes:
    return _SIGNING_DOMAIN + canonical.encode(_unsigned(terminal_id, kindergarten, raws))


def build_batch(
    terminal_id: str, kindergarten: str, raws: Sequence[bytes], signing_seed: bytes
) -> bytes:
    """The bytes a terminal sends: its events, in order, signed with its Ed25519 key."""
    if not 1 <= len(raws) <= MAX_BATCH_EVENTS:
        raise ValueError(f"a batch holds 1..{MAX_BATCH_EVENTS} events")
    signature = crypto.sign(signing_seed, _signing_input(terminal_id, kindergarten, raws))
    data = _unsigned(terminal_id, kindergarten, raws)
    data["sig"] = signature
    return canonical.encode(data)


def parse_batch(data: bytes) -> Batch:
    """Read a batch's fields without trusting any of them (no signature check yet)."""
    if len(data) > MAX_BATCH_BYTES:
        raise EncodingError(f"batch is larger than {MAX_BATCH_BYTES} bytes")
    msg = canonical.decode_map(data, "batch")
    events.check_version(msg, "batch")
    fields.require_keys(msg, _KEYS, set(), "batch")
    if msg["type"] != "batch":
        raise EncodingError("message is not a batch")
    raws = msg["events"]
    if not isinstance(raws, list) or not 1 <= len(raws) <= MAX_BATCH_EVENTS:
        raise EncodingError(f"batch must carry 1..{MAX_BATCH_EVENTS} events")
    if not all(isinstance(r, bytes) for r in raws):
        raise EncodingError("batch events must be byte strings")
    return Batch(
        terminal_id=fields.text(msg, "terminal", max_len=events.MAX_TERMINAL_ID),
        kindergarten=fields.text(msg, "kindergarten", max_len=64),
        events=tuple(raws),
        signature=fields.blob(msg, "sig", size=64),
    )


def verify_batch(batch: Batch, terminal_public_key: bytes) -> list[VerifiedEvent]:
    """Check the signature, then that the events form one unbroken chain of this terminal.

    The link of the first event to what the server already holds is checked by
    the caller, which knows the stored head (see :func:`check_link`).
    """
    crypto.verify(terminal_public_key, batch.signing_input(), batch.signature)
    verified: list[VerifiedEvent] = []
    for raw in batch.events:
        event = events.decode_event(raw)
        if event.terminal_id != batch.terminal_id:
            raise ChainError(
                f"event {event.event_id} belongs to another terminal than the batch",
                code="terminal_mismatch",
            )
        if verified:
            prev = verified[-1]
            if event.seq != prev.event.seq + 1:
                raise ChainError(f"sequence jumps from {prev.event.seq} to {event.seq}",
                                 code="bad_sequence")
            check_link(event, prev.hash)
        verified.append(VerifiedEvent(event, raw, events.event_hash(raw)))
    return verified


def check_link(event: events.Event, expected_prev_hash: bytes) -> None:
    if event.prev_hash != expected_prev_hash:
        raise ChainError(f"event {event.event_id} does not link to its predecessor")
