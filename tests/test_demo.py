"""`qatys demo run` (what `make run` starts): a fresh demo shows the previous month with real
content — its attendance recorded by the demo terminal and synced, its absences, its closure,
its totals — and a kiosk; the month it generates is plausible and the same every time."""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import requests

from protocol.events import Method
from qatys.demo import DEMO_CODE, DEMO_USERS, demo_children
from qatys.demo.month import MANUAL_SHARE, ON_CLOSURE, plan_month, previous_month
from qatys.demo.seed import PastClock
from qatys.timeutil import LOCAL_ZONE, local_date, now_us
from server.domain import anomalies
from tests.helpers import (
    QATYS,
    ServerProcess,
    free_port,
    guardian_client,
    staff_session,
    wait_for_kiosk,
)

START_SECONDS = 120


def _password(role: str) -> tuple[str, str]:
    return next((user, password) for user, r, password in DEMO_USERS if r == role)


def _start_demo(base: Path) -> tuple[ServerProcess, int]:
    port, kiosk, core = free_port(), free_port(), free_port()
    log = (base / "demo.log").open("wb")
    process = subprocess.Popen([*QATYS, "demo", "run", "--dir", str(base / "run"), "--port",
                                str(port), "--kiosk-port", str(kiosk), "--core-port",
                                str(core)], stdout=log, stderr=subprocess.STDOUT,
                               start_new_session=True)
    demo = ServerProcess(base / "run" / "server", port, process, log)
    deadline = time.monotonic() + START_SECONDS
    while b"Qatys is running" not in (base / "demo.log").read_bytes():
        assert process.poll() is None, (base / "demo.log").read_text()
        assert time.monotonic() < deadline, (base / "demo.log").read_text()
        time.sleep(0.2)
    return demo, kiosk


def test_a_fresh_demo_shows_the_previous_month(tmp_path: Path) -> None:
    year, month = previous_month(local_date(now_us()))
    label = f"{year:04d}-{month:02d}"
    demo, kiosk = _start_demo(tmp_path)
    try:
        assert requests.get(demo.url + "/api/v1/health", timeout=5).ok

        finance = staff_session(demo.url, *_password("finance"))
        overview = finance.get(demo.url + "/finance/", timeout=30).text
        assert label in overview
        total = re.search(rf'<tr data-code="{DEMO_CODE}">.*?class="num total">([^<]+)<',
                          overview, re.S)
        assert total is not None, overview
        assert float(re.sub(r"\s", "", total.group(1))) > 0

        director = staff_session(demo.url, *_password("director"))
        statement = director.get(f"{demo.url}/finance/k/{DEMO_CODE}/{label}", timeout=30).text
        rows = re.findall(r'<tr data-child="([^"]+)">.*?<td class="num">(\d+)</td>\s*'
                          r'<td class="num">(\d+)</td><td class="num amount">', statement, re.S)
        assert len(rows) == len(demo_children())
        assert all(int(present) > 0 for _, present, _ in rows)
        paid = {child: int(days) for child, _, days in rows}
        assert paid["DEMO-004"] == 3
        assert paid["DEMO-007"] == 0
        assert paid["DEMO-010"] > 0
        assert 'data-rule="present_on_closure"' in statement
        tabel = director.get(f"{demo.url}/finance/k/{DEMO_CODE}/{label}/tabel", timeout=30)
        assert tabel.ok
        assert "+к" in tabel.text
        assert "Б" in tabel.text
        child = director.get(f"{demo.url}/finance/k/{DEMO_CODE}/{label}/child/DEMO-004",
                             timeout=30)
        assert child.ok
        assert "ABS-" in child.text

        parent = guardian_client(demo, "DEMO-004")
        record = parent.http.get(f"{demo.url}/parents/child/DEMO-004?month={label}",
                                 timeout=30)
        assert record.ok
        assert record.text.count('class="day"') >= 10

        wait_for_kiosk(f"http://127.0.0.1:{kiosk}")
        assert requests.get(f"http://127.0.0.1:{kiosk}/status", timeout=5).ok
    finally:
        demo.stop()
    assert demo.process.returncode == 0, (tmp_path / "demo.log").read_text()


def test_the_generated_month_is_plausible_and_the_same_every_time() -> None:
    children = demo_children()
    plan = plan_month(2026, 3, children, LOCAL_ZONE)
    assert plan == plan_month(2026, 3, children, LOCAL_ZONE)
    closed = plan.closures[0].first
    on_closure = {s.child_id for s in plan.scans if local_date(s.time_us) == closed}
    assert len(on_closure) == ON_CLOSURE
    reasons = {(a.reason, bool(a.document)) for a in plan.absences}
    assert reasons == {("illness", True), ("illness", False), ("leave", True)}
    for absence in plan.absences:
        assert not [s for s in plan.scans if s.child_id == absence.child_id
                    and absence.first <= local_date(s.time_us) <= absence.last]
    manual = [s for s in plan.scans if s.method == Method.MANUAL]
    assert manual
    assert all(s.reason for s in manual)
    assert len(manual) < 2 * MANUAL_SHARE * len(plan.scans)
    for scan in plan.scans:
        local = local_date(scan.time_us)
        hour = (scan.time_us // 3_600_000_000 + 5) % 24  # Asia/Almaty is UTC+5
        assert local.month == 3, scan
        assert 7 <= hour < 9 or 17 <= hour < 19, scan

    past = PastClock(LOCAL_ZONE)
    facts = []
    for number, scan in enumerate(plan.scans):
        past.set(scan.time_us)
        reading = past()
        facts.append(anomalies.CheckinFact(
            f"T-DEMO:{number}", "T-DEMO", DEMO_CODE, scan.child_id, scan.method,
            scan.time_us, local_date(scan.time_us), reading.boot_id, reading.mono_ns))
    flags = anomalies.all_flags(facts, {closed})
    assert [f.rule for f in flags] == ["present_on_closure"]
