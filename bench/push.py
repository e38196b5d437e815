"""`python -m bench push`: ingest throughput with 1,000 push subscriptions beside without (two
servers side by side, rounds alternating, medians and their ratio; goal >= 0.95), and the
delay from a sync to the message reaching a local push endpoint (tests/push_standin.py, a
STAND-IN push service) with the sender loop (`qatys server notify`) running: p50/p95."""

from __future__ import annotations

import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

from protocol import batches, events
from qatys.timeutil import now_us
from server.datadir import open_data_dir
from server.storage import db
from terminal.checkin import CheckinService
from terminal.home import open_terminal
from tests.conftest import _seed
from tests.helpers import QATYS, ServerProcess, roster_csv, run, start_server
from tests.push_standin import PushStandIn

KG = "KGP"
CHILDREN = 1000
SUBSCRIPTIONS = 1000
ROUNDS = 11
BATCHES_PER_ROUND = 4
EVENTS_PER_BATCH = 500
DELAY_SAMPLES = 40


def _prepare(base: Path, name: str) -> ServerProcess:
    """A seeded server with kindergarten KGP and its 1,000 children."""
    server = start_server(base / name)
    _seed(base / name)
    text, _ = roster_csv(CHILDREN, prefix="push")
    (base / f"{name}-roster.csv").write_text(text, encoding="utf-8")
    run("kindergarten", "add", "--data", str(server.data_dir), "--code", KG, "--name", "P")
    run("roster", "import", "--data", str(server.data_dir), "--kindergarten", KG,
        str(base / f"{name}-roster.csv"))
    return server


def _subscribe_all(server: ServerProcess, stand_in: PushStandIn, count: int) -> None:
    """``count`` guardians, one per child, each with one subscription at the stand-in."""
    data = open_data_dir(server.data_dir)
    moment = now_us()
    with data.transaction() as conn:
        for i in range(count):
            child, guardian = f"push-{i % CHILDREN:05d}-x7q", f"benchguardian{i:06d}"
            invitation = conn.execute(db.guardian_invitations.insert().values(
                code_digest=os.urandom(32), child_id=child, created_by="bench",
                created_at_us=moment, expires_at_us=moment, used_at_us=moment,
                guardian_id=guardian)).inserted_primary_key[0]
            conn.execute(db.guardians.insert().values(
                guardian_id=guardian, key_id=f"bk{i:010d}", public_key=os.urandom(91),
                created_at_us=moment))
            conn.execute(db.guardian_children.insert().values(
                guardian_id=guardian, child_id=child, invitation=invitation,
                serial=f"Z{i:07d}", binding=os.urandom(64), bound_at_us=moment))
            sub = stand_in.subscribe()
            conn.execute(db.push_subscriptions.insert().values(
                guardian_id=guardian, endpoint=sub["endpoint"], p256dh=sub["keys"]["p256dh"],
                auth=sub["keys"]["auth"], language="kk", created_at_us=moment))
    data.engine.dispose()


def _terminal(server: ServerProcess, home: Path) -> None:
    env = {"QATYS_RUNTIME_DIR": str(home.parent / (home.name + "-run"))}
    token = run("terminal", "token", "--data", str(server.data_dir), "--kindergarten",
                KG).stdout.strip().splitlines()[-1]
    run("terminal", "enroll", "--home", str(home), "--server", server.url, "--token", token,
        env=env)


def _batches(home: Path, count: int, per_batch: int, start_us: int) -> list[bytes]:
    """``count`` signed batches continuing one chain, each event another child's arrival."""
    terminal = open_terminal(home, log=False)
    sealer = CheckinService(terminal)._sealer
    bodies = [sealer.seal(events.Body(f"push-{i:05d}-x7q", receipt=f"R{i:04d}"),
                          terminal.terminal_id) for i in range(CHILDREN)]
    out, raws, prev = [], [], events.GENESIS_HASH
    for seq in range(1, count * per_batch + 1):
        raw = events.encode_event(events.Event(
            terminal.terminal_id, seq, prev, start_us + seq * 1000, bytes(16), seq, "arrival",
            "qr-card", "medium", bodies[(seq - 1) % CHILDREN]))
        raws.append(raw)
        prev = events.event_hash(raw)
    for i in range(0, len(raws), per_batch):
        out.append(batches.build_batch(terminal.terminal_id, KG, raws[i:i + per_batch],
                                       terminal.keys.sign_seed))
    terminal.close()
    return out


def _post(session: requests.Session, server: ServerProcess, body: bytes) -> None:
    answer = session.post(server.url + "/api/v1/batches", data=body, timeout=120,
                          headers={"Content-Type": "application/cbor"})
    assert answer.status_code == 200, answer.text


def bench_push_ingest(base: Path, stand_in: PushStandIn) -> None:
    plain, subscribed = _prepare(base, "without"), _prepare(base, "with")
    try:
        _subscribe_all(subscribed, stand_in, SUBSCRIPTIONS)
        loops = [_notify_loop(server, base / f"notify-{name}.log")
                 for name, server in (("without", plain), ("with", subscribed))]
        work = {}
        for name, server in (("without", plain), ("with", subscribed)):
            _terminal(server, base / f"home-{name}")
            work[name] = (server, _batches(base / f"home-{name}", ROUNDS * BATCHES_PER_ROUND,
                                           EVENTS_PER_BATCH, now_us()))
        rates: dict[str, list[float]] = {"without": [], "with": []}
        sessions = {name: requests.Session() for name in work}
        for r in range(ROUNDS):
            order = ("without", "with") if r % 2 == 0 else ("with", "without")
            for name in order:
                server, bodies = work[name]
                chunk = bodies[r * BATCHES_PER_ROUND:(r + 1) * BATCHES_PER_ROUND]
                started = time.perf_counter()
                for body in chunk:
                    _post(sessions[name], server, body)
                rates[name].append(len(chunk) * EVENTS_PER_BATCH
                                   / (time.perf_counter() - started))
        deadline = time.monotonic() + 120
        total = ROUNDS * BATCHES_PER_ROUND * EVENTS_PER_BATCH
        while stand_in.taken < total and time.monotonic() < deadline:
            time.sleep(0.2)  # the sender catching up after the last round
        delivered = stand_in.taken
        for loop in loops:
            loop.terminate()
            loop.wait(timeout=20)
        without, with_ = statistics.median(rates["without"]), statistics.median(rates["with"])
        print(f"push: ingest over loopback, SQLite, {ROUNDS} rounds of {BATCHES_PER_ROUND} "
              f"batches of {EVENTS_PER_BATCH} arrivals (each another child's), one terminal "
              "posting, rounds alternating between two servers, each with its "
              "`qatys server notify` loop running:")
        print(f"  without subscriptions: median {without:,.0f} events/s "
              f"(rounds {', '.join(f'{x:,.0f}' for x in rates['without'])})")
        print(f"  with {SUBSCRIPTIONS:,} subscriptions:  median {with_:,.0f} events/s "
              f"(rounds {', '.join(f'{x:,.0f}' for x in rates['with'])}); "
              f"{delivered:,} messages delivered by the loop")
        print(f"  ratio {with_ / without:.3f} (goal >= 0.95)")
    finally:
        plain.stop()
        subscribed.stop()


def _notify_loop(server: ServerProcess, log_path: Path) -> subprocess.Popen[bytes]:
    log = open(log_path, "wb")  # noqa: SIM115 - lives with the process
    return subprocess.Popen([*QATYS, "server", "notify", "--data", str(server.data_dir)],
                            stdout=log, stderr=subprocess.STDOUT)


def bench_push_delay(base: Path, stand_in: PushStandIn) -> None:
    server = _prepare(base, "delay")
    notify = None
    try:
        _subscribe_all(server, stand_in, CHILDREN)  # each child's one guardian
        _terminal(server, base / "home-delay")
        bodies = _batches(base / "home-delay", DELAY_SAMPLES, 1, now_us())
        notify = _notify_loop(server, base / "notify.log")
        time.sleep(2)
        session, delays = requests.Session(), []
        for body in bodies:
            seen = len(stand_in.messages())
            started = time.monotonic()
            _post(session, server, body)
            got = stand_in.wait_for(seen + 1, seconds=30)
            assert len(got) > seen, "no message arrived"
            delays.append(got[-1].at - started)
            time.sleep(random.uniform(0.05, 1.0))  # syncs at any phase of the loop
        print(f"push: sync to the message at the local endpoint, `qatys server notify` "
              f"running (every 0.5 s), {len(delays)} syncs of one arrival each:")
        ms = sorted(d * 1000 for d in delays)
        print(f"  p50 {ms[len(ms) // 2]:.0f} ms  p95 {ms[min(len(ms) - 1, int(.95 * len(ms)))]:.0f}"
              f" ms  max {ms[-1]:.0f} ms")
    finally:
        if notify is not None:
            notify.terminate()
            notify.wait(timeout=20)
        server.stop()


def bench_push() -> None:
    base = Path(tempfile.mkdtemp(prefix="qatys-bench-push-"))
    counting, stand_in = PushStandIn(decrypt=False).start(), PushStandIn().start()
    try:
        print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores")
        bench_push_ingest(base, counting)
        bench_push_delay(base, stand_in)
    finally:
        counting.stop()
        stand_in.stop()
        shutil.rmtree(base, ignore_errors=True)
