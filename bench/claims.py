"""`python -m bench claims`: how fast N workers drain the job queue (server/jobs/queue.py),
and why its claim takes ``FOR UPDATE SKIP LOCKED`` on PostgreSQL.

2,000 queued jobs; 1, 2, 4 and 8 claimers (threads, each with its own connection) claim and
finish until none is left. Beside the real claim, the same statements with a plain
``FOR UPDATE`` (no SKIP LOCKED): every claimer then waits for the row the first one locked,
and finds it taken when its turn comes. Every job must be claimed exactly once. On SQLite (one
writer at a time) the real claim with 1 and 2 claimers, for the embedded default.
"""

from __future__ import annotations

import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sqlalchemy import Engine, or_, select

from server.jobs import queue
from server.jobs.queue import Claim, JobStatus
from server.storage import db
from server.storage.db import make_engine, normalise_url, writing
from server.storage.migrations import migrate

JOBS = 2000
KIND = "bench"
STALE_US = 60_000_000

Claimer = Callable[[Engine, str, int], Claim | None]


def _real_claim(engine: Engine, worker: str, now: int) -> Claim | None:
    return queue.claim(engine, worker, now, STALE_US, (KIND,))


def _blocking_claim(engine: Engine, worker: str, now: int) -> Claim | None:
    """queue.claim's statements with FOR UPDATE but without SKIP LOCKED."""
    with writing(engine) as conn:
        row = conn.execute(
            select(db.jobs.c.id, db.jobs.c.attempts).where(db.jobs.c.kind == KIND)
            .where(or_(db.jobs.c.status == JobStatus.QUEUED,
                       (db.jobs.c.status == JobStatus.RUNNING)
                       & (db.jobs.c.heartbeat_us <= now - STALE_US)))
            .order_by(db.jobs.c.id).limit(1).with_for_update()).first()
        if row is None:
            return None
        changed = conn.execute(db.jobs.update().where(db.jobs.c.id == row.id)
                               .where(db.jobs.c.status == JobStatus.QUEUED)
                               .values(status=JobStatus.RUNNING, claimed_by=worker,
                                       heartbeat_us=now, attempts=row.attempts + 1))
        if changed.rowcount != 1:  # taken while this claimer waited for its lock
            return Claim(-1, KIND, "", worker, 0)
    return Claim(int(row.id), KIND, "", worker, int(row.attempts) + 1)


def _fill(engine: Engine) -> None:
    with writing(engine) as conn:
        conn.execute(db.jobs.delete())
        now = time.time_ns() // 1000
        conn.execute(db.jobs.insert(), [
            {"kind": KIND, "month": f"{i:07d}", "status": JobStatus.QUEUED, "done": 0,
             "total": 1, "started_by": "bench", "started_at_us": now, "heartbeat_us": now,
             "error": "", "attempts": 0} for i in range(JOBS)])


def _drain(engine: Engine, claimers: int, claim: Claimer) -> tuple[float, int]:
    """Jobs finished per second, and how many claims came back empty-handed (lost races)."""
    _fill(engine)
    lost = [0]
    lock = threading.Lock()

    def work(n: int) -> None:
        while True:
            now = time.time_ns() // 1000
            got = claim(engine, f"w{n}", now)
            if got is None:
                return
            if got.job_id < 0:
                with lock:
                    lost[0] += 1
                continue
            queue.finish(engine, got, JobStatus.DONE, "", now)

    started = time.perf_counter()
    with ThreadPoolExecutor(claimers) as pool:
        list(pool.map(work, range(claimers)))
    rate = JOBS / (time.perf_counter() - started)
    with engine.connect() as conn:
        attempts = Counter(conn.execute(select(db.jobs.c.attempts)).scalars())
    if attempts != Counter({1: JOBS}):
        raise AssertionError(f"jobs claimed other than once each: {attempts}")
    return rate, lost[0]


def _rows(engine: Engine, label: str, claimers: tuple[int, ...], blocking: bool) -> None:
    for n in claimers:
        rate, _ = _drain(engine, n, _real_claim)
        line = f"  {label}, {n} claimer{'s' if n > 1 else ''}: SKIP LOCKED {rate:,.0f} jobs/s"
        if blocking:
            plain, lost = _drain(engine, n, _blocking_claim)
            line += f"; plain FOR UPDATE {plain:,.0f} jobs/s ({lost:,} claims lost a race)"
        print(line)


def bench_claims() -> None:
    from tests.postgres import find_bin_dir, start_cluster

    base = Path(tempfile.mkdtemp(prefix="qatys-bench-claims-"))
    base.chmod(0o755)
    print(f"job queue: {JOBS:,} queued jobs claimed and finished, each exactly once")
    sqlite = make_engine(f"sqlite:///{base / 'claims.db'}")
    migrate(sqlite)
    _rows(sqlite, "SQLite", (1, 2), blocking=False)
    sqlite.dispose()
    if find_bin_dir() is None:
        print("  PostgreSQL server binaries not installed: its rows are skipped")
        return
    (base / "pg").mkdir()
    (base / "pg").chmod(0o755)
    cluster = start_cluster(base / "pg")
    try:
        engine = make_engine(normalise_url(cluster.create_database("claims")))
        migrate(engine)
        _rows(engine, "PostgreSQL", (1, 2, 4, 8), blocking=True)
        engine.dispose()
    finally:
        cluster.stop()
