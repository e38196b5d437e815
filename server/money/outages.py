"""The terminals' own outage ledgers, read back: power-ons, offline periods and camera
failures per kindergarten and month (the answer to "the system was down that day")."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import Connection, select

from protocol.events import EventKind, SystemEvent
from server.domain.anomalies import Outage, OutageKind
from server.storage import db

_STARTS = {SystemEvent.OFFLINE: (OutageKind.OFFLINE, SystemEvent.ONLINE),
           SystemEvent.CAMERA_FAILED: (OutageKind.CAMERA, SystemEvent.CAMERA_OK)}
"""The event that starts each kind of period, and the one that ends it."""


_KNOWN = {e.value: e for e in SystemEvent}


@dataclass(frozen=True)
class LedgerEntry:
    terminal_id: str
    what: SystemEvent | str
    """What happened: a member, or the text of a code this server does not know (a newer
    terminal's), shown as it is."""
    recorded_at_us: int
    detail: str


def ledger_entries(conn: Connection, kindergarten: str, start_us: int,
                   end_us: int) -> list[LedgerEntry]:
    rows = conn.execute(
        select(db.events.c.terminal_id, db.events.c.recorded_at_us, db.events.c.note)
        .where(db.events.c.kindergarten == kindergarten)
        .where(db.events.c.kind == EventKind.SYSTEM)
        .where(db.events.c.body_status == db.BodyStatus.OK)
        .where(db.events.c.recorded_at_us >= start_us)
        .where(db.events.c.recorded_at_us < end_us)
        .order_by(db.events.c.terminal_id, db.events.c.seq)).all()
    entries = []
    for terminal_id, at_us, note in rows:
        what, _, detail = (note or "").partition(" ")
        entries.append(LedgerEntry(terminal_id, _KNOWN.get(what, what), at_us, detail))
    return entries


def outage_periods(entries: list[LedgerEntry]) -> list[Outage]:
    """Offline and camera periods from the start and end events, per terminal; a power-on
    ends nothing (the terminal says again when it is offline)."""
    periods: list[Outage] = []
    open_since: dict[tuple[str, OutageKind], int] = {}
    by_terminal: dict[str, list[LedgerEntry]] = defaultdict(list)
    for entry in entries:
        by_terminal[entry.terminal_id].append(entry)
    for terminal_id, items in by_terminal.items():
        for entry in items:
            for start, (kind, end) in _STARTS.items():
                if entry.what == start:
                    open_since.setdefault((terminal_id, kind), entry.recorded_at_us)
                elif entry.what == end and (terminal_id, kind) in open_since:
                    periods.append(Outage(terminal_id, kind,
                                          open_since.pop((terminal_id, kind)),
                                          entry.recorded_at_us))
    periods.extend(Outage(terminal, kind, since, None)
                   for (terminal, kind), since in open_since.items())
    return sorted(periods, key=lambda o: (o.terminal_id, o.start_us))


STORAGE_EVENTS = (SystemEvent.STORAGE_LOW, SystemEvent.STORAGE_FULL, SystemEvent.STORAGE_OK)
STORAGE_ALERTS = (SystemEvent.STORAGE_LOW, SystemEvent.STORAGE_FULL)
"""A terminal whose last storage event is one of these is shown with an alert (fleet page)."""


def storage_alerts(conn: Connection) -> dict[str, LedgerEntry]:
    """Each terminal whose storage was last reported low or full (its signed ledger event,
    received at a sync), with that entry; a later ``storage_ok`` clears it."""
    rows = conn.execute(
        select(db.events.c.terminal_id, db.events.c.recorded_at_us, db.events.c.note)
        .where(db.events.c.kind == EventKind.SYSTEM)
        .where(db.events.c.body_status == db.BodyStatus.OK)
        .where(db.events.c.note.like("storage\\_%", escape="\\"))
        .order_by(db.events.c.terminal_id, db.events.c.seq)).all()
    last: dict[str, LedgerEntry] = {}
    for terminal_id, at_us, note in rows:
        what, _, detail = (note or "").partition(" ")
        if what in STORAGE_EVENTS:
            last[terminal_id] = LedgerEntry(terminal_id, _KNOWN[what], at_us, detail)
    return {t: e for t, e in last.items() if e.what in STORAGE_ALERTS}
