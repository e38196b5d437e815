"""The month overview's long work: every kindergarten's statement and flags, with progress.

A finance officer starts it from the page; it runs in a thread of the worker that took the
request and writes its progress to the ``jobs`` table, so any worker can answer "how far".
A job whose heartbeat stops (the worker died) is marked failed when the next one starts.
The kindergartens are computed by one process per core, like the month-end run.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import Connection, Engine, select

from qatys.logs import log
from server.domain.policy import Policy, load_policy
from server.money.statements import anomaly_flags, parse_month, statement_for
from server.storage import db
from server.storage.db import writing

logger = logging.getLogger("qatys.finance_jobs")
KIND = "month_totals"
STALE_US = 120 * 1_000_000
SMALL_SHARE = 10
"""Kindergartens per process below which the job stays in one thread."""


class JobStatus(StrEnum):
    """A month job's ``status`` (the ``jobs`` table; ``GET /finance/api/jobs/…``)."""
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True)
class JobState:
    id: int
    month: str
    status: JobStatus
    done: int
    total: int
    error: str


@dataclass(frozen=True)
class Figures:
    code: str
    children: int
    working_days: int
    total: str
    inputs_digest: str
    policy_version: str
    flags: int


def start_month_job(engine: Engine, month: str, by: str, policy_text: str | None,
                    clock: Callable[[], int], workers: int | None = None) -> int:
    """The running job for ``month``, or a new one started now."""
    year, number = parse_month(month)
    now = clock()
    with writing(engine) as conn:
        running = conn.execute(select(db.jobs).where(db.jobs.c.kind == KIND)
                               .where(db.jobs.c.month == month)
                               .where(db.jobs.c.status == JobStatus.RUNNING)).first()
        if running is not None and running.heartbeat_us > now - STALE_US:
            return int(running.id)
        if running is not None:
            conn.execute(db.jobs.update().where(db.jobs.c.id == running.id).values(
                status=JobStatus.FAILED, finished_at_us=now, error="stopped: its worker went away"))
        codes = [str(c) for c in conn.execute(select(db.kindergartens.c.code)
                                              .order_by(db.kindergartens.c.code)).scalars()]
        inserted = conn.execute(db.jobs.insert().values(
            kind=KIND, month=month, status=JobStatus.RUNNING, done=0, total=len(codes),
            started_by=by, started_at_us=now, heartbeat_us=now, error="")).inserted_primary_key
    assert inserted is not None
    job_id = int(inserted[0])
    threading.Thread(target=_run, args=(engine, job_id, year, number, codes, policy_text, clock,
                                        workers),
                     name=f"month-job-{job_id}", daemon=True).start()
    log(logger, "job.started", job=job_id, month=month, kindergartens=len(codes))
    return job_id


def _run(engine: Engine, job_id: int, year: int, month: int, codes: list[str],
         policy_text: str | None, clock: Callable[[], int], workers: int | None) -> None:
    label = f"{year:04d}-{month:02d}"
    try:
        for done, figures in enumerate(_all_figures(engine, codes, year, month, policy_text,
                                                    workers), start=1):
            with writing(engine) as conn:
                conn.execute(db.month_totals.delete()
                             .where(db.month_totals.c.kindergarten == figures.code)
                             .where(db.month_totals.c.month == label))
                conn.execute(db.month_totals.insert().values(
                    kindergarten=figures.code, month=label, children=figures.children,
                    working_days=figures.working_days, total=figures.total,
                    inputs_digest=figures.inputs_digest, policy_version=figures.policy_version,
                    flags=figures.flags, computed_at_us=clock()))
                conn.execute(db.jobs.update().where(db.jobs.c.id == job_id)
                             .values(done=done, heartbeat_us=clock()))
        status, error = JobStatus.DONE, ""
    except Exception as exc:  # the job reports any failure; the page shows it
        logger.exception("job.failed", extra={"fields": {"job": job_id}})
        status, error = JobStatus.FAILED, f"{type(exc).__name__}: {exc}"[:500]
    with writing(engine) as conn:
        conn.execute(db.jobs.update().where(db.jobs.c.id == job_id).values(
            status=status, error=error, finished_at_us=clock(), heartbeat_us=clock()))
    log(logger, "job.finished", job=job_id, status=status)


def _all_figures(engine: Engine, codes: list[str], year: int, month: int,
                 policy_text: str | None, workers: int | None) -> Iterator[Figures]:
    """Each kindergarten's figures as soon as they are ready (in no set order). A few
    kindergartens are done in this thread: starting processes would take longer."""
    workers = max(1, min(workers or os.cpu_count() or 1, len(codes) // SMALL_SHARE))
    if workers == 1:
        policy = load_policy(policy_text)
        with engine.connect() as conn:
            for code in codes:
                yield figures_for(conn, code, year, month, policy)
        return
    url = engine.url.render_as_string(hide_password=False)
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                             initializer=_start_worker, initargs=(url, policy_text)) as pool:
        futures = [pool.submit(_worker_figures, code, year, month) for code in codes]
        for future in as_completed(futures):
            yield future.result()


def figures_for(conn: Connection, code: str, year: int, month: int, policy: Policy) -> Figures:
    statement = statement_for(conn, code, year, month, policy)
    flags = anomaly_flags(conn, code, year, month)
    return Figures(code, len(statement.children), statement.working_days,
                   f"{statement.total:.2f}", statement.inputs_digest, statement.policy_version,
                   len(flags))


_worker: dict[str, object] = {}


def _start_worker(database_url: str, policy_text: str | None) -> None:
    _worker["engine"] = db.make_engine(database_url)
    _worker["policy"] = load_policy(policy_text)


def _worker_figures(code: str, year: int, month: int) -> Figures:
    engine, policy = _worker["engine"], _worker["policy"]
    assert isinstance(engine, Engine)
    assert isinstance(policy, Policy)
    with engine.connect() as conn:
        return figures_for(conn, code, year, month, policy)


def job_state(conn: Connection, job_id: int) -> JobState | None:
    row = conn.execute(select(db.jobs).where(db.jobs.c.id == job_id)).first()
    if row is None:
        return None
    return JobState(row.id, row.month, JobStatus(row.status), row.done, row.total, row.error)


def latest_job(conn: Connection, month: str) -> JobState | None:
    row = conn.execute(select(db.jobs.c.id).where(db.jobs.c.kind == KIND)
                       .where(db.jobs.c.month == month)
                       .order_by(db.jobs.c.id.desc()).limit(1)).scalar()
    return job_state(conn, int(row)) if row is not None else None
