"""`python -m bench`: check-in latency, ingest throughput, backlog sync. Prints a report."""

from __future__ import annotations

import os
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import requests
from sqlalchemy import Column, MetaData, Table

from bench.backup import bench_backup_postgres, bench_backup_sqlite
from bench.before_after import bench_before_after
from bench.claims import bench_claims
from bench.cli_start import bench_cli_start
from bench.cpu_budget import bench_cpu_budget
from bench.decoding import bench_decoding
from bench.face_accuracy import bench_face_accuracy
from bench.face_door import bench_face_door
from bench.face_relay import bench_face_relay
from bench.kiosk_latency import bench_kiosk_latency
from bench.months import bench_months
from bench.office_today import bench_office_today
from bench.phone import bench_phone_verification
from bench.push import bench_push
from bench.recovery import bench_recovery
from bench.region import bench_region
from bench.retention import bench_retention
from bench.scale import bench_scale
from bench.sign_in_flood import bench_sign_in_flood
from bench.slow_clients import bench_slow_clients
from bench.storage_guard import bench_storage_guard
from bench.terminal_resources import bench_terminal_resources
from protocol import batches, events
from server.datadir import open_data_dir
from server.storage import db
from server.storage.db import make_engine, normalise_url
from server.storage.migrations import migrate
from terminal.checkin import CheckinRequest, CheckinService
from terminal.home import open_terminal
from terminal.sync import Syncer
from terminal.writer import PRAGMAS
from tests.conftest import _seed
from tests.helpers import ServerProcess, run, start_server
from tests.postgres import Cluster, find_bin_dir, start_cluster

CHILDREN = [f"child-{i:05d}-x7q" for i in range(20)]


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def enrol(server: ServerProcess, home: Path) -> None:
    token = run("terminal", "token", "--data", str(server.data_dir), "--kindergarten",
                "KG1").stdout.strip().splitlines()[-1]
    run("terminal", "enroll", "--home", str(home), "--server", server.url, "--token", token)


def bench_checkin(server: ServerProcess, base: Path, n: int = 2000) -> None:
    home = base / "lat"
    enrol(server, home)
    terminal = open_terminal(home, log=False)
    service = CheckinService(terminal)
    full, raw = [], []
    raw_conn = sqlite3.connect(base / "raw.db", isolation_level=None)
    for pragma in PRAGMAS:
        raw_conn.execute(pragma)
    raw_conn.execute("CREATE TABLE t (seq INTEGER PRIMARY KEY, hash BLOB, raw BLOB)")
    payload = os.urandom(300)
    for i in range(n):  # interleaved so both see the same disk weather
        direction = "in" if (i // len(CHILDREN)) % 2 == 0 else "out"
        t0 = time.perf_counter()
        service.checkin(CheckinRequest(CHILDREN[i % 20], "manual", reason="bench",
                                       direction=direction))
        full.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        raw_conn.execute("BEGIN IMMEDIATE")
        raw_conn.execute("INSERT INTO t(hash, raw) VALUES (?, ?)", (payload[:32], payload))
        raw_conn.execute("COMMIT")
        raw.append(time.perf_counter() - t0)
    terminal.close()
    ms = 1000
    print(f"check-in commit latency, {n} check-ins (seal + chain + day state + commit):")
    print(f"  qatys check-in   p50 {pct(full, .5) * ms:.3f} ms  p99 {pct(full, .99) * ms:.3f} ms")
    print(f"  raw SQLite commit p50 {pct(raw, .5) * ms:.3f} ms  p99 {pct(raw, .99) * ms:.3f} ms")
    print(f"  ratio p99 {pct(full, .99) / pct(raw, .99):.2f}x (goal <= 4x)")


def make_batches(home: Path, count: int) -> list[bytes]:
    terminal = open_terminal(home, log=False)
    service = CheckinService(terminal)
    sealer_body = service._sealer.seal(events.Body(CHILDREN[0]), terminal.terminal_id)
    raws: list[bytes] = []
    prev = events.GENESIS_HASH
    for seq in range(1, count * 500 + 1):
        raw = events.encode_event(events.Event(terminal.terminal_id, seq, prev,
                                               1_763_880_000_000_000 + seq, bytes(16), seq,
                                               "arrival", "manual", "low", sealer_body))
        raws.append(raw)
        prev = events.event_hash(raw)
    out = [batches.build_batch(terminal.terminal_id, terminal.config.kindergarten,
                               raws[i:i + 500], terminal.keys.sign_seed)
           for i in range(0, len(raws), 500)]
    terminal.close()
    return out


def post_all(server: ServerProcess, bodies: list[bytes]) -> None:
    session = requests.Session()
    for body in bodies:
        r = session.post(server.url + "/api/v1/batches", data=body, timeout=60,
                         headers={"Content-Type": "application/cbor"})
        assert r.status_code == 200, r.text


def bench_ingest(server: ServerProcess, base: Path, label: str, count: int = 40,
                 terminals: int = 4) -> None:
    per_terminal = []
    for n in range(terminals):
        home = base / f"ingest-{label}-{n}"
        enrol(server, home)
        per_terminal.append(make_batches(home, count // terminals))
    t0 = time.perf_counter()
    post_all(server, per_terminal[0])
    sequential = (count // terminals) * 500 / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    with ThreadPoolExecutor(terminals - 1) as pool:
        list(pool.map(lambda bodies: post_all(server, bodies), per_terminal[1:]))
    rate = (terminals - 1) * (count // terminals) * 500 / (time.perf_counter() - t0)
    data = open_data_dir(server.data_dir)
    with data.engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(
            db.events.select().limit(count * 500))]
    for i, row in enumerate(rows):
        row["event_id"] = f"X:{i}"
        row["seq"] = i
        row["terminal_id"] = rows[0]["terminal_id"]
    ceiling_table = Table("events_ceiling", MetaData(),
                          *[Column(c.name, c.type, primary_key=c.primary_key)
                            for c in db.events.columns])
    ceiling_table.create(data.engine)
    columns = [c.name for c in ceiling_table.columns]
    mark = "?" if data.engine.dialect.paramstyle == "qmark" else "%s"
    sql = (f"INSERT INTO events_ceiling ({', '.join(columns)}) "
           f"VALUES ({', '.join([mark] * len(columns))})")
    tuples = [tuple(row[c] for c in columns) for row in rows]
    t0 = time.perf_counter()
    with data.engine.begin() as conn:
        for i in range(0, len(tuples), 500):
            conn.connection.cursor().executemany(sql, tuples[i:i + 500])
    ceiling = len(rows) / (time.perf_counter() - t0)
    print(f"ingest over loopback, {label}: batches of 500 signed events")
    print(f"  one terminal posting: {sequential:,.0f} events/s; "
          f"{terminals - 1} terminals in parallel: {rate:,.0f} events/s")
    print(f"  raw executemany {ceiling:,.0f} rows/s; ratio {rate / ceiling:.2f} "
          "(goal >= 50,000 events/s)")


def bench_backlog(server: ServerProcess, base: Path, n: int = 72_000) -> None:
    home = base / "backlog"
    enrol(server, home)
    terminal = open_terminal(home, log=False)
    body = CheckinService(terminal)._sealer.seal(events.Body(CHILDREN[0]),
                                                 terminal.terminal_id)

    def fill(conn: sqlite3.Connection) -> None:
        for i in range(n):
            terminal.store.append(conn, lambda seq, prev, i=i: events.encode_event(events.Event(
                terminal.terminal_id, seq, prev, 1_763_880_000_000_000 + i, bytes(16), i,
                "arrival", "qr-card", "medium", body)))

    terminal.store.write(fill)
    t0 = time.perf_counter()
    report = Syncer(terminal).sync()
    elapsed = time.perf_counter() - t0
    terminal.close()
    print(f"backlog sync: {report.sent_events} events in {report.batches} batches, "
          f"{elapsed:.2f} s ({report.sent_events / elapsed:,.0f} events/s; goal <= 10 s)")


def main() -> None:
    """`python -m bench` runs everything; `python -m bench region` only the region's month,
    `python -m bench phone` only the door verification of phone codes beside cards,
    `python -m bench terminal` only the terminal's start-up, idle and morning-peak figures,
    `python -m bench storage_guard` only check-in latency with the free-space check beside
    without it,
    `python -m bench recovery` only the quick check and the recovery of a damaged terminal
    store of 72,000 events;
    `python -m bench retention` only the terminal store's size with 35 days of acknowledged
    events for 600 children, as days go on and pruning runs,
    `python -m bench faces` only face accuracy, liveness, speed and door to greeting,
    `python -m bench before-after` only protocol 2 beside the code before it,
    `python -m bench flood` only a sync beside a flood of wrong passwords,
    `python -m bench slow` only health probes beside slow clients, per worker class,
    `python -m bench office` only the office's today list (600 children) and its live delay,
    `python -m bench scale [TERMINALS SECONDS]` only server CPU per event, the morning burst
    of 1,000 terminals through HAProxy to two nodes and a returning 72,000-event terminal,
    `python -m bench claims` only the job queue's claims per second, SKIP LOCKED beside not,
    `python -m bench push` only ingest beside 1,000 push subscriptions and sync-to-push delay,
    `python -m bench months [SMALL LARGE]` only month statements at 300 and 3,000
    kindergartens on PostgreSQL, the SQL presence beside the Python one,
    `python -m bench backup` only backup, verify and restore of the region fixture on SQLite
    and PostgreSQL,
    `python -m bench cli_start` only the qatys command's start, lazily imported commands
    beside the eager ones before,
    `python -m bench cpu_budget` only the Raspberry Pi CPU budget from instruction counts
    (not in the full run: under callgrind, where the machine has no counters, it takes
    minutes)."""
    region_only = sys.argv[1:] == ["region"]
    if sys.argv[1:] == ["before-after"]:
        _before_after()
        return
    if sys.argv[1:] == ["flood"]:
        flood_base = Path(tempfile.mkdtemp(prefix="qatys-bench-"))
        bench_sign_in_flood(flood_base)
        shutil.rmtree(flood_base, ignore_errors=True)
        return
    if sys.argv[1:] == ["slow"]:
        slow_base = Path(tempfile.mkdtemp(prefix="qatys-bench-"))
        bench_slow_clients(slow_base)
        shutil.rmtree(slow_base, ignore_errors=True)
        return
    if sys.argv[1:2] == ["months"]:
        _months(*(int(size) for size in sys.argv[2:4]))
        return
    if sys.argv[1:] == ["office"]:
        _office()
        return
    if sys.argv[1:] == ["claims"]:
        bench_claims()
        return
    if sys.argv[1:2] == ["scale"]:
        bench_scale(*(int(size) for size in sys.argv[2:4]))
        return
    if sys.argv[1:] == ["backup"]:
        _backup()
        return
    if sys.argv[1:] == ["push"]:
        bench_push()
        return
    if sys.argv[1:] == ["phone"]:
        bench_phone_verification()
        return
    if sys.argv[1:] == ["faces"]:
        bench_face_accuracy()
        _with_server(bench_face_door)
        _with_server(lambda _server, base: bench_face_relay(base))
        return
    if sys.argv[1:] == ["recovery"]:
        bench_recovery()
        return
    if sys.argv[1:] == ["retention"]:
        bench_retention()
        return
    if sys.argv[1:] == ["terminal"]:
        _with_server(bench_terminal_resources)
        return
    if sys.argv[1:] == ["storage_guard"]:
        _with_server(bench_storage_guard)
        return
    if sys.argv[1:] == ["cpu_budget"]:
        bench_cpu_budget()
        return
    if sys.argv[1:] == ["cli_start"]:
        bench_cli_start()
        return
    base = Path(tempfile.mkdtemp(prefix="qatys-bench-"))
    base.chmod(0o755)
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores")
    if not region_only:
        _terminal_and_ingest(base)
        _before_after()
        bench_cli_start()
    region_url = f"sqlite:///{base / 'region.db'}"
    region_engine = make_engine(region_url)
    migrate(region_engine)
    bench_region(region_engine, region_url, "SQLite")
    region_engine.dispose()
    if find_bin_dir() is not None:
        with postgres_cluster(base) as cluster:
            if not region_only:
                url = cluster.create_database("bench")
                pg_server = start_server(base / "srv-pg", url)
                _seed(base / "srv-pg")
                try:
                    bench_ingest(pg_server, base, "PostgreSQL")
                finally:
                    pg_server.stop()
            region_url = normalise_url(cluster.create_database("region"))
            region_engine = make_engine(region_url)
            migrate(region_engine)
            bench_region(region_engine, region_url, "PostgreSQL")
            region_engine.dispose()
            if not region_only:
                _months_in(cluster)
    shutil.rmtree(base, ignore_errors=True)


def _backup() -> None:
    """Backup and restore of the region fixture, SQLite then a throwaway PostgreSQL."""
    base = Path(tempfile.mkdtemp(prefix="qatys-bench-"))
    base.chmod(0o755)
    try:
        bench_backup_sqlite(base)
        if find_bin_dir() is None:
            print("backup on PostgreSQL: server binaries not installed, skipped")
            return
        with postgres_cluster(base) as cluster:
            bench_backup_postgres(cluster, base)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _months(*sizes: int) -> None:
    """Month statements at two sizes on a throwaway PostgreSQL cluster."""
    if find_bin_dir() is None:
        print("month statements: PostgreSQL server binaries not installed, skipped")
        return
    base = Path(tempfile.mkdtemp(prefix="qatys-bench-"))
    base.chmod(0o755)
    try:
        with postgres_cluster(base) as cluster:
            _months_in(cluster, *sizes)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _months_in(cluster: Cluster, *sizes: int) -> None:
    engines = [make_engine(normalise_url(cluster.create_database(name)))
               for name in ("months_small", "months_large")]
    for engine in engines:
        migrate(engine)
    try:
        bench_months(*engines, *sizes)
    finally:
        for engine in engines:
            engine.dispose()


def _terminal_and_ingest(base: Path) -> None:
    bench_decoding()
    bench_phone_verification()
    bench_face_accuracy()
    sqlite_server = start_server(base / "srv-sqlite")
    _seed(base / "srv-sqlite")
    try:
        bench_checkin(sqlite_server, base)
        bench_storage_guard(sqlite_server, base)
        enrol(sqlite_server, base / "kiosk")
        bench_kiosk_latency(sqlite_server, base, base / "kiosk")
        bench_ingest(sqlite_server, base, "SQLite")
        bench_backlog(sqlite_server, base)
        bench_terminal_resources(sqlite_server, base)
        bench_face_door(sqlite_server, base)
        bench_face_relay(base)
    finally:
        sqlite_server.stop()
    bench_sign_in_flood(base)
    bench_slow_clients(base)
    _office()


def _office() -> None:
    base = Path(tempfile.mkdtemp(prefix="qatys-bench-office-"))
    base.chmod(0o755)
    try:
        if find_bin_dir() is None:
            bench_office_today(base)
            return
        with postgres_cluster(base) as cluster:
            bench_office_today(base, cluster.create_database("office"))
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _before_after() -> None:
    """Protocol 2 beside the code before it, on SQLite and (when installed) PostgreSQL."""
    base = Path(tempfile.mkdtemp(prefix="qatys-bench-ba-"))
    base.chmod(0o755)
    try:
        bench_before_after(base / "sqlite")
        if find_bin_dir() is not None:
            with postgres_cluster(base) as cluster:
                urls = (cluster.create_database("before"), cluster.create_database("after"))
                bench_before_after(base / "postgres", "PostgreSQL", urls)
    finally:
        shutil.rmtree(base, ignore_errors=True)


@contextmanager
def postgres_cluster(base: Path) -> Iterator[Cluster]:
    """A throwaway PostgreSQL cluster under ``base`` (readable by the postgres user)."""
    pg_dir = base / "pg"
    pg_dir.mkdir()
    pg_dir.chmod(0o755)
    cluster = start_cluster(pg_dir)
    try:
        yield cluster
    finally:
        cluster.stop()


def _with_server(job: Callable[[ServerProcess, Path], None]) -> None:
    """Run one benchmark against a fresh seeded SQLite server."""
    base = Path(tempfile.mkdtemp(prefix="qatys-bench-"))
    server = start_server(base / "srv-sqlite")
    _seed(base / "srv-sqlite")
    try:
        job(server, base)
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
