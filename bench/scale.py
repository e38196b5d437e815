"""`python -m bench scale`: the country-scale figures of issue 19, side by side in one run.

1. **Server CPU per ingested event**, read from /proc (user + system time of every process of
   the node: gunicorn's arbiter and its workers; the database's processes apart), for one
   node on SQLite and one on PostgreSQL, with ingest events/s beside the raw ``executemany``
   ceiling of the same database in the same run.
2. **The morning burst**: 1,000 simulated terminals (bench/fleet.py) each post their morning
   (one signed batch of 50 events) at a moment spread evenly over 60 s, through a real
   HAProxy (hardware/haproxy/qatys.cfg) to two nodes on one PostgreSQL: the acknowledgement
   time p50/p99, events/s, and a count that nothing was lost or stored twice.
3. **A returning terminal** with 72,000 events (144 batches of 500) syncing while that burst
   runs, beside the same backlog synced on the quiet deployment.

Everything runs on this one machine (2 cores here): the nodes, PostgreSQL, HAProxy and the
simulated terminals share its CPUs, so the burst's times are an upper bound for a deployment
whose clients are elsewhere.
"""

from __future__ import annotations

import http.client
import os
import random
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests
from sqlalchemy import Column, MetaData, Table, func, select

from bench.fleet import SimTerminal, make_fleet
from qatys.timeutil import now_us
from server.datadir import open_data_dir
from server.storage import db
from tests.helpers import (
    Balancer,
    ServerProcess,
    free_port,
    run,
    start_haproxy,
    start_node,
    write_settings,
)
from tests.postgres import Cluster

BURST_TERMINALS = 1000
BURST_EVENTS = 50
BURST_SECONDS = 60.0
BACKLOG_EVENTS = 72_000
CPU_BATCHES = 48
CPU_SENDERS = 4
_TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: Sequence[int]) -> float:
    """User + system CPU time of these processes so far (those gone are left out)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / _TICK


def _processes(match: Callable[[list[str]], bool]) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if match(fields):
                found.append(int(entry.name))
    return found


def node_pids(server: ServerProcess) -> list[int]:
    """The node's processes: its session (`start_node` starts each node in its own)."""
    sid = str(server.process.pid)
    return _processes(lambda fields: fields[3] == sid)


def postgres_pids(cluster: Cluster) -> list[int]:
    """The postmaster and its children (backends, WAL writer, checkpointer, …)."""
    postmaster = int((cluster.directory / "data" / "postmaster.pid").read_text().split()[0])
    return [postmaster, *_processes(lambda fields: fields[1] == str(postmaster))]


def post(url: str, body: bytes, session: requests.Session | None = None) -> float:
    """Post one batch; the seconds until its acknowledgement (raises unless 200)."""
    started = time.perf_counter()
    response = (session or requests).post(url + "/api/v1/batches", data=body, timeout=120,
                                          headers={"Content-Type": "application/cbor"})
    if response.status_code != 200:
        raise RuntimeError(f"batch refused: {response.status_code} {response.text[:200]}")
    return time.perf_counter() - started


def post_from(address: str, url: str, body: bytes) -> float:
    """:func:`post` on a new connection from ``address`` (a loopback address of 127/8):
    each simulated terminal comes from an address of its own, as real ones do, so the
    balancer's per-address connection limit sees one door, not the whole fleet."""
    host, port = url.removeprefix("http://").split(":")
    started = time.perf_counter()
    conn = http.client.HTTPConnection(host, int(port), timeout=120,
                                      source_address=(address, 0))
    try:
        conn.request("POST", "/api/v1/batches", body, {"Content-Type": "application/cbor"})
        response = conn.getresponse()
        text = response.read()
    finally:
        conn.close()
    if response.status != 200:
        raise RuntimeError(f"batch refused: {response.status} {text[:200]!r}")
    return time.perf_counter() - started


def terminal_address(index: int) -> str:
    """The loopback address simulated terminal ``index`` posts from (127.1.0.0 onwards)."""
    return f"127.1.{index // 250}.{index % 250 + 1}"


@dataclass
class Deployment:
    """Two nodes on one database behind HAProxy, and the fleet enrolled in it."""

    a: ServerProcess
    b: ServerProcess
    balancer: Balancer
    database_url: str
    box_public: bytes
    fleet: list[SimTerminal]


def _init_node(directory: Path, url: str, public: str, kek: Path, join: bool) -> None:
    run("server", "init", "--data", str(directory), "--database-url", url, "--public-url",
        public, "--kek-file", str(kek), *(["--join"] if join else []))
    write_settings(directory, {"trusted_proxies": ["127.0.0.1"], "run_worker": False})


@contextmanager
def deployment(base: Path, url: str, terminals: int) -> Iterator[Deployment]:
    """Node A initialises the database, node B joins with the sealed keys, the fleet is
    enrolled (two doors per kindergarten), HAProxy balances the two."""
    port_a, port_b, port_lb = free_port(), free_port(), free_port()
    public, kek = f"http://127.0.0.1:{port_lb}", base / "kek"
    _init_node(base / "a", url, public, kek, join=False)
    _init_node(base / "b", url, public, kek, join=True)
    data = open_data_dir(base / "a")
    fleet = make_fleet(data.engine, data.keys.sign_public, (terminals + 1) // 2, 2, now_us())
    box_public = data.keys.box_public
    data.engine.dispose()
    a = start_node(base / "a", port=port_a)
    b = start_node(base / "b", port=port_b)
    balancer = start_haproxy(base, [port_a, port_b], port_lb)
    try:
        yield Deployment(a, b, balancer, url, box_public, fleet)
    finally:
        balancer.stop()
        a.stop()
        b.stop()


def stored_counts(data_dir: Path, fleet: Sequence[SimTerminal]) -> tuple[int, int]:
    """Events stored for ``fleet`` and how many of its terminals' heads equal their chains'."""
    data = open_data_dir(data_dir)
    ids = {t.terminal_id: t.seq for t in fleet}
    with data.engine.connect() as conn:
        events = conn.execute(select(func.count()).select_from(db.events)
                              .where(db.events.c.terminal_id.in_(ids))).scalar_one()
        heads = conn.execute(select(db.terminals.c.terminal_id, db.terminals.c.head_seq)
                             .where(db.terminals.c.terminal_id.in_(ids))).all()
    data.engine.dispose()
    return int(events), sum(1 for tid, head in heads if ids[tid] == head)


def raw_ceiling(data_dir: Path, rows: int, by_copy: bool = False) -> float:
    """Rows/s of a bare driver ``executemany`` (or, ``by_copy``, a PostgreSQL COPY) of real
    event rows, in batches of 500 and one transaction, into a copy of the events table: what
    the database alone can take."""
    data = open_data_dir(data_dir)
    with data.engine.connect() as conn:
        sample = [dict(r._mapping) for r in conn.execute(db.events.select().limit(rows))]
    table = Table("events_ceiling", MetaData(),
                  *[Column(c.name, c.type, primary_key=c.primary_key) for c in db.events.columns])
    table.drop(data.engine, checkfirst=True)
    table.create(data.engine)
    columns = [c.name for c in table.columns]
    mark = "?" if data.engine.dialect.paramstyle == "qmark" else "%s"
    sql = (f"INSERT INTO events_ceiling ({', '.join(columns)}) "
           f"VALUES ({', '.join([mark] * len(columns))})")
    tuples = [tuple(f"C:{i}" if c == "event_id" else row[c] for c in columns)
              for i, row in enumerate(sample)]
    started = time.perf_counter()
    with data.engine.begin() as conn:
        for i in range(0, len(tuples), 500):
            cursor = conn.connection.dbapi_connection.cursor()
            if by_copy:
                with cursor.copy(f"COPY events_ceiling ({', '.join(columns)}) FROM STDIN"
                                 ) as copy:
                    for row in tuples[i:i + 500]:
                        copy.write_row(row)
            else:
                cursor.executemany(sql, tuples[i:i + 500])
            cursor.close()
    rate = len(tuples) / (time.perf_counter() - started)
    table.drop(data.engine)
    data.engine.dispose()
    return rate


def _send_in_parallel(url: str, work: Sequence[Sequence[bytes]]) -> None:
    """Each terminal's batches in order on its own connection, the terminals in parallel."""
    def send(bodies: Sequence[bytes]) -> None:
        with requests.Session() as session:
            for body in bodies:
                post(url, body, session)

    with ThreadPoolExecutor(len(work)) as pool:
        list(pool.map(send, work))


@dataclass(frozen=True)
class CpuFigure:
    label: str
    events: int
    seconds: float
    node_cpu: float
    database_cpu: float | None
    ceiling: float
    copy_ceiling: float | None

    def report(self) -> str:
        per_event = self.node_cpu / self.events * 1e6
        line = (f"  {self.label}: {self.events:,} events in {self.seconds:.1f} s = "
                f"{self.events / self.seconds:,.0f} events/s; node CPU {per_event:.1f} µs/event")
        if self.database_cpu is not None:
            line += f" (+ PostgreSQL {self.database_cpu / self.events * 1e6:.1f} µs/event)"
        line += (f"; raw executemany {self.ceiling:,.0f} rows/s, ingest/ceiling "
                 f"{self.events / self.seconds / self.ceiling:.2f}")
        if self.copy_ceiling is not None:
            line += (f"; raw COPY {self.copy_ceiling:,.0f} rows/s, ingest/ceiling "
                     f"{self.events / self.seconds / self.copy_ceiling:.2f}")
        return line


def measure_cpu(label: str, node: ServerProcess, fleet: Sequence[SimTerminal],
                box_public: bytes, database: Cluster | None) -> CpuFigure:
    """``CPU_SENDERS`` terminals post ``CPU_BATCHES`` batches of 500 straight to ``node``;
    its processes' CPU time over the events it stored."""
    senders = list(fleet[:CPU_SENDERS])
    work = [t.batches(CPU_BATCHES // CPU_SENDERS * 500, box_public) for t in senders]
    post(node.url, work[0].pop(0))  # warm: the worker's first batch loads its caches
    warm = 500
    pids = node_pids(node)
    db_pids = postgres_pids(database) if database else []
    cpu0, db0, started = cpu_seconds(pids), cpu_seconds(db_pids), time.perf_counter()
    _send_in_parallel(node.url, work)
    seconds = time.perf_counter() - started
    node_cpu, db_cpu = cpu_seconds(pids) - cpu0, cpu_seconds(db_pids) - db0
    events = CPU_BATCHES * 500 - warm
    return CpuFigure(label, events, seconds, node_cpu, db_cpu if database else None,
                     raw_ceiling(node.data_dir, events),
                     raw_ceiling(node.data_dir, events, by_copy=True) if database else None)


@dataclass(frozen=True)
class Burst:
    latencies: list[float]
    """Seconds from a terminal's first try to its acknowledgement, retries included."""
    retries: int
    seconds: float
    events: int

    def report(self, label: str) -> str:
        ms = sorted(x * 1000 for x in self.latencies)
        p99 = ms[min(len(ms) - 1, int(0.99 * len(ms)))]
        return (f"  {label}: {len(ms):,} batches, {self.events:,} events in {self.seconds:.1f} s "
                f"= {self.events / self.seconds:,.0f} events/s; acknowledgement p50 "
                f"{statistics.median(ms):.0f} ms, p99 {p99:.0f} ms, max {ms[-1]:.0f} ms; "
                f"{self.retries} retries")


RETRY_SECONDS = 2.0
"""A refused or failed post is tried again after this long, as a terminal's next sync would."""


def post_until_stored(address: str, url: str, body: bytes) -> tuple[float, int]:
    """Seconds from the first try to the acknowledgement, and how many tries failed."""
    started, failures = time.perf_counter(), 0
    while True:
        try:
            post_from(address, url, body)
            return time.perf_counter() - started, failures
        except (OSError, RuntimeError):
            failures += 1
            if failures > 30:
                raise
            time.sleep(RETRY_SECONDS)


def burst(url: str, bodies: Sequence[bytes], spread_seconds: float, seed: int = 19) -> Burst:
    """Each body posted on a connection of its own at a random moment within
    ``spread_seconds`` (0: all at once, as fast as they are taken)."""
    rng = random.Random(seed)
    moments = sorted(rng.uniform(0, spread_seconds) for _ in bodies)
    started = time.perf_counter()
    latencies: list[float] = []
    retries = [0]
    lock = threading.Lock()

    def one(item: tuple[int, float, bytes]) -> None:
        index, moment, body = item
        time.sleep(max(0.0, started + moment - time.perf_counter()))
        took, failed = post_until_stored(terminal_address(index), url, body)
        with lock:
            latencies.append(took)
            retries[0] += failed

    with ThreadPoolExecutor(200) as pool:
        list(pool.map(one, zip(range(len(bodies)), moments, bodies, strict=True)))
    events = sum(BURST_EVENTS for _ in bodies)
    return Burst(latencies, retries[0], time.perf_counter() - started, events)


def sync_backlog(url: str, bodies: Sequence[bytes]) -> float:
    """A returning terminal's sync: its batches one after another on one connection."""
    started = time.perf_counter()
    with requests.Session() as session:
        for body in bodies:
            post(url, body, session)
    return time.perf_counter() - started


def measure_request_cpu(node: ServerProcess, fleet: Sequence[SimTerminal],
                        box_public: bytes, database: Cluster | None = None,
                        requests_each: int = 100) -> tuple[float, float]:
    """Node (and database) CPU µs per request for batches of one event (a sync in a quiet
    hour carries one or two): the cost that grows with the number of terminals rather than
    of children."""
    senders = list(fleet[:CPU_SENDERS])
    work = [t.batches(requests_each, box_public, per_batch=1) for t in senders]
    pids = node_pids(node)
    db_pids = postgres_pids(database) if database else []
    cpu0, db0 = cpu_seconds(pids), cpu_seconds(db_pids)
    _send_in_parallel(node.url, work)
    count = requests_each * CPU_SENDERS
    return ((cpu_seconds(pids) - cpu0) / count * 1e6,
            (cpu_seconds(db_pids) - db0) / count * 1e6)


def _sqlite_cpu(base: Path) -> None:
    from tests.helpers import start_server

    node = start_server(base / "sqlite")
    try:
        data = open_data_dir(node.data_dir)
        fleet = make_fleet(data.engine, data.keys.sign_public, 2, 2, now_us())
        box_public = data.keys.box_public
        data.engine.dispose()
        print(measure_cpu("one node on SQLite", node, fleet, box_public, None).report())
        per_request, _ = measure_request_cpu(node, fleet, box_public)
        print(f"  one node on SQLite, batches of one event: node CPU {per_request:,.0f} µs per "
              "request")
    finally:
        node.stop()


def _queueing(balancer: Balancer) -> str:
    """HAProxy's own averages over its last 1,024 requests per node: time queued for a
    node's free slot, and the node's response time."""
    rows = balancer.stats()
    return "  balancer, per node: " + "; ".join(
        f"{name} queued {row['qtime']} ms, answered in {row['rtime']} ms (most queued "
        f"{row['qmax']})" for name, row in sorted(rows.items()))


def _on_postgres(base: Path, cluster: Cluster, terminals: int, seconds: float) -> None:
    url = cluster.create_database("scale")
    with deployment(base / "nodes", url, terminals + 2) as nodes:
        cpu = measure_cpu("one node on PostgreSQL", nodes.a, nodes.fleet, nodes.box_public,
                          cluster)
        print(cpu.report())
        per_request, database = measure_request_cpu(nodes.a, nodes.fleet, nodes.box_public,
                                                    cluster)
        print(f"  one node on PostgreSQL, batches of one event: node CPU {per_request:,.0f} µs "
              f"per request (+ PostgreSQL {database:,.0f} µs)")
        morning = nodes.fleet[:terminals]
        returning, quiet = nodes.fleet[-1], nodes.fleet[-2]
        paced = [t.batches(BURST_EVENTS, nodes.box_public)[0] for t in morning]
        rush = [t.batches(BURST_EVENTS, nodes.box_public)[0] for t in morning]
        backlog = returning.batches(BACKLOG_EVENTS, nodes.box_public)
        quiet_backlog = quiet.batches(BACKLOG_EVENTS, nodes.box_public)
        url_lb = nodes.balancer.url
        print(f"morning burst through HAProxy to two nodes on PostgreSQL, {len(morning):,} "
              f"terminals × {BURST_EVENTS} events:")
        returning_took: list[float] = []
        sender = threading.Thread(target=lambda: returning_took.append(
            sync_backlog(url_lb, backlog)))
        sender.start()
        spread = burst(url_lb, paced, seconds)
        sender.join()
        print(spread.report(f"spread over {seconds:.0f} s"))
        print(_queueing(nodes.balancer))
        print(burst(url_lb, rush, 0).report("all at once"))
        print(_queueing(nodes.balancer))
        alone = sync_backlog(url_lb, quiet_backlog)
        print(f"  returning terminal, {BACKLOG_EVENTS:,} events in {len(backlog)} batches: "
              f"{returning_took[0]:.1f} s during the spread burst, {alone:.1f} s on the quiet "
              f"deployment ({BACKLOG_EVENTS / returning_took[0]:,.0f} and "
              f"{BACKLOG_EVENTS / alone:,.0f} events/s)")
        expected = sum(t.seq for t in nodes.fleet)
        stored, heads = stored_counts(nodes.a.data_dir, nodes.fleet)
        print(f"  stored {stored:,} of {expected:,} events sent; {heads:,} of "
              f"{len(nodes.fleet):,} terminals' heads at their last event "
              f"({'nothing lost or doubled' if stored == expected else 'MISMATCH'})")


def bench_scale(terminals: int = BURST_TERMINALS, seconds: float = BURST_SECONDS) -> None:
    from tests.postgres import find_bin_dir, start_cluster

    base = Path(tempfile.mkdtemp(prefix="qatys-bench-scale-"))
    base.chmod(0o755)
    print(f"scale (issue 19), {os.cpu_count()} cores; nodes, database, balancer and the "
          "simulated terminals on this one machine")
    print("server CPU per ingested event, from /proc, "
          f"{CPU_SENDERS} terminals posting batches of 500 straight to one node:")
    _sqlite_cpu(base)
    if find_bin_dir() is None:
        print("PostgreSQL server binaries not installed: the PostgreSQL rows are skipped")
        return
    (base / "pg").mkdir()
    (base / "pg").chmod(0o755)
    (base / "nodes").mkdir()
    cluster = start_cluster(base / "pg")
    try:
        _on_postgres(base, cluster, terminals, seconds)
    finally:
        cluster.stop()
