"""A region's month: 300 kindergartens, 30,000 children, ~1.3 million events (loaded straight
into the database: ingest is measured on its own), then every kindergarten's statement."""

from __future__ import annotations

import os
import random
import statistics
import time
from datetime import datetime

from sqlalchemy import Engine, text

from qatys.timeutil import LOCAL_ZONE, from_datetime, now_us
from server.domain.calendar import working_days
from server.domain.policy import load_policy
from server.jobs.queue import STALE_SECONDS, claim
from server.money.jobs import KIND, JobState, job_state, run_month_job, start_month_job
from server.money.statements import all_statements, statement_for
from server.storage import db

KINDERGARTENS = 300
CHILDREN_PER_KINDERGARTEN = 100
YEAR, MONTH = 2026, 4
CATEGORIES = ("age1-full-state", "age3-full-state", "age5-full-state", "age3-half-state")


def load_region(engine: Engine) -> int:
    """Kindergartens, children and a month of arrivals and departures; returns event count."""
    rng = random.Random(2026)
    policy = load_policy()
    days = working_days(YEAR, MONTH, False, policy.calendar)
    with db.writing(engine) as conn:
        conn.execute(db.kindergartens.insert(), [
            {"code": f"R{k:03d}", "name": f"Region kindergarten {k}", "six_day": False,
             "created_at_us": 0} for k in range(KINDERGARTENS)])
        conn.execute(db.roster_imports.insert(), [{"id": 1, "kindergarten": "R000",
                                                    "imported_at_us": 0, "rows": 0,
                                                    "sha256": "0", "source": "bench"}])
        conn.execute(db.terminals.insert(), [
            {"terminal_id": f"T-R{k:03d}", "kindergarten": f"R{k:03d}",
             "sign_pub": k.to_bytes(32, "big"),
             "box_pub": bytes(32), "enrolled_at_us": 0, "head_seq": 0,
             "head_hash": bytes(32)} for k in range(KINDERGARTENS)])
        for k in range(KINDERGARTENS):
            conn.execute(db.children.insert(), [
                {"child_id": f"R{k:03d}-{c:03d}", "kindergarten": f"R{k:03d}",
                 "iin": f"{k:06d}{c:06d}", "last_name": "Bench", "first_name": "Bench",
                 "birth_date": "2021-01-01", "group_name": f"G{c // 25}",
                 "funding_category": CATEGORIES[c % 4], "enrolled_on": "2025-09-01",
                 "withdrawn_on": None, "roster_import": 1}
                for c in range(CHILDREN_PER_KINDERGARTEN)])
    columns = [c.name for c in db.events.columns]
    mark = "?" if engine.dialect.paramstyle == "qmark" else "%s"
    sql = (f"INSERT INTO events ({', '.join(columns)}) "
           f"VALUES ({', '.join([mark] * len(columns))})")
    count = 0
    for k in range(KINDERGARTENS):
        rows, seq = [], 0
        for c in range(CHILDREN_PER_KINDERGARTEN):
            for day in days:
                if rng.random() < 0.04:  # absent
                    continue
                for hour, kind in ((8, "arrival"), (17, "departure")):
                    seq += 1
                    moment = datetime(day.year, day.month, day.day, hour, rng.randrange(60),
                                      tzinfo=LOCAL_ZONE)
                    row = {"event_id": f"T-R{k:03d}:{seq}", "terminal_id": f"T-R{k:03d}",
                           "seq": seq, "kindergarten": f"R{k:03d}", "hash": os.urandom(32),
                           "raw": b"bench", "kind": kind, "method": "qr-card",
                           "assurance": "medium", "child_id": f"R{k:03d}-{c:03d}",
                           "direction": "in" if kind == "arrival" else "out",
                           "body_status": "ok", "recorded_at_us": from_datetime(moment),
                           "boot_id": bytes(16), "mono_ns": seq, "received_at_us": 0,
                           "batch_hash": bytes(32), "receipt": None, "note": None,
                           "phone_code": None}
                    rows.append(tuple(row[name] for name in columns))
        with db.writing(engine) as conn:
            conn.exec_driver_sql(sql, rows)
        count += len(rows)
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("ANALYZE"))
    return count


def bench_region(engine: Engine, database_url: str, label: str) -> None:
    t0 = time.perf_counter()
    events = load_region(engine)
    loaded = time.perf_counter() - t0
    policy = load_policy()
    codes = [f"R{k:03d}" for k in range(KINDERGARTENS)]
    per_kindergarten: list[float] = []
    t0 = time.perf_counter()
    with engine.connect() as conn:
        for code in codes:
            started = time.perf_counter()
            statement_for(conn, code, YEAR, MONTH, policy).to_json()
            per_kindergarten.append(time.perf_counter() - started)
    one_process = time.perf_counter() - t0
    t0 = time.perf_counter()
    total_bytes = sum(len(body) for _, body in all_statements(database_url, codes, YEAR, MONTH))
    pooled = time.perf_counter() - t0
    print(f"region statements, {label}: {KINDERGARTENS} kindergartens, "
          f"{KINDERGARTENS * CHILDREN_PER_KINDERGARTEN:,} children, {events:,} events "
          f"(loaded in {loaded:.1f} s)")
    print(f"  one process {one_process:.1f} s, per kindergarten median "
          f"{statistics.median(per_kindergarten) * 1000:.1f} ms, max "
          f"{max(per_kindergarten) * 1000:.1f} ms; one process per core ({os.cpu_count()}) "
          f"{pooled:.1f} s (goal <= 10 s); {total_bytes:,} bytes of JSON")
    seconds, state = _finance_page_refresh(engine)
    print(f"  finance page month refresh (statement + anomaly flags per kindergarten, one "
          f"process per core, progress after each): {seconds:.1f} s, {state.done}/"
          f"{state.total} {state.status}")


def _finance_page_refresh(engine: Engine) -> tuple[float, JobState]:
    """The job behind "Compute the month" on the finance pages, timed to its end."""
    t0 = time.perf_counter()
    job_id = start_month_job(engine, f"{YEAR:04d}-{MONTH:02d}", "bench", now_us(),
                             STALE_SECONDS * 1_000_000)
    taken = claim(engine, "bench", now_us(), STALE_SECONDS * 1_000_000, (KIND,))
    assert taken is not None
    assert taken.job_id == job_id
    run_month_job(engine, taken, None, now_us)
    with engine.connect() as conn:
        state = job_state(conn, job_id)
    assert state is not None
    return time.perf_counter() - t0, state
