"""Clock integrity with libfaketime (wall clock faked, monotonic clock real, as on a Pi
without a real-time clock): a terminal that booted in 1970 records check-ins, syncs, learns
the server's time and records the next ones right; the server corrects the early ones with a
new record (the originals stay) and flags them; a clock set back never makes time go
backwards in the chain; nothing is lost."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from qatys.timeutil import from_datetime, local_date, now_us
from server import db
from server.admin import open_data_dir
from tests.helpers import QATYS, ServerProcess, run
from tests.test_end_to_end import enrol

DAY_US = 86_400 * 1_000_000


def _faked(moment: str, env: dict[str, str], *args: str) -> dict[str, object]:
    if shutil.which("faketime") is None:
        if os.environ.get("QATYS_REQUIRE_FAKETIME") == "1":
            pytest.fail("faketime is required here (make test installs it) but is missing")
        pytest.skip("faketime not installed")
    out = subprocess.run(["faketime", moment, *QATYS, *args], capture_output=True, text=True,
                         timeout=60, check=True,
                         env={**os.environ, **env, "TZ": "UTC",
                              "FAKETIME_DONT_FAKE_MONOTONIC": "1"})
    lines = out.stdout.strip().splitlines()
    return json.loads(lines[-1]) if lines and lines[-1].startswith("{") else {}


def _us(iso: str) -> int:
    return from_datetime(datetime.strptime(iso, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC))


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

    engine = open_data_dir(sqlite_server.data_dir).engine
    with engine.connect() as conn:
        rows = conn.execute(
            select(db.events.c.event_id, db.events.c.seq, db.events.c.recorded_at_us,
                   db.events.c.mono_ns, db.event_time_corrections.c.corrected_at_us)
            .outerjoin(db.event_time_corrections,
                       db.event_time_corrections.c.event_id == db.events.c.event_id)
            .where(db.events.c.kind == "arrival").order_by(db.events.c.seq)).all()
    engine.dispose()
    by_id = {r.event_id: r for r in rows}
    first = by_id[str(early["event_id"])]
    assert first.recorded_at_us < DAY_US * 2  # the original time stays as recorded
    assert first.corrected_at_us is not None
    assert abs(first.corrected_at_us - now_us()) < 10 * 60 * 1_000_000  # corrected to now
    assert by_id[str(later["event_id"])].corrected_at_us is None  # already right
    assert [r.mono_ns for r in rows] == sorted(r.mono_ns for r in rows)  # order kept
    assert len(rows) == 3  # nothing lost

    month = local_date(now_us()).strftime("%Y-%m")
    flags = [json.loads(line) for line in run(
        "funding", "anomalies", "--data", str(sqlite_server.data_dir), "--kindergarten", "KG1",
        "--month", month).stdout.splitlines()]
    corrected = [f for f in flags if f["rule"] == "clock_corrected"]
    assert [f["event_ids"] for f in corrected] == [[early["event_id"]]]
    why = [json.loads(line) for line in run(
        "funding", "why", "--data", str(sqlite_server.data_dir), "--kindergarten", "KG1",
        "--month", month, "--child", "child-00012-x7q").stdout.splitlines()]
    days = [d for d in why[:-1] if any(e["event_id"] == early["event_id"]
                                       for e in d["evidence"])]
    assert [d["date"] for d in days] == [local_date(first.corrected_at_us).isoformat()]
