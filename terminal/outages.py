"""The terminal's own outage ledger: power-on, going offline and back, camera failure and
recovery, recorded as signed ``system`` events in the same chain as check-ins.

The server shows them per kindergarten and uses them in anomaly flags: an automatic answer
to "the system was down that day". The event body (sealed to the server, like every body)
names what happened in ``reason``; no child is involved (``child_id`` is ``-``).
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from typing import TYPE_CHECKING

from protocol import events
from protocol.health import CameraState
from qatys.logs import log
from terminal import clock, timekeeping
from terminal.sealer import Sealer
from terminal.store import Appended, get_meta, set_meta

if TYPE_CHECKING:  # the storage guard records through here and the home opens the guard
    from terminal.home import Terminal

logger = logging.getLogger("qatys.terminal.outages")

SYSTEM_CHILD = "-"
WHAT = tuple(events.SystemEvent)
"""power_on: the first start after a boot; kiosk_start: a restart within the same boot."""


def record_system(terminal: Terminal, what: events.SystemEvent, detail: str = "",
                  also: Callable[[sqlite3.Connection], object] | None = None) -> int:
    """Append one system event (after commit); returns its sequence number. ``also`` runs
    in the same transaction (the storage guard notes the level it recorded)."""
    if what not in WHAT:
        raise ValueError(f"unknown system event {what!r}")
    reading = clock.read()
    sealed = Sealer(terminal.keys.server_box_public).seal(
        events.Body(SYSTEM_CHILD, reason=f"{what} {detail}".strip()), terminal.terminal_id)

    def append(conn: sqlite3.Connection) -> Appended:
        time_us = timekeeping.event_time(conn, reading)
        appended = terminal.store.append(conn, lambda seq, prev: events.encode_event(
            events.Event(terminal_id=terminal.terminal_id, seq=seq, prev_hash=prev,
                         time_us=time_us, boot_id=reading.boot_id, mono_ns=reading.mono_ns,
                         kind=events.EventKind.SYSTEM, method=events.Method.SYSTEM,
                         assurance=events.Assurance.HIGH, body=sealed)))
        timekeeping.recorded(conn, time_us)
        if also is not None:
            also(conn)
        return appended

    appended = terminal.store.write(append)
    log(logger, "outage.recorded", what=what, seq=appended.seq)
    return appended.seq


def record_start(terminal: Terminal) -> events.SystemEvent:
    """At kiosk start: ``power_on`` when this boot has not been seen, else ``kiosk_start``."""
    boot = clock.boot_id()
    seen = terminal.store.read(lambda conn: get_meta(conn, "last_boot_id"))
    what = events.SystemEvent.KIOSK_START if seen == boot else events.SystemEvent.POWER_ON
    record_system(terminal, what)
    terminal.store.write(lambda conn: set_meta(conn, "last_boot_id", boot))
    return what


def _record_quietly(terminal: Terminal, what: events.SystemEvent, detail: str = "") -> None:
    """A ledger event the kiosk records on its own: on a full or read-only card it is
    logged as not recorded, and the kiosk carries on (the storage guard says why)."""
    try:
        record_system(terminal, what, detail)
    except (sqlite3.Error, OSError) as exc:
        log(logger, "outage.not_recorded", logging.ERROR, what=what,
            error=f"{type(exc).__name__}: {exc}")


class OutageWatch:
    """Turns the kiosk's view of its network and camera into ledger events on each change."""

    def __init__(self, terminal: Terminal) -> None:
        self._terminal = terminal
        self._online: bool | None = None
        self._camera: CameraState | None = None

    def network(self, online: bool, detail: str = "") -> None:
        if self._online is not None and online != self._online:
            _record_quietly(self._terminal, events.SystemEvent.ONLINE if online
                          else events.SystemEvent.OFFLINE, detail)
        elif self._online is None and not online:
            _record_quietly(self._terminal, events.SystemEvent.OFFLINE, detail)
        self._online = online

    def camera(self, state: CameraState) -> None:
        failed = state == CameraState.FAILED
        if failed and self._camera != CameraState.FAILED:
            _record_quietly(self._terminal, events.SystemEvent.CAMERA_FAILED)
        elif not failed and self._camera == CameraState.FAILED and state == CameraState.OK:
            _record_quietly(self._terminal, events.SystemEvent.CAMERA_OK)
        self._camera = state
