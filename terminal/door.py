"""Door logic: is this scan an arrival, a departure, or a repeat? Pure, no I/O.

The first accepted scan of a child's day is an arrival. A later one flips the
direction (out, then in again if the child comes back), but only once the
departure gap has passed since an arrival: a parent who scans again while
still in the hall is not taking the child home. A repeat is acknowledged with
the event already recorded and its receipt, so nothing is recorded twice.
Staff can force a direction (manual entry) at any time.
"""

from __future__ import annotations

from dataclasses import dataclass

from protocol.events import Direction

RECEIPT_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
"""No 0/O, 1/I/L: a receipt is read off a screen and typed or compared by a parent."""


@dataclass(frozen=True)
class DayState:
    """What the terminal remembers of one child today (under a pseudonymous tag)."""

    last_seq: int
    last_direction: Direction
    last_time_us: int
    receipt: str = ""


@dataclass(frozen=True)
class Rules:
    dedupe_window_us: int
    """A scan this soon after the last one is always a repeat."""
    departure_gap_us: int = 0
    """After an arrival, a scan counts as a departure only once this much time has passed."""


@dataclass(frozen=True)
class Decision:
    record: bool
    """False: acknowledge ``repeat_of`` (and its receipt) again instead of recording anew."""
    direction: Direction
    repeat_of: int | None = None
    receipt: str = ""


def decide(previous: DayState | None, now_us: int, rules: Rules,
           requested: Direction | None = None) -> Decision:
    if previous is None:
        return Decision(True, requested or Direction.IN)
    since = now_us - previous.last_time_us
    if requested in (None, previous.last_direction) and 0 <= since < rules.dedupe_window_us:
        return _repeat(previous)
    if requested is not None:
        return Decision(True, requested)
    if previous.last_direction == Direction.IN and 0 <= since < rules.departure_gap_us:
        return _repeat(previous)
    return Decision(True, Direction.OUT if previous.last_direction == Direction.IN
                    else Direction.IN)


def _repeat(previous: DayState) -> Decision:
    return Decision(False, previous.last_direction, previous.last_seq, previous.receipt)


def receipt_code(random_bytes: bytes) -> str:
    """A short code shown at the door for each recorded scan, e.g. ``K7M-4PX``; the parent
    finds the same code in the child's record. From 8 random bytes (31^6 ≈ 887 million)."""
    if len(random_bytes) < 8:
        raise ValueError("a receipt needs 8 random bytes")
    number = int.from_bytes(random_bytes[:8], "big")
    chars = []
    for _ in range(6):
        number, digit = divmod(number, len(RECEIPT_ALPHABET))
        chars.append(RECEIPT_ALPHABET[digit])
    return "".join(chars[:3]) + "-" + "".join(chars[3:])
