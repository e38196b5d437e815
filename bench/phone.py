"""Verification time at the door: a guardian's phone code beside a child's card, on the
terminal's own code path (parse + signatures + window/revocation checks), interleaved so
both see the same machine noise; the phone's path includes the first-use check. Reports
median and p95 of each and their ratio."""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from datetime import date
from pathlib import Path

from protocol import cards, crypto, phone
from terminal.runtime import RuntimeSecrets
from tests.helpers import Phone

ROUNDS = 2000
CARD_SEED = os.urandom(32)


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def bench_phone_verification() -> None:
    guardian = Phone()
    today = date(2026, 11, 23)
    card_text = cards.sign_card(cards.Card("KG1", "child-00001-x7q", "AAAAAAAA", today,
                                           date(2028, 11, 23)), CARD_SEED)
    door = cards.DoorCredentials("KG1", (crypto.signing_public_key(CARD_SEED),),
                                 frozenset({"BBBBBBBB"}), 0,
                                 (cards.PhoneKey(guardian.key_id, guardian.spki),))
    window = phone.window_at(time.time())
    phone_text = guardian.code("child-00001-x7q", window, seed=CARD_SEED)
    card_ms: list[float] = []
    phone_ms: list[float] = []
    secrets = RuntimeSecrets(Path(tempfile.mkdtemp(prefix="qatys-bench-run-")))
    for i in range(ROUNDS):
        t0 = time.perf_counter()
        cards.verify_card(card_text, door, today)
        t1 = time.perf_counter()
        code = phone.read_phone_code(phone_text)
        key = door.phone_key(code.key_id)
        assert key is not None
        assert code.serial not in door.revoked
        phone.verify_phone_code(code, key.spki, door.kindergarten, door.card_keys, window)
        # The first-use check the terminal makes (a file in RAM, under a lock); about twenty
        # codes per window, as at a busy door.
        used_window = window + i // 20
        assert secrets.first_use(os.urandom(32), used_window, used_window - 2)
        t2 = time.perf_counter()
        card_ms.append((t1 - t0) * 1000)
        phone_ms.append((t2 - t1) * 1000)
    card_median, phone_median = statistics.median(card_ms), statistics.median(phone_ms)
    print(f"door verification, {ROUNDS} of each interleaved (no camera, no commit):")
    print(f"  card (Ed25519)             median {card_median:.3f} ms  p95 "
          f"{_percentile(card_ms, 0.95):.3f} ms")
    print(f"  phone code (Ed25519 binding + ECDSA P-256)  median {phone_median:.3f} ms  p95 "
          f"{_percentile(phone_ms, 0.95):.3f} ms; ratio {phone_median / card_median:.1f}x")
