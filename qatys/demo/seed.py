"""The demo's past month, recorded the way a real one is (once, in a fresh demo directory).

Check-ins: the demo terminal's own check-in service records each planned scan — decided,
sealed, chained, committed — under a clock that reads the scan's time (one boot a day, its
monotonic time counted from 06:00), before the live kiosk starts; then one ordinary sync
pushes them in signed batches and the server ingests them. Absences and the closure go
through the same services as `qatys absence add` and `qatys closure add`. Last, the month's
totals are computed as the finance overview's button does.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from protocol import crypto
from protocol.events import Method
from qatys.demo.month import MonthPlan, Scan, plan_month, previous_month
from qatys.timeutil import from_datetime, now_us
from server.datadir import DataDir, with_data_dir
from server.jobs.queue import JobStatus
from server.money.jobs import latest_job, start_month_job
from server.registry.records import add_absence, add_closure
from server.worker.loop import Worker
from terminal.checkin import CheckinRequest, CheckinService
from terminal.clock import Reading
from terminal.home import Terminal, open_terminal
from terminal.sync import Syncer

MARKER = "demo-month.txt"
"""In the demo directory: the month seeded (written last, so a run cut short seeds again)."""
BOOT_HOUR = 6
DIRECTOR = "director"


class PastClock:
    """The clock of a door terminal living through a planned month: it reads what
    :meth:`set` was given; each local day is one boot, its monotonic time since 06:00."""

    def __init__(self, zone: ZoneInfo) -> None:
        self._zone = zone
        self._reading: Reading | None = None

    def set(self, time_us: int) -> None:
        moment = datetime.fromtimestamp(time_us / 1_000_000, tz=self._zone)
        boot_us = from_datetime(moment.replace(hour=BOOT_HOUR, minute=0, second=0,
                                               microsecond=0))
        boot_id = crypto.sha256(f"demo-boot-{moment.date().isoformat()}".encode())[:16]
        self._reading = Reading(time_us, boot_id, (time_us - boot_us) * 1000)

    def __call__(self) -> Reading:
        assert self._reading is not None, "set the past clock before a check-in"
        return self._reading


def seed_previous_month(base: Path, data: Path, home: Path, children: list[str],
                        kindergarten: str, today: date) -> MonthPlan | None:
    """Record the month before ``today`` once per demo directory; None when already done, or
    when its terminal has recorded check-ins already (a demo directory older than this: a
    past time there would be recorded at that terminal's latest, see terminal/timekeeping.py)."""
    if (base / MARKER).exists():
        return None
    terminal = open_terminal(home, log=False)
    try:
        if terminal.store.counts().head_seq > 0:
            return None
        plan = plan_month(*previous_month(today), children, terminal.config.zone)
        _record(terminal, plan.scans)
        Syncer(terminal).sync()
    finally:
        terminal.close()
    _add_records(data, kindergarten, plan)
    (base / MARKER).write_text(plan.label + "\n", encoding="utf-8")
    return plan


def _record(terminal: Terminal, scans: tuple[Scan, ...]) -> None:
    """Each scan as the door records it: a card's direction is the door logic's, a manual
    entry's the one staff chose."""
    past = PastClock(terminal.config.zone)
    service = CheckinService(terminal, read_clock=past)
    for scan in scans:
        past.set(scan.time_us)
        forced = scan.direction if scan.method == Method.MANUAL else None
        service.checkin(CheckinRequest(scan.child_id, scan.method, reason=scan.reason,
                                       by=scan.by, direction=forced))


@with_data_dir
def _add_records(server: DataDir, kindergarten: str, plan: MonthPlan) -> None:
    """The absences and the closure, then the month's totals (as the overview's button)."""
    with server.transaction() as conn:
        for closure in plan.closures:
            add_closure(conn, kindergarten, closure.first, closure.last, closure.reason,
                        DIRECTOR, now_us())
        for absence in plan.absences:
            add_absence(conn, absence.child_id, absence.first, absence.last,
                        absence.reason, absence.document, DIRECTOR, now_us())
    start_month_job(server.engine, plan.label, "demo", now_us(),
                    server.config.job_stale_seconds * 1_000_000)
    Worker(server.engine, server.config, now_us, "demo", workers=1).run_jobs()
    with server.engine.connect() as conn:
        state = latest_job(conn, plan.label)
    if state is None or state.status != JobStatus.DONE:
        raise RuntimeError(f"the demo month's totals failed: {state.error if state else '?'}")
