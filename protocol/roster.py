"""The roster a terminal needs to greet children, delivered sealed to that terminal.

Only child ids and first names travel (a child is greeted by first name), with
a fresh key under which the terminal keeps them at rest. The terminal holds
that key in RAM only, so its disk alone reveals no name. The same key comes
wrapped for each of the kindergarten's unlock cards (see :mod:`protocol.unlock`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from protocol import MESSAGE_VERSION, canonical, crypto, events, fields, unlock
from protocol.errors import EncodingError

_AAD = b"qatys/v1/roster\x00"
_KEYS = {"v", "type", "kindergarten", "version", "key", "children", "unlock"}


class ConsentStatus(StrEnum):
    """A child's face-check-in consent, as the ledger's latest record makes it."""
    GRANTED = "granted"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"
    NONE = "none"
    """No record at all; never sent (the roster then carries no consent)."""


CONSENT_STATUSES = (ConsentStatus.GRANTED, ConsentStatus.WITHDRAWN, ConsentStatus.EXPIRED)
"""What a roster may carry."""


@dataclass(frozen=True)
class Consent:
    """The child's current face-check-in consent (the face issue reads it): its status, the
    ledger record it comes from, and until when a grant runs (YYYY-MM-DD)."""

    status: ConsentStatus
    record: int
    until: str = ""


@dataclass(frozen=True)
class RosterEntry:
    child_id: str
    first_name: str
    consent: Consent | None = None


@dataclass(frozen=True)
class RosterDelivery:
    kindergarten: str
    version: str
    key: bytes
    children: tuple[RosterEntry, ...]
    unlock_set: unlock.UnlockSet


def encode_entries(children: tuple[RosterEntry, ...]) -> bytes:
    return canonical.encode([_entry(c) for c in children])


def _entry(child: RosterEntry) -> dict[str, object]:
    entry: dict[str, object] = {"child": child.child_id, "name": child.first_name}
    if child.consent is not None:  # absent when there is no record: older bytes unchanged
        consent: dict[str, object] = {"status": child.consent.status,
                                      "record": child.consent.record}
        if child.consent.until:
            consent["until"] = child.consent.until
        entry["consent"] = consent
    return entry


def decode_entries(raw: bytes) -> tuple[RosterEntry, ...]:
    items = canonical.decode(raw)
    if not isinstance(items, list):
        raise EncodingError("roster entries must be a list")
    out = []
    for item in items:
        if not isinstance(item, dict):
            raise EncodingError("roster entry must be a map")
        fields.require_keys(item, {"child", "name"}, {"consent"}, "roster entry")
        out.append(RosterEntry(fields.text(item, "child", max_len=events.MAX_CHILD_ID),
                               fields.text(item, "name", max_len=200), _consent(item)))
    return tuple(out)


def _consent(item: dict[str, object]) -> Consent | None:
    raw = item.get("consent")
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise EncodingError("a consent is a map")
    fields.require_keys(raw, {"status", "record"}, {"until"}, "consent")
    return Consent(ConsentStatus(fields.choice(raw, "status", CONSENT_STATUSES)),
                   fields.uint(raw, "record"),
                   fields.text(raw, "until", max_len=10, optional=True))


def seal_roster(
    delivery: RosterDelivery, terminal_id: str, terminal_box_public: bytes,
    ephemeral_private: bytes, nonce: bytes,
) -> bytes:
    plain = canonical.encode({
        "v": MESSAGE_VERSION,
        "type": "roster",
        "kindergarten": delivery.kindergarten,
        "version": delivery.version,
        "key": delivery.key,
        "children": encode_entries(delivery.children),
        "unlock": unlock.encode_set(delivery.unlock_set),
    })
    return crypto.seal_to(terminal_box_public, plain, _AAD + terminal_id.encode("utf-8"),
                          ephemeral_private, nonce)


def open_roster(sealed: bytes, terminal_id: str, terminal_box_private: bytes) -> RosterDelivery:
    plain = crypto.open_sealed(terminal_box_private, sealed, _AAD + terminal_id.encode("utf-8"))
    data = canonical.decode_map(plain, "roster")
    events.check_version(data, "roster")
    fields.require_keys(data, _KEYS, set(), "roster")
    return RosterDelivery(
        kindergarten=fields.text(data, "kindergarten", max_len=64),
        version=fields.text(data, "version", max_len=64),
        key=fields.blob(data, "key", size=crypto.KEY_SIZE),
        children=decode_entries(fields.blob(data, "children")),
        unlock_set=unlock.decode_set(fields.blob(data, "unlock")),
    )
