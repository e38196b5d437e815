"""A terminal's sync of 50 events with and without a flood of wrong passwords at the finance
sign-in (16 clients), side by side, on a real server (issue 15; docs/performance.md).

Three floods: from one address (the server's limits answer 429 after the first wrong
passwords: the cost of a refused flood); spread over many addresses and usernames behind a
trusted proxy, so that no limit is reached and every post runs scrypt (the worst case the
password check's moving out of the write lock is for); and, for comparison, the same 16
clients asking for /api/v1/health, the cheapest answer the server has (what any flood of
requests costs a sync on this machine). Each round makes 50 new check-ins, syncs them once
quietly and once with the flood under way; medians of the rounds. The flooding clients run
in a process of their own but on the same two cores: on a server of its own the sync would
share them with the server's answers only."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import requests

from terminal.home import open_terminal
from terminal.sync import Syncer
from tests.conftest import _seed
from tests.helpers import flood_sign_in, make_checkins, run, start_server

EVENTS = 50


def _sync_seconds(home: Path) -> float:
    terminal = open_terminal(home, log=False)
    try:
        started = time.perf_counter()
        report = Syncer(terminal).sync()
        elapsed = time.perf_counter() - started
        assert report.sent_events == EVENTS, report
        return elapsed
    finally:
        terminal.close()


def _start_flood(url: str, seconds: float, kind: str) -> subprocess.Popen[str]:
    """The flooding clients in a process of their own (as they would be on other machines):
    in this one their threads would take the interpreter from the terminal's sync."""
    return subprocess.Popen([sys.executable, "-m", "bench.sign_in_flood", url, str(seconds),
                             kind], stdout=subprocess.PIPE, text=True)


def _flood_health(url: str, seconds: float, clients: int = 16) -> Counter[int]:
    deadline = time.monotonic() + seconds
    statuses: Counter[int] = Counter()

    def client() -> None:
        session = requests.Session()
        while time.monotonic() < deadline:
            statuses[session.get(url + "/api/v1/health", timeout=30).status_code] += 1

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(seconds + 60)
    return statuses


def bench_sign_in_flood(base: Path, rounds: int = 7) -> None:
    server = start_server(base / "srv-flood", settings={"trusted_proxies": ["127.0.0.1"]})
    _seed(base / "srv-flood")
    try:
        token = run("terminal", "token", "--data", str(server.data_dir), "--kindergarten",
                    "KG1").stdout.strip().splitlines()[-1]
        home = base / "flood-door"
        run("terminal", "enroll", "--home", str(home), "--server", server.url, "--token", token)
        made = 0
        print(f"sync of {EVENTS} events, with and without 16 clients posting wrong passwords "
              f"(medians of {rounds} rounds):")
        for kind in ("one", "spread", "health"):
            quiet, flooded, answers = [], [], Counter[int]()
            for _ in range(rounds):
                make_checkins(home, EVENTS, made)
                made += EVENTS
                quiet.append(_sync_seconds(home))
                make_checkins(home, EVENTS, made)
                made += EVENTS
                flood = _start_flood(server.url, 4.0, kind)
                time.sleep(1.5)
                flooded.append(_sync_seconds(home))
                out, _ = flood.communicate(timeout=60)
                answers.update({int(k): v for k, v in json.loads(out).items()})
            q, f = statistics.median(quiet), statistics.median(flooded)
            what = {"one": "one address, refused with 429 after the limit",
                    "spread": "many addresses and usernames: no limit reached, scrypt for each",
                    "health": "the same clients on /api/v1/health (comparison)"}[kind]
            print(f"  flood from {what}:" if kind != "health" else f"  {what}:")
            print(f"    quiet {q * 1000:.0f} ms  flooded {f * 1000:.0f} ms  ratio {f / q:.2f}x "
                  f"(goal <= 2x); sign-in answers {dict(sorted(answers.items()))}, "
                  f"{sum(answers.values()) / (rounds * 4.0):.0f}/s")
    finally:
        server.stop()


if __name__ == "__main__":  # the flood's own process: URL, seconds, one|spread|health
    if sys.argv[3] == "health":
        statuses = _flood_health(sys.argv[1], float(sys.argv[2]))
    else:
        statuses = flood_sign_in(sys.argv[1], float(sys.argv[2]), spread=sys.argv[3] == "spread")
    print(json.dumps(dict(statuses)))
