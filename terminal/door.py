"""Door logic: is this scan an arrival, a departure, or a repeat? Pure, no I/O.

The first accepted scan of a child's day is an arrival; a later one, past the
de-duplication window, flips the direction (out, then in again if the child
comes back). A repeat inside the window is acknowledged with the event that
was already recorded, so a parent who scans twice does not create two records.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DayState:
    """What the terminal remembers of one child today (under a pseudonymous tag)."""

    last_seq: int
    last_direction: str
    last_time_us: int


@dataclass(frozen=True)
class Decision:
    record: bool
    """False: acknowledge ``repeat_of`` again instead of recording anew."""
    direction: str
    repeat_of: int | None = None


def decide(previous: DayState | None, now_us: int, window_us: int,
           requested: str | None = None) -> Decision:
    if previous is not None and 0 <= now_us - previous.last_time_us < window_us \
            and requested in (None, previous.last_direction):
        return Decision(False, previous.last_direction, previous.last_seq)
    if requested is not None:
        return Decision(True, requested)
    if previous is None:
        return Decision(True, "in")
    return Decision(True, "out" if previous.last_direction == "in" else "in")
