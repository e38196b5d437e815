"""The signed card format and door credentials (pure, no I/O)."""

from __future__ import annotations

import os
from datetime import date, timedelta

import pytest
import segno
from hypothesis import given
from hypothesis import strategies as st

from protocol import cards, crypto
from protocol.errors import CardRefused, SignatureError

SEED = bytes(range(32))
TODAY = date(2026, 11, 23)
DOOR = cards.DoorCredentials("KG1", (crypto.signing_public_key(SEED),), frozenset(), 0)


def _card(**changes: object) -> cards.Card:
    values: dict[str, object] = {"kindergarten": "KG1", "child_id": "child-00001-x7q",
                                 "serial": "AAAAAAAA", "issued": TODAY,
                                 "expires": TODAY + timedelta(days=730)}
    values.update(changes)
    return cards.Card(**values)  # type: ignore[arg-type]


def test_card_round_trip_fits_a_low_qr_version_at_level_m() -> None:
    text = cards.sign_card(_card(), SEED)
    assert cards.verify_card(text, DOOR, TODAY) == _card()
    assert cards.verify_card(text.lower(), DOOR, TODAY) == _card()
    qr = segno.make(text, error="m")
    assert qr.mode == "alphanumeric"
    assert qr.version <= 8


def _refusal(text: str, door: cards.DoorCredentials = DOOR, today: date = TODAY) -> str:
    with pytest.raises(CardRefused) as caught:
        cards.verify_card(text, door, today)
    return caught.value.code


def test_each_bad_card_is_refused_with_its_reason() -> None:
    good = cards.sign_card(_card(), SEED)
    flipped = good[:40] + ("A" if good[40] != "A" else "B") + good[41:]
    assert _refusal("https://example.kz/?pay=123") == "not_a_card"
    assert _refusal("ST00012|Name=Payee|PersonalAcc=KZ00") == "not_a_card"
    assert _refusal("QC1-" + "A" * 500) == "not_a_card"  # oversized
    assert _refusal(flipped) in ("damaged_card", "forged_card")
    assert _refusal(good[:-6]) == "damaged_card"  # truncated
    assert _refusal(cards.sign_card(_card(kindergarten="KG2"), SEED)) == "foreign_card"
    assert _refusal(cards.sign_card(_card(), os.urandom(32))) == "forged_card"
    revoked = cards.DoorCredentials("KG1", DOOR.card_keys, frozenset({"AAAAAAAA"}), 0)
    assert _refusal(good, revoked) == "revoked_card"
    assert _refusal(good, today=TODAY + timedelta(days=731)) == "expired_card"
    assert _refusal(good, today=TODAY - timedelta(days=1)) == "not_yet_valid"


def test_unused_base32_bits_must_be_zero() -> None:
    good = cards.sign_card(_card(), SEED)
    body = good[len(cards.CARD_PREFIX):]
    unused = (len(body) * 5) % 8
    assert unused, "this card's base32 has unused bits to play with"
    last = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567".index(body[-1])
    other = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"[last ^ 1]  # flips the lowest, unused bit
    assert _refusal(good[:-1] + other) == "damaged_card"


@given(st.text(max_size=300) | st.text("QC1-ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", max_size=300))
def test_any_other_text_is_refused_with_a_known_reason(text: str) -> None:
    with pytest.raises(CardRefused) as caught:
        cards.verify_card(text, DOOR, TODAY)
    assert caught.value.code in {"not_a_card", "damaged_card", "foreign_card", "forged_card"}


def test_door_credentials_must_carry_the_servers_signature() -> None:
    server_seed = os.urandom(32)
    door = cards.DoorCredentials("KG1", DOOR.card_keys, frozenset({"BBBBBBBB"}), 5)
    raw, signature = cards.sign_door(door, server_seed)
    assert cards.verify_door(raw, signature, crypto.signing_public_key(server_seed)) == door
    with pytest.raises(SignatureError):
        cards.verify_door(raw, signature, crypto.signing_public_key(os.urandom(32)))
    tampered = raw.replace(b"BBBBBBBB", b"CCCCCCCC")
    with pytest.raises(SignatureError):
        cards.verify_door(tampered, signature, crypto.signing_public_key(server_seed))
