"""The price of a change, measured side by side in one run: the code before it (a git
worktree of BASELINE) and this tree, on the same machine, the same kind of server and database,
their rounds interleaved so both see the same weather. Written for protocol 2 (issue 15,
baseline 6029b19), run again for the redesign (issue 16, baseline 3e09e6a):
``QATYS_BENCH_BASELINE=3e09e6a python -m bench before-after``. Each side speaks its own
protocol version, read from its tree.

- ingest: batches of 500 signed events from 3 terminals in parallel; before, the answer is a
  plain acknowledgement; after, every answer is signed over the request's nonce and checked by
  the terminal (the freshness check does not apply to batches, which are idempotent);
- a sync's signed request (``GET /api/v1/terminal/door``): after, it is also checked for
  freshness (its signature remembered in the database) and its answer signed and checked;
- check-in latency at the terminal (seal, chain, day state, commit), which protocol 2 leaves
  alone: the same figure on both sides says so;
- the finance pages a finance officer reads most (statement, табель, a child's month) for a
  month of 20 children, signed in, server time as the client sees it.

    python -m bench before-after        (also part of `make bench`)
"""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from time import perf_counter

import requests

from protocol import auth
from terminal.keys import load as load_keys
from tests.helpers import CHILDREN, ServerProcess, roster_csv, run, staff_session, start_server

REPOSITORY = Path(__file__).resolve().parent.parent
BASELINE = os.environ.get("QATYS_BENCH_BASELINE", "3e09e6a")
"""The last commit before the redesign (issue 16); 6029b19 was the one before protocol 2."""
ROUNDS = int(os.environ.get("QATYS_BENCH_ROUNDS", "12"))
BATCHES_PER_ROUND = 6
TERMINALS = 3
REQUESTS_PER_ROUND = 100
CHECKINS_PER_ROUND = 400
PAGE_VIEWS_PER_ROUND = 10
BENCH_MONTH = "2025-12"
"""A month of the roster's 20 children outside the ingested events (2025-11), so that a page
costs the same in every round: what is timed is the statement, its rendering and its words."""
PAGES = ("/finance/k/KG1/{month}", "/finance/k/KG1/{month}/tabel",
         "/finance/k/KG1/{month}/child/{child}")


@dataclass
class Side:
    name: str
    root: Path
    protocol: int
    server: ServerProcess | None = None
    homes: list[Path] = field(default_factory=list)
    bodies: list[list[bytes]] = field(default_factory=list)
    ingest: list[float] = field(default_factory=list)
    request_ms: list[float] = field(default_factory=list)
    checkin_p50: list[float] = field(default_factory=list)
    checkin_p99: list[float] = field(default_factory=list)
    page_ms: list[float] = field(default_factory=list)
    staff: requests.Session | None = None


def tree_protocol(root: Path) -> int:
    """The protocol version a tree speaks (``PROTOCOL_VERSION`` in its protocol package)."""
    found = re.search(r"^PROTOCOL_VERSION = (\d+)$",
                      (root / "protocol" / "__init__.py").read_text(encoding="utf-8"), re.M)
    return int(found.group(1)) if found else 1


@contextmanager
def baseline_tree(base: Path) -> Iterator[Path]:
    """BASELINE checked out beside this tree (no venv of its own: the same packages)."""
    path = base / "before"
    subprocess.run(["git", "-C", str(REPOSITORY), "worktree", "add", "--detach", "--quiet",
                    str(path), BASELINE], check=True)
    try:
        yield path
    finally:
        subprocess.run(["git", "-C", str(REPOSITORY), "worktree", "remove", "--force",
                        str(path)], check=False)


def _prepare(side: Side, base: Path, database_url: str | None) -> None:
    data = base / f"srv-{side.name}"
    side.server = start_server(data, database_url, cwd=side.root)
    run("kindergarten", "add", "--data", str(data), "--code", "KG1", "--name", "Bench",
        cwd=side.root)
    text, _ = roster_csv(20)
    (data / "roster.csv").write_text(text, encoding="utf-8")
    run("roster", "import", "--data", str(data), "--kindergarten", "KG1",
        str(data / "roster.csv"), cwd=side.root)
    from bench.__main__ import make_batches

    for n in range(TERMINALS + 1):  # the last one for signed requests and check-ins
        home = base / f"{side.name}-t{n}"
        token = run("terminal", "token", "--data", str(data), "--kindergarten", "KG1",
                    cwd=side.root).stdout.strip().splitlines()[-1]
        run("terminal", "enroll", "--home", str(home), "--server", side.server.url, "--token",
            token, cwd=side.root, env={"QATYS_RUNTIME_DIR": str(base / f"run-{side.name}")})
        side.homes.append(home)
        if n < TERMINALS:
            side.bodies.append(make_batches(home, ROUNDS * BATCHES_PER_ROUND))
    run("user", "add", "--data", str(data), "--username", "bench", "--role", "finance",
        "--password-stdin", input_text="bench-password-1\n", cwd=side.root)
    side.staff = staff_session(side.server.url, "bench", "bench-password-1")


def _pages_round(side: Side) -> None:
    """Median server time, as the client sees it, of the pages a finance officer reads."""
    assert side.server is not None
    assert side.staff is not None
    times = []
    for _ in range(PAGE_VIEWS_PER_ROUND):
        for page in PAGES:
            started = perf_counter()
            answer = side.staff.get(side.server.url + page.format(
                month=BENCH_MONTH, child=CHILDREN[0]), timeout=30)
            times.append(perf_counter() - started)
            assert answer.status_code == 200, (page, answer.status_code)
    side.page_ms.append(statistics.median(times) * 1000)


def _post_batches(side: Side, terminal: int, bodies: list[bytes]) -> None:
    assert side.server is not None
    session = requests.Session()
    keys = load_keys(side.homes[terminal])
    terminal_id = tomllib.loads((side.homes[terminal] / "terminal.toml").read_text())[
        "terminal_id"]
    for body in bodies:
        headers = {"Content-Type": "application/cbor", auth.HEADER_PROTOCOL: str(side.protocol)}
        if side.protocol >= 2:
            nonce = auth.nonce_text(os.urandom(16))
            headers.update({auth.HEADER_NONCE: nonce, auth.HEADER_TERMINAL: terminal_id})
        answer = session.post(side.server.url + "/api/v1/batches", data=body, timeout=60,
                              headers=headers)
        assert answer.status_code == 200, answer.text
        if side.protocol >= 2:  # what the terminal does with every answer
            auth.verify_answer(keys.server_sign_public, auth.answer_signing_input(
                "POST", "/api/v1/batches", "", terminal_id, nonce, 200, answer.content),
                answer.headers.get(auth.HEADER_ANSWER))


def _ingest_round(side: Side, round_no: int) -> None:
    chunk = slice(round_no * BATCHES_PER_ROUND, (round_no + 1) * BATCHES_PER_ROUND)
    started = perf_counter()
    with ThreadPoolExecutor(TERMINALS) as pool:
        list(pool.map(lambda n: _post_batches(side, n, side.bodies[n][chunk]),
                      range(TERMINALS)))
    side.ingest.append(TERMINALS * BATCHES_PER_ROUND * 500 / (perf_counter() - started))


_SIDE_SCRIPT = r"""
import inspect, json, sys, time
from terminal.home import open_terminal
from terminal.client import ServerClient
from terminal.checkin import CheckinRequest, CheckinService
home, url, requests_n, checkins_n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
t = open_terminal(home, log=False)
kwargs = {}
if "server_key" in inspect.signature(ServerClient).parameters:
    kwargs["server_key"] = t.keys.server_sign_public
client = ServerClient(url, 30, **kwargs)
times = []
for _ in range(requests_n):
    start = time.perf_counter()
    client.signed_get("/api/v1/terminal/door", t.terminal_id, t.keys.sign_seed, {})
    times.append(time.perf_counter() - start)
service = CheckinService(t)
commits = []
for i in range(checkins_n):
    start = time.perf_counter()
    service.checkin(CheckinRequest(f"child-{i % 20:05d}-x7q", "manual", reason="bench",
                                   direction="in" if (i // 20) % 2 == 0 else "out"))
    commits.append(time.perf_counter() - start)
t.close()
times.sort(); commits.sort()
print(json.dumps({"request_ms": times[len(times) // 2] * 1000,
                  "p50": commits[len(commits) // 2] * 1000,
                  "p99": commits[int(len(commits) * 0.99)] * 1000}))
"""


def _terminal_round(side: Side, base: Path) -> None:
    assert side.server is not None
    out = subprocess.run([sys.executable, "-c", _SIDE_SCRIPT, str(side.homes[-1]),
                          side.server.url, str(REQUESTS_PER_ROUND), str(CHECKINS_PER_ROUND)],
                         cwd=side.root, capture_output=True, text=True, check=True,
                         env={**os.environ, "QATYS_RUNTIME_DIR": str(base / f"run-{side.name}")})
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    side.request_ms.append(figures["request_ms"])
    side.checkin_p50.append(figures["p50"])
    side.checkin_p99.append(figures["p99"])


def bench_before_after(base: Path, label: str = "SQLite",
                       database_urls: tuple[str | None, str | None] = (None, None)) -> None:
    with baseline_tree(base) as before_root:
        sides = [Side("before", before_root, tree_protocol(before_root)),
                 Side("after", REPOSITORY, tree_protocol(REPOSITORY))]
        try:
            for side, url in zip(sides, database_urls, strict=True):
                _prepare(side, base, url)
            for round_no in range(ROUNDS):
                for side in sides if round_no % 2 == 0 else sides[::-1]:
                    _ingest_round(side, round_no)
                    if label == "SQLite":
                        _terminal_round(side, base)
                    _pages_round(side)
        finally:
            for side in sides:
                if side.server is not None:
                    side.server.stop()
    _report(sides, label)


def _report(sides: list[Side], label: str) -> None:
    before, after = sides
    med = statistics.median
    print(f"side by side ({label}; before = {BASELINE}, protocol {before.protocol}; after = "
          f"this tree, protocol {after.protocol}; {ROUNDS} interleaved rounds, medians):")
    print(f"  ingest, {TERMINALS} terminals x {BATCHES_PER_ROUND} batches of 500: before "
          f"{med(before.ingest):,.0f} events/s, after {med(after.ingest):,.0f} events/s, "
          f"ratio {med(after.ingest) / med(before.ingest):.3f} (goal >= 0.95)")
    print("    rounds before: " + ", ".join(f"{v:,.0f}" for v in before.ingest))
    print("    rounds after:  " + ", ".join(f"{v:,.0f}" for v in after.ingest))
    if before.request_ms:
        print(f"  signed request GET /terminal/door: before {med(before.request_ms):.2f} ms, "
              f"after {med(after.request_ms):.2f} ms "
              f"(+{med(after.request_ms) - med(before.request_ms):.2f} ms)")
        print(f"  check-in commit: before p50 {med(before.checkin_p50):.3f} / p99 "
              f"{med(before.checkin_p99):.3f} ms, after p50 {med(after.checkin_p50):.3f} / "
              f"p99 {med(after.checkin_p99):.3f} ms, ratio p99 "
              f"{med(after.checkin_p99) / med(before.checkin_p99):.2f}")
    print(f"  finance pages (statement, табель, child; 20 children): before "
          f"{med(before.page_ms):.2f} ms, after {med(after.page_ms):.2f} ms, ratio "
          f"{med(after.page_ms) / med(before.page_ms):.3f}")
