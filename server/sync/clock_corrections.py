"""Correcting event times recorded under a wrong terminal clock (a Pi without a real-time
clock that booted offline in 1970 or last week).

Each event carries its terminal's boot id and monotonic time. A health report gives an
anchor: in this boot, monotonic time M was the server's time S. Any event of the same boot
then happened at S − (M − its monotonic time). An event whose recorded time is further than
five minutes from that gets a correction record; the event itself is never changed.
"""

from __future__ import annotations

import logging

from sqlalchemy import Connection, select

from qatys.logs import log
from server.storage import db

TOLERANCE_US = 5 * 60 * 1_000_000
logger = logging.getLogger("qatys.server.clock")


def correct_boot(conn: Connection, terminal_id: str, kindergarten: str, boot_id: bytes,
                 anchor_mono_ns: int, anchor_time_us: int, after_seq: int,
                 now_us: int) -> int:
    """Check this boot's events after ``after_seq`` against the anchor; returns how many
    were corrected."""
    rows = conn.execute(
        select(db.events.c.event_id, db.events.c.recorded_at_us, db.events.c.mono_ns)
        .where(db.events.c.terminal_id == terminal_id).where(db.events.c.seq > after_seq)
        .where(db.events.c.boot_id == boot_id)).all()
    corrected = 0
    for event_id, recorded_at_us, mono_ns in rows:
        if mono_ns > anchor_mono_ns:
            continue  # recorded after the anchor: a later report checks it
        true_us = anchor_time_us - (anchor_mono_ns - mono_ns) // 1000
        if abs(recorded_at_us - true_us) <= TOLERANCE_US:
            continue
        conn.execute(db.event_time_corrections.insert().values(
            event_id=event_id, kindergarten=kindergarten, corrected_at_us=true_us,
            offset_us=recorded_at_us - true_us, found_at_us=now_us))
        corrected += 1
    if corrected:
        log(logger, "clock.corrected", terminal=terminal_id, events=corrected)
    return corrected
