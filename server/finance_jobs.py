"""The month overview's long work: every kindergarten's statement and flags, with progress.

A finance officer starts it from the page; it runs in a thread of the worker that took the
request and writes its progress to the ``jobs`` table, so any worker can answer "how far".
A job whose heartbeat stops (the worker died) is marked failed when the next one starts.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, select

from qatys.logs import log
from server import db
from server.db import writing
from server.domain.policy import Policy
from server.money import anomaly_flags, parse_month, statement_for

logger = logging.getLogger("qatys.finance_jobs")
KIND = "month_totals"
STALE_US = 120 * 1_000_000


@dataclass(frozen=True)
class JobState:
    id: int
    month: str
    status: str
    done: int
    total: int
    error: str


def start_month_job(engine: Engine, month: str, by: str, policy: Policy,
                    clock: Callable[[], int]) -> int:
    """The running job for ``month``, or a new one started now."""
    year, number = parse_month(month)
    now = clock()
    with writing(engine) as conn:
        running = conn.execute(select(db.jobs).where(db.jobs.c.kind == KIND)
                               .where(db.jobs.c.month == month)
                               .where(db.jobs.c.status == "running")).first()
        if running is not None and running.heartbeat_us > now - STALE_US:
            return int(running.id)
        if running is not None:
            conn.execute(db.jobs.update().where(db.jobs.c.id == running.id).values(
                status="failed", finished_at_us=now, error="stopped: its worker went away"))
        codes = [str(c) for c in conn.execute(select(db.kindergartens.c.code)
                                              .order_by(db.kindergartens.c.code)).scalars()]
        inserted = conn.execute(db.jobs.insert().values(
            kind=KIND, month=month, status="running", done=0, total=len(codes),
            started_by=by, started_at_us=now, heartbeat_us=now, error="")).inserted_primary_key
    assert inserted is not None
    job_id = int(inserted[0])
    threading.Thread(target=_run, args=(engine, job_id, year, number, codes, policy, clock),
                     name=f"month-job-{job_id}", daemon=True).start()
    log(logger, "job.started", job=job_id, month=month, kindergartens=len(codes))
    return job_id


def _run(engine: Engine, job_id: int, year: int, month: int, codes: list[str], policy: Policy,
         clock: Callable[[], int]) -> None:
    label = f"{year:04d}-{month:02d}"
    try:
        for done, code in enumerate(codes, start=1):
            with engine.connect() as conn:
                statement = statement_for(conn, code, year, month, policy)
                flags = anomaly_flags(conn, code, year, month)
            with writing(engine) as conn:
                conn.execute(db.month_totals.delete()
                             .where(db.month_totals.c.kindergarten == code)
                             .where(db.month_totals.c.month == label))
                conn.execute(db.month_totals.insert().values(
                    kindergarten=code, month=label, children=len(statement.children),
                    working_days=statement.working_days, total=f"{statement.total:.2f}",
                    inputs_digest=statement.inputs_digest,
                    policy_version=statement.policy_version, flags=len(flags),
                    computed_at_us=clock()))
                conn.execute(db.jobs.update().where(db.jobs.c.id == job_id)
                             .values(done=done, heartbeat_us=clock()))
        status, error = "done", ""
    except Exception as exc:  # the job reports any failure; the page shows it
        logger.exception("job.failed", extra={"fields": {"job": job_id}})
        status, error = "failed", f"{type(exc).__name__}: {exc}"[:500]
    with writing(engine) as conn:
        conn.execute(db.jobs.update().where(db.jobs.c.id == job_id).values(
            status=status, error=error, finished_at_us=clock(), heartbeat_us=clock()))
    log(logger, "job.finished", job=job_id, status=status)


def job_state(conn: Connection, job_id: int) -> JobState | None:
    row = conn.execute(select(db.jobs).where(db.jobs.c.id == job_id)).first()
    if row is None:
        return None
    return JobState(row.id, row.month, row.status, row.done, row.total, row.error)


def latest_job(conn: Connection, month: str) -> JobState | None:
    row = conn.execute(select(db.jobs.c.id).where(db.jobs.c.kind == KIND)
                       .where(db.jobs.c.month == month)
                       .order_by(db.jobs.c.id.desc()).limit(1)).scalar()
    return job_state(conn, int(row)) if row is not None else None
