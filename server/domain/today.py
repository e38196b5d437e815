"""A child's state today, from the day's first arrival, last departure and any absence record:
the office's today list and a pickup adult's phone say the same thing (pure)."""

from __future__ import annotations

from enum import StrEnum


class ChildState(StrEnum):
    """A child's state today (``tr[data-state]`` on the office page, ``today`` in the
    parents' API)."""
    PRESENT = "present"
    """Arrived, not gone yet."""
    LEFT = "left"
    ABSENT = "absent"
    """No arrival, an absence recorded for today."""
    EXPECTED = "expected"
    """No arrival, nothing recorded: not arrived yet."""


def state_today(arrived_us: int | None, left_us: int | None, absence: bool) -> ChildState:
    """Gone once a departure is at or after the arrival (a departure scanned before the
    arrival was recorded, e.g. by a late clock, does not send the child home)."""
    if arrived_us is not None:
        gone = left_us is not None and left_us >= arrived_us
        return ChildState.LEFT if gone else ChildState.PRESENT
    return ChildState.ABSENT if absence else ChildState.EXPECTED
