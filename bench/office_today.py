"""The office's today list for a big kindergarten, and how soon an open page follows a sync
(issue 17; docs/performance.md, "Office: today's list").

Server time: a kindergarten of 600 children in 12 groups whose terminal brought 560
arrivals and 200 departures this morning (real signed events through a real sync); the
director's ``GET /office/today`` answered by the app in this process (Flask's test client:
the server's own time, no network), 60 times after 5 to warm up: p50 and p95, on SQLite and,
when installed, on PostgreSQL.

Delay: a real server, the director's page open in a real headless Chromium; 10 times, one
more child checks in and the terminal syncs; the time from the sync's end to the child's row
changing on the open page (the page's live stream polls once a second).
"""

from __future__ import annotations

import re
import statistics
import time
from pathlib import Path

from server.app import create_app
from terminal.checkin import CheckinRequest, CheckinService
from terminal.home import open_terminal
from tests.browser import Page
from tests.helpers import (
    ServerProcess,
    add_user,
    browser_login,
    enrol,
    open_page,
    roster_csv,
    run,
)

CHILDREN = 600
GROUPS = tuple(f"Топ {n:02d}" for n in range(1, 13))
PASSWORD = "bench-director-1"  # noqa: S105 - a throwaway server's account


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def prepare(server: ServerProcess, base: Path) -> tuple[Path, dict[str, str], list[str]]:
    """KGB with 600 children, its director, a terminal that brought the morning's events."""
    data = str(server.data_dir)
    run("kindergarten", "add", "--data", data, "--code", "KGB", "--name", "Үлкен балабақша")
    text, people = roster_csv(CHILDREN, "big", GROUPS)
    (base / "big.csv").write_text(text, encoding="utf-8")
    run("roster", "import", "--data", data, "--kindergarten", "KGB", str(base / "big.csv"))
    add_user(server, "bigdir", "director", PASSWORD, "KGB")
    env = {"QATYS_RUNTIME_DIR": str(base / "run")}
    enrol(server, base / "door", env, kg="KGB")
    ids = [p["child_id"] for p in people]
    terminal = open_terminal(base / "door", log=False)
    try:
        service = CheckinService(terminal)
        for child in ids[:560]:
            service.checkin(CheckinRequest(child, "manual", reason="bench", direction="in"))
        for child in ids[:200]:
            service.checkin(CheckinRequest(child, "manual", reason="bench", direction="out"))
    finally:
        terminal.close()
    run("terminal", "sync", "--home", str(base / "door"), "--quiet", env=env)
    return base / "door", env, ids


def server_time(server: ServerProcess, label: str) -> None:
    app = create_app(server.data_dir)
    client = app.test_client()
    form = client.get("/finance/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf" value="([^"]+)"', form)
    assert csrf is not None
    signed = client.post("/finance/login", data={"csrf": csrf.group(1), "username": "bigdir",
                                                 "password": PASSWORD})
    assert signed.status_code == 302, signed.get_data(as_text=True)
    times = []
    for i in range(65):
        started = time.perf_counter()
        answer = client.get("/office/today")
        elapsed = (time.perf_counter() - started) * 1000
        assert answer.status_code == 200
        if i >= 5:
            times.append(elapsed)
    rows = answer.get_data(as_text=True).count(" data-state=")
    print(f"office today, {label}: {rows} children, server time p50 "
          f"{statistics.median(times):.1f} ms, p95 {_pct(times, 0.95):.1f} ms (60 requests)")


def page_delay(server: ServerProcess, base: Path, door: Path, env: dict[str, str],
               ids: list[str]) -> None:
    page = Page(base / "profile")
    delays = []
    try:
        browser_login(page, server.url, "bigdir", PASSWORD)
        open_page(page, server.url + "/office/today")
        for child in ids[560:570]:
            row = f"document.querySelector('tr[data-child=\"{child}\"]').dataset.state"
            terminal = open_terminal(door, log=False)
            try:
                CheckinService(terminal).checkin(CheckinRequest(child, "manual", reason="bench",
                                                                direction="in"))
            finally:
                terminal.close()
            run("terminal", "sync", "--home", str(door), "--quiet", env=env)
            synced = time.monotonic()
            page.wait_for(f"{row} === 'present'", timeout=30)
            delays.append((time.monotonic() - synced) * 1000)
    finally:
        page.close()
    print(f"office today, sync to the row changing on an open page: median "
          f"{statistics.median(delays):.0f} ms, max {max(delays):.0f} ms (10 syncs)")


def bench_office_today(base: Path, postgres_url: str | None = None) -> None:
    """Both figures on SQLite; the server time on PostgreSQL too when a URL is given."""
    from tests.helpers import start_server

    server = start_server(base / "office-sqlite")
    try:
        door, env, ids = prepare(server, base / "office-sqlite")
        server_time(server, "SQLite")
        page_delay(server, base / "office-sqlite", door, env, ids)
    finally:
        server.stop()
    if postgres_url is not None:
        server = start_server(base / "office-pg", postgres_url)
        try:
            prepare(server, base / "office-pg")
            server_time(server, "PostgreSQL")
        finally:
            server.stop()
