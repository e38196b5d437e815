"""Clock integrity with libfaketime (wall clock faked, monotonic clock real, as on a Pi
without a real-time clock): a terminal that booted in 1970, ten days behind or days ahead
records check-ins, syncs, learns the server's time and records the next ones right even when
its clock then jumps; the server corrects the early ones with a new record (the originals
stay) and flags them; a clock set back never makes time go backwards in the chain; events
keep their order by (boot id, monotonic time); nothing is lost."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from qatys.timeutil import from_datetime, local_date, now_us
from server.datadir import open_data_dir
from server.storage import db
from tests.helpers import QATYS, ServerProcess, enrol, faked_clock, run

DAY_US = 86_400 * 1_000_000
NEAR_US = 10 * 60 * 1_000_000


def _faked(moment: str, env: dict[str, str], *args: str) -> dict[str, object]:
    out = subprocess.run([*QATYS, *args], capture_output=True, text=True,
                         timeout=60, check=True,
                         env={**os.environ, **env, **faked_clock(moment),
                              "FAKETIME_DONT_FAKE_MONOTONIC": "1"})
    lines = out.stdout.strip().splitlines()
    return json.loads(lines[-1]) if lines and lines[-1].startswith("{") else {}


def _us(iso: str) -> int:
    return from_datetime(datetime.strptime(iso, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC))


def _shifted(days: float) -> str:
    """A faketime start moment this many days from now (UTC)."""
    return (datetime.now(UTC) + timedelta(days=days)).strftime("%Y-%m-%d %H:%M:%S")


def _arrivals(server: ServerProcess) -> dict[str, Any]:
    engine = open_data_dir(server.data_dir).engine
    with engine.connect() as conn:
        rows = conn.execute(
            select(db.events.c.event_id, db.events.c.seq, db.events.c.recorded_at_us,
                   db.events.c.mono_ns, db.events.c.boot_id,
                   db.event_time_corrections.c.corrected_at_us)
            .outerjoin(db.event_time_corrections,
                       db.event_time_corrections.c.event_id == db.events.c.event_id)
            .where(db.events.c.kind == "arrival")).all()
    engine.dispose()
    return {r.event_id: r for r in rows}


def _clock_flags(server: ServerProcess) -> list[str]:
    month = local_date(now_us()).strftime("%Y-%m")
    flags = [json.loads(line) for line in run(
        "funding", "anomalies", "--data", str(server.data_dir), "--kindergarten", "KG1",
        "--month", month).stdout.splitlines()]
    return [e for f in flags if f["rule"] == "clock_corrected" for e in f["event_ids"]]


def test_a_terminal_that_booted_in_1970(sqlite_server: ServerProcess, tmp_path: Path,
                                        runtime_env: dict[str, str]) -> None:
    home = tmp_path / "home"
    enrol(sqlite_server, home, runtime_env)
    checkin = ["terminal", "checkin", "--home", str(home), "--manual", "--reason", "test"]
    early = _faked("1970-01-02 08:00:00", runtime_env, *checkin, "--child", "child-00012-x7q")
    assert str(early["recorded_at"]).startswith("1970-01-02")
    _faked("1970-01-02 08:00:30", runtime_env, "terminal", "sync", "--home", str(home),
           "--quiet")
    # The terminal learnt the server's time at that sync: its next check-in is right.
    later = _faked("1970-01-02 08:01:00", runtime_env, *checkin, "--child", "child-00013-x7q")
    assert abs(_us(str(later["recorded_at"])) - now_us()) < 10 * 60 * 1_000_000
    # Set back further still: time in the chain never goes backwards.
    back = _faked("1969-12-31 23:00:00", runtime_env, *checkin, "--child", "child-00014-x7q")
    assert str(back["recorded_at"]) > str(later["recorded_at"])
    _faked("1970-01-02 08:02:00", runtime_env, "terminal", "sync", "--home", str(home),
           "--quiet")

    rows = sorted(_arrivals(sqlite_server).values(), key=lambda r: r.seq)
    by_id = {r.event_id: r for r in rows}
    first = by_id[str(early["event_id"])]
    assert first.recorded_at_us < DAY_US * 2  # the original time stays as recorded
    assert first.corrected_at_us is not None
    assert abs(first.corrected_at_us - now_us()) < NEAR_US  # corrected to now
    assert by_id[str(later["event_id"])].corrected_at_us is None  # already right
    assert [r.mono_ns for r in rows] == sorted(r.mono_ns for r in rows)  # order kept
    assert len(rows) == 3  # nothing lost

    assert _clock_flags(sqlite_server) == [early["event_id"]]
    month = local_date(now_us()).strftime("%Y-%m")
    why = [json.loads(line) for line in run(
        "funding", "why", "--data", str(sqlite_server.data_dir), "--kindergarten", "KG1",
        "--month", month, "--child", "child-00012-x7q").stdout.splitlines()]
    days = [d for d in why[:-1] if any(e["event_id"] == early["event_id"]
                                       for e in d["evidence"])]
    assert [d["date"] for d in days] == [local_date(first.corrected_at_us).isoformat()]




@pytest.mark.parametrize(("name", "boot_shift_days"), [("ten_days_behind", -10.0),
                                                       ("days_ahead", 3.0)])
def test_wrong_clock_at_boot_then_a_jump_after_sync(
        sqlite_server: ServerProcess, tmp_path: Path, runtime_env: dict[str, str],
        name: str, boot_shift_days: float) -> None:
    """Booted offline with the clock ten days behind (or three days ahead): the check-in
    before the first sync is corrected by the server; after the sync the clock jumps forward
    by two days, and the terminal still records the right time (server time carried by the
    monotonic clock), so the server corrects nothing more."""
    home = tmp_path / name
    enrol(sqlite_server, home, runtime_env)
    checkin = ["terminal", "checkin", "--home", str(home), "--manual", "--reason", "test"]
    sync = ["terminal", "sync", "--home", str(home), "--quiet"]
    children = {"early": "child-00015-x7q", "jumped": "child-00016-x7q",
                "back": "child-00017-x7q"}
    early = _faked(_shifted(boot_shift_days), runtime_env, *checkin, "--child",
                   children["early"])
    assert abs(_us(str(early["recorded_at"])) - now_us() - boot_shift_days * DAY_US) < NEAR_US
    _faked(_shifted(boot_shift_days), runtime_env, *sync)
    jumped = _faked(_shifted(boot_shift_days + 2), runtime_env, *checkin, "--child",
                    children["jumped"])
    back = _faked(_shifted(boot_shift_days), runtime_env, *checkin, "--child", children["back"])
    for later in (jumped, back):
        assert abs(_us(str(later["recorded_at"])) - now_us()) < NEAR_US
    _faked(_shifted(boot_shift_days), runtime_env, *sync)

    rows = _arrivals(sqlite_server)
    mine = [rows[str(e["event_id"])] for e in (early, jumped, back)]
    assert len({r.boot_id for r in mine}) == 1
    assert [r.mono_ns for r in mine] == sorted(r.mono_ns for r in mine)  # order kept
    first = mine[0]
    assert abs(first.recorded_at_us - now_us() - boot_shift_days * DAY_US) < NEAR_US  # kept
    assert first.corrected_at_us is not None
    assert abs(first.corrected_at_us - now_us()) < NEAR_US
    assert [r.corrected_at_us for r in mine[1:]] == [None, None]
    flagged = _clock_flags(sqlite_server)
    assert str(early["event_id"]) in flagged
    assert not {str(jumped["event_id"]), str(back["event_id"])} & set(flagged)
