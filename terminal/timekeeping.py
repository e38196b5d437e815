"""The time an event is recorded under, when the terminal's wall clock cannot be trusted.

A Raspberry Pi without a real-time clock can boot offline in 1970 or last week, and its
clock can jump (a bad RTC battery, NTP stepping it once the network is back). Two rules:

- after a sync in this boot, the terminal's time is the server's time at that sync carried
  forward by the monotonic clock (which neither jumps nor goes back); the wall clock is no
  longer consulted until the next boot. Each sync re-anchors it.
- before the first sync of a boot there is only the wall clock; an event's time then never
  goes below the previous event's (a clock set back cannot reorder the chain).

Every event also carries the boot id and the monotonic time, so the server can correct what
was recorded before the first sync of a boot (server/sync/clock_corrections.py).
"""

from __future__ import annotations

import sqlite3

from terminal.clock import Reading
from terminal.store import get_int, get_meta, set_meta


def learn_server_time(conn: sqlite3.Connection, reading: Reading, server_time_us: int) -> int:
    """Anchor this boot at the server's time; returns how far the wall clock was off."""
    set_meta(conn, "server_time_us", server_time_us)
    set_meta(conn, "server_time_boot", reading.boot_id)
    set_meta(conn, "server_time_mono_ns", reading.mono_ns)
    return server_time_us - reading.time_us


def anchored(conn: sqlite3.Connection, reading: Reading) -> int | None:
    """The server's time now, if a sync in this boot anchored it (also what a signed
    request says its time is: the server refuses one far off its own clock)."""
    if get_meta(conn, "server_time_boot") != reading.boot_id:
        return None
    elapsed_ns = reading.mono_ns - get_int(conn, "server_time_mono_ns")
    return get_int(conn, "server_time_us") + max(0, elapsed_ns) // 1000


def event_time(conn: sqlite3.Connection, reading: Reading) -> int:
    """The time a new event is recorded under (read inside the writer's transaction;
    :func:`recorded` moves the floor once the event is appended)."""
    server_now = anchored(conn, reading)
    if server_now is not None:
        return server_now
    return max(reading.time_us, get_int(conn, "last_event_time_us") + 1)


CLOCK_FLOOR_US = 1_735_689_600_000_000
"""2025-01-01T00:00:00Z: no terminal of this software ever really ran before it, so a wall
clock behind it was not set (a Raspberry Pi without RTC battery boots in 1970)."""
TRUST_SLACK_US = 86_400_000_000
"""A wall clock more than a day behind the newest time this terminal knows has passed."""


def door_time(conn: sqlite3.Connection, reading: Reading) -> tuple[int, bool]:
    """The time a door checks cards and phone codes against, and whether it is trusted to
    the second: the server's time carried forward in this boot (trusted); else the wall
    clock, unless it is before :data:`CLOCK_FLOOR_US` or a day behind the newest time this
    terminal has seen (a server answer, a roster, its last event) — then that newest time,
    not trusted: good enough for a card's validity dates, not for a phone code's 30-second
    window (refused with ``clock_not_set``)."""
    server_now = anchored(conn, reading)
    if server_now is not None:
        return server_now, True
    known = max(get_int(conn, "last_server_time_us"), get_int(conn, "server_time_us"),
                get_int(conn, "roster_issued_us"), get_int(conn, "last_event_time_us"))
    if reading.time_us < CLOCK_FLOOR_US or reading.time_us < known - TRUST_SLACK_US:
        return max(known, CLOCK_FLOOR_US), False
    return reading.time_us, True


def recorded(conn: sqlite3.Connection, time_us: int) -> None:
    set_meta(conn, "last_event_time_us", time_us)
