"""The time an event is recorded under, when the terminal's wall clock cannot be trusted.

A Raspberry Pi without a real-time clock can boot offline in 1970 or last week. Two rules:

- the terminal learns the server's time at each sync (its offset from the wall clock, for
  this boot only: the next boot may start from another wrong time) and records under the
  wall clock plus that offset;
- an event's time never goes below the previous event's: time only moves forward in the
  chain, even when the wall clock is set back.

Every event also carries the boot id and the monotonic time, so the server can correct what
was recorded before the first sync of a boot (server/clock_corrections.py).
"""

from __future__ import annotations

import sqlite3

from terminal.clock import Reading
from terminal.store import get_int, get_meta, set_meta

TRUST_OFFSET_US = 60 * 1_000_000
"""Offsets smaller than this are network jitter; the wall clock is used as it is."""


def learn_server_time(conn: sqlite3.Connection, reading: Reading, server_time_us: int) -> int:
    """Remember how far the wall clock is from the server's, for this boot; returns it."""
    offset = server_time_us - reading.time_us
    set_meta(conn, "server_offset_us", offset)
    set_meta(conn, "server_offset_boot", reading.boot_id)
    set_meta(conn, "server_offset_wall_us", reading.time_us)
    set_meta(conn, "server_offset_mono_ns", reading.mono_ns)
    return offset


def _offset(conn: sqlite3.Connection, reading: Reading) -> int:
    """The learnt offset while it still applies: same boot, and the wall clock not stepped
    since (e.g. NTP fixed it once the network came back), judged by the monotonic clock."""
    if get_meta(conn, "server_offset_boot") != reading.boot_id:
        return 0
    offset = get_int(conn, "server_offset_us")
    expected_wall = get_int(conn, "server_offset_wall_us") + (
        reading.mono_ns - get_int(conn, "server_offset_mono_ns")) // 1000
    if abs(offset) < TRUST_OFFSET_US or abs(reading.time_us - expected_wall) > TRUST_OFFSET_US:
        return 0
    return offset


def event_time(conn: sqlite3.Connection, reading: Reading) -> int:
    """The time a new event would be recorded under (read inside the writer's transaction;
    :func:`recorded` moves the floor once the event is appended)."""
    time_us = reading.time_us + _offset(conn, reading)
    return max(time_us, get_int(conn, "last_event_time_us") + 1)


def recorded(conn: sqlite3.Connection, time_us: int) -> None:
    set_meta(conn, "last_event_time_us", time_us)
