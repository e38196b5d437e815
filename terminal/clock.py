"""Where an event's time comes from: wall clock (UTC), boot id and a monotonic reading.

The wall clock of a Raspberry Pi without RTC may be wrong after an offline
boot; boot id plus monotonic time still order a terminal's events and let
the server correct them later.
"""

from __future__ import annotations

import os
import time
import uuid
from dataclasses import dataclass

_BOOT_ID_FILE = "/proc/sys/kernel/random/boot_id"
_FALLBACK_BOOT_ID = os.urandom(16)


@dataclass(frozen=True)
class Reading:
    time_us: int
    boot_id: bytes
    mono_ns: int


def boot_id() -> bytes:
    try:
        with open(_BOOT_ID_FILE, encoding="ascii") as f:
            return uuid.UUID(f.read().strip()).bytes
    except (OSError, ValueError):
        return _FALLBACK_BOOT_ID


def monotonic_ns() -> int:
    """Time since boot, counting suspend where the platform can (CLOCK_BOOTTIME)."""
    clock = getattr(time, "CLOCK_BOOTTIME", time.CLOCK_MONOTONIC)
    return time.clock_gettime_ns(clock)


def read() -> Reading:
    return Reading(time.time_ns() // 1000, boot_id(), monotonic_ns())
