"""The phone code's rules, pure: a binding signed by the kindergarten's card key, the code
signed by the phone's P-256 key (as WebCrypto does, r ‖ s), a window of 30 seconds ± one."""

from __future__ import annotations

import pytest

from protocol import crypto, phone
from protocol.errors import CardRefused, SignatureError
from tests.helpers import TEST_CARD_SEED, Phone

CARD_SEED = TEST_CARD_SEED
OTHER_SEED = bytes(range(1, 33))
NOW = 59_000_000


def _verify(text: str, spki: bytes, now: int = NOW) -> None:
    phone.verify_phone_code(phone.read_phone_code(text), spki, "KG1",
                            (crypto.signing_public_key(CARD_SEED),), now)


def test_a_current_code_verifies_within_one_window_either_side() -> None:
    mine = Phone()
    for window in (NOW - 1, NOW, NOW + 1):
        _verify(mine.code("child-1", window), mine.spki)
    assert len(mine.code("child-1", NOW)) < 260  # fits a QR a phone screen shows well


@pytest.mark.parametrize(("change", "reason"), [
    ("old", "expired_code"), ("ahead", "expired_code"), ("foreign_binding", "not_guardian"),
    ("other_child", "not_guardian"), ("other_kindergarten", "not_guardian"),
    ("other_phone", "forged_card"), ("altered", "damaged_card"), ("garbage", "damaged_card"),
])
def test_bad_codes_are_refused_with_their_reason(change: str, reason: str) -> None:
    mine, thief = Phone(), Phone()
    text = {
        "old": mine.code("child-1", NOW - 2),
        "ahead": mine.code("child-1", NOW + 2),
        "foreign_binding": mine.code("child-1", NOW, seed=OTHER_SEED),
        "other_kindergarten": mine.code("child-1", NOW, kindergarten="KG2"),
        "garbage": "QP1:nonsense",
    }.get(change)
    if change == "other_child":  # the binding is for child-1; the text claims child-2
        text = mine.code("child-1", NOW).replace(":child-1:", ":child-2:")
    if change == "other_phone":  # my binding, the code signed by another phone's key
        stolen = thief.sign(phone.code_message(mine.key_id, "child-1", NOW))
        text = mine.code("child-1", NOW).rsplit(":", 1)[0] + ":" + phone.b64url(stolen)
    if change == "altered":
        text = mine.code("child-1", NOW)[:-3] + "!!!"
    assert text is not None
    with pytest.raises(CardRefused) as refused:
        _verify(text, mine.spki)
    assert refused.value.code == reason


def test_keys_that_are_not_p256_spki_are_refused() -> None:
    for spki in (b"\x30" * 91, b"short", Phone().spki[:-1]):
        with pytest.raises(SignatureError) as refused:
            phone.public_key_from_spki(spki)
        assert refused.value.code == "bad_key"
    assert phone.key_id(Phone().spki) != phone.key_id(Phone().spki)
