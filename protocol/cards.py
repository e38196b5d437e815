"""Signed QR card credentials and the door credentials a terminal checks them against.

A card names one child of one kindergarten and is signed with that
kindergarten's card key (Ed25519), so a terminal verifies it offline, even
while locked. The QR text is ``QC1-`` followed by the base32 of a canonical
CBOR map (all characters of the QR alphanumeric mode, version 7 at level M
for a typical card):

    {"k": kindergarten, "c": child_id, "s": serial (5 bytes),
     "i": issued (days since 1970-01-01), "e": expires (days), "g": signature}

The signature covers ``"qatys/v1/card\\0" ‖ canonical(map without "g")``.

Door credentials are what the server gives each terminal at sync: the
kindergarten's card public keys and the serials of revoked cards, signed with
the server's key (which the terminal pinned at enrolment), so nobody on the
network can slip a key or drop a revocation.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from datetime import date, timedelta

from protocol import MESSAGE_VERSION, canonical, crypto, events, fields
from protocol.errors import CardRefusal, CardRefused, EncodingError

CARD_PREFIX = "QC1-"
SERIAL_BYTES = 5
_CARD_TEXT = re.compile(r"^QC1-([A-Z2-7]+)$")
_CARD_DOMAIN = b"qatys/v1/card\x00"
_DOOR_DOMAIN = b"qatys/v1/door\x00"
_EPOCH = date(1970, 1, 1)
MAX_CARD_TEXT = 400
MAX_REVOKED = 100_000
MAX_PHONE_KEYS = 50_000


@dataclass(frozen=True)
class Card:
    kindergarten: str
    child_id: str
    serial: str
    issued: date
    expires: date


@dataclass(frozen=True)
class PhoneKey:
    """A guardian's phone key (ECDSA P-256, SubjectPublicKeyInfo) under its pseudonymous id;
    which children it may bring in is in the bindings the phone shows (protocol/phone.py)."""

    key_id: str
    spki: bytes
    pickup: tuple[tuple[str, str], ...] = ()
    """(binding serial, relation code) of each binding of this key that is a pickup adult's
    (a grandmother's …): the door shows the relation's word on a departure; no name. Sent
    only to a terminal that asks for it (``?pickup=1``), so older terminals read the same
    bytes as before; absent from an older server's credentials."""

    def relation_of(self, serial: str) -> str:
        return next((relation for s, relation in self.pickup if s == serial), "")


@dataclass(frozen=True)
class DoorCredentials:
    kindergarten: str
    card_keys: tuple[bytes, ...]
    revoked: frozenset[str]
    issued_us: int
    phone_keys: tuple[PhoneKey, ...] = ()
    removed_phones: frozenset[str] = frozenset()
    """Key ids of guardians removed altogether: their codes say so when refused. A binding
    removed from one child is revoked by its serial, like a card."""

    def phone_key(self, key_id: str) -> PhoneKey | None:
        return next((k for k in self.phone_keys if k.key_id == key_id), None)


def serial_text(random_bytes: bytes) -> str:
    if len(random_bytes) != SERIAL_BYTES:
        raise ValueError(f"a serial is made of {SERIAL_BYTES} random bytes")
    return base64.b32encode(random_bytes).decode("ascii")


def _days(day: date) -> int:
    return (day - _EPOCH).days


def _unsigned(card: Card) -> dict[str, object]:
    return {"k": card.kindergarten, "c": card.child_id,
            "s": base64.b32decode(card.serial), "i": _days(card.issued),
            "e": _days(card.expires)}


def sign_card(card: Card, card_key_seed: bytes) -> str:
    """The QR text of a card, signed with the kindergarten's card key."""
    if card.expires < card.issued:
        raise ValueError("a card cannot expire before it is issued")
    data = _unsigned(card)
    data["g"] = crypto.sign(card_key_seed, _CARD_DOMAIN + canonical.encode(data))
    return CARD_PREFIX + base64.b32encode(canonical.encode(data)).decode("ascii").rstrip("=")


def looks_like_card(text: str) -> bool:
    return text.strip().upper().startswith(CARD_PREFIX)


def read_card(text: str) -> tuple[Card, bytes, bytes]:
    """Parse a card's QR text: (card, signing input, signature); nothing verified yet."""
    text = text.strip().upper()
    match = _CARD_TEXT.match(text) if len(text) <= MAX_CARD_TEXT else None
    if match is None:
        raise CardRefused(CardRefusal.NOT_A_CARD, "this code is not a Qatys card")
    body = match.group(1)
    try:
        raw = base64.b32decode(body + "=" * (-len(body) % 8))
        data = canonical.decode_map(raw, "card")
        fields.require_keys(data, {"k", "c", "s", "i", "e", "g"}, set(), "card")
        card = Card(
            kindergarten=fields.text(data, "k", max_len=32),
            child_id=fields.text(data, "c", max_len=events.MAX_CHILD_ID),
            serial=serial_text(fields.blob(data, "s", size=SERIAL_BYTES)),
            issued=_EPOCH + timedelta(days=fields.uint(data, "i", maximum=100_000)),
            expires=_EPOCH + timedelta(days=fields.uint(data, "e", maximum=100_000)),
        )
        signature = fields.blob(data, "g", size=64)
    except (binascii.Error, ValueError, EncodingError) as exc:
        raise CardRefused(CardRefusal.DAMAGED_CARD,
                          "this card's code is damaged or altered") from exc
    if CARD_PREFIX + base64.b32encode(raw).decode("ascii").rstrip("=") != text:
        raise CardRefused(CardRefusal.DAMAGED_CARD, "this card's code is damaged or altered")
    del data["g"]
    return card, _CARD_DOMAIN + canonical.encode(data), signature


def verify_card(text: str, door: DoorCredentials, today: date) -> Card:
    """The card, if it is genuine, of this kindergarten, not revoked and not expired."""
    card, signed, signature = read_card(text)
    if card.kindergarten != door.kindergarten:
        raise CardRefused(CardRefusal.FOREIGN_CARD,
                          f"this card belongs to another kindergarten ({card.kindergarten})")
    if not any(crypto.verifies(key, signed, signature) for key in door.card_keys):
        raise CardRefused(CardRefusal.FORGED_CARD, "this card's signature does not verify")
    if card.serial in door.revoked:
        raise CardRefused(CardRefusal.REVOKED_CARD, f"card {card.serial} was revoked")
    if today > card.expires:
        raise CardRefused(CardRefusal.EXPIRED_CARD, f"card {card.serial} expired on {card.expires}")
    if today < card.issued:
        raise CardRefused(CardRefusal.NOT_YET_VALID,
                          f"card {card.serial} is valid from {card.issued}")
    return card


def sign_door(door: DoorCredentials, server_sign_seed: bytes) -> tuple[bytes, bytes]:
    body: dict[str, object] = {
        "v": MESSAGE_VERSION, "type": "door", "kindergarten": door.kindergarten,
        "card_keys": list(door.card_keys), "revoked": sorted(door.revoked),
        "issued_us": door.issued_us,
    }
    if door.phone_keys or door.removed_phones:  # absent before phones: older bytes unchanged
        body["phone_keys"] = [_phone_key(k)
                              for k in sorted(door.phone_keys, key=lambda k: k.key_id)]
        body["removed_phones"] = sorted(door.removed_phones)
    raw = canonical.encode(body)
    return raw, crypto.sign(server_sign_seed, _DOOR_DOMAIN + raw)


def _phone_key(key: PhoneKey) -> dict[str, object]:
    item: dict[str, object] = {"id": key.key_id, "spki": key.spki}
    if key.pickup:  # absent for a guardian's key: the bytes as before pickup adults
        item["pickup"] = {serial: relation for serial, relation in sorted(key.pickup)}
    return item


def verify_door(raw: bytes, signature: bytes, server_sign_public: bytes) -> DoorCredentials:
    crypto.verify(server_sign_public, _DOOR_DOMAIN + raw, signature)
    data = canonical.decode_map(raw, "door credentials")
    events.check_version(data, "door credentials")
    fields.require_keys(data, {"v", "type", "kindergarten", "card_keys", "revoked",
                               "issued_us"}, {"phone_keys", "removed_phones"},
                        "door credentials")
    keys, revoked = data["card_keys"], data["revoked"]
    if data["type"] != "door" or not isinstance(keys, list) or not isinstance(revoked, list):
        raise EncodingError("not door credentials")
    if not all(isinstance(k, bytes) and len(k) == 32 for k in keys):
        raise EncodingError("card keys are 32-byte Ed25519 public keys")
    if len(revoked) > MAX_REVOKED or not all(isinstance(s, str) and len(s) == 8
                                             for s in revoked):
        raise EncodingError("revoked serials are 8-character texts")
    phones, removed = _phone_keys(data)
    return DoorCredentials(fields.text(data, "kindergarten", max_len=32), tuple(keys),
                           frozenset(revoked), fields.uint(data, "issued_us"), phones, removed)


def _phone_keys(data: dict[str, object]) -> tuple[tuple[PhoneKey, ...], frozenset[str]]:
    listed, removed = data.get("phone_keys", []), data.get("removed_phones", [])
    if not isinstance(listed, list) or not isinstance(removed, list) \
            or len(listed) > MAX_PHONE_KEYS or len(removed) > MAX_PHONE_KEYS:
        raise EncodingError("phone keys must be lists")
    keys = []
    for item in listed:
        if not isinstance(item, dict):
            raise EncodingError("a phone key is a map")
        fields.require_keys(item, {"id", "spki"}, {"pickup"}, "phone key")
        keys.append(PhoneKey(fields.text(item, "id", max_len=16),
                             fields.blob(item, "spki", size=91), _pickup(item)))
    if not all(isinstance(k, str) and len(k) == 16 for k in removed):
        raise EncodingError("removed phones are 16-character key ids")
    return tuple(keys), frozenset(removed)


def _pickup(item: dict[str, object]) -> tuple[tuple[str, str], ...]:
    """A phone key's pickup bindings: serial → relation code (any code of at most 20
    characters: a newer server's relation is shown as nothing, not refused)."""
    listed = item.get("pickup", {})
    if not isinstance(listed, dict) or len(listed) > MAX_PHONE_KEYS:
        raise EncodingError("a phone key's pickup bindings are a map")
    if not all(isinstance(s, str) and len(s) == 8 and isinstance(r, str) and 0 < len(r) <= 20
               for s, r in listed.items()):
        raise EncodingError("a pickup binding is an 8-character serial and a relation code")
    return tuple(sorted((str(s), str(r)) for s, r in listed.items()))
