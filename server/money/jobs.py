"""The month overview's long work: every kindergarten's statement and flags, with progress.

A finance officer queues it from the page (:func:`start_month_job`); a ``qatys server worker``
claims it (:mod:`server.jobs.queue`) and runs it (:func:`run_month_job`), writing each
kindergarten's figures with the job's id and its progress to the ``jobs`` table, so any node
can answer "how far". A worker killed mid-way leaves the job's heartbeat to go stale; the next
worker continues with the kindergartens not yet written, and the figures come out the same.
The kindergartens are computed by one process per core, like the month-end run.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, select

from qatys.logs import log
from server.domain.policy import Policy, load_policy
from server.jobs.queue import IN_PROGRESS, Claim, JobStatus, finish, queue_once, still_mine
from server.money.statements import anomaly_flags, parse_month, statement_for
from server.storage import db
from server.storage.db import writing
from server.storage.replica import Reads

logger = logging.getLogger("qatys.finance_jobs")
KIND = "month_totals"
SMALL_SHARE = 10
"""Kindergartens per process below which the job stays in one thread."""


@dataclass(frozen=True)
class JobState:
    id: int
    month: str
    status: JobStatus
    done: int
    total: int
    error: str

    @property
    def in_progress(self) -> bool:
        """Queued or running: the page shows the progress bar, not the button."""
        return self.status in IN_PROGRESS


@dataclass(frozen=True)
class Figures:
    code: str
    children: int
    working_days: int
    total: str
    inputs_digest: str
    policy_version: str
    flags: int


def start_month_job(engine: Engine, month: str, by: str, now_us: int, stale_us: int) -> int:
    """The month's job that is queued or running, or a new one queued now (a worker runs
    it). A month outside the range is refused before anything is written."""
    parse_month(month)
    with writing(engine) as conn:
        total = len(_codes(conn))
        job_id = queue_once(conn, KIND, month, by, total, now_us, stale_us)
    log(logger, "job.queued", job=job_id, month=month, kindergartens=total)
    return job_id


def _codes(conn: Connection) -> list[str]:
    return [str(c) for c in conn.execute(select(db.kindergartens.c.code)
                                         .order_by(db.kindergartens.c.code)).scalars()]


def run_month_job(engine: Engine, claim: Claim, policy_text: str | None,
                  clock: Callable[[], int], workers: int | None = None,
                  reads: Reads | None = None) -> JobStatus | None:
    """Compute the kindergartens this job has not written yet; the job's end state, or None
    when another worker took the job over (then this one stops writing at once).

    The figures are computed from ``reads``' replica when it has replayed everything the
    primary had committed when this worker started on the job (server/storage/replica.py),
    else from the primary; they are written to the primary."""
    year, month = parse_month(claim.month)
    reads = reads or Reads(engine)
    source_engine, source = reads.caught_up_engine(reads.target())
    with engine.connect() as conn:
        codes = _codes(conn)
        written = set(conn.execute(select(db.month_totals.c.kindergarten)
                                   .where(db.month_totals.c.month == claim.month)
                                   .where(db.month_totals.c.job_id == claim.job_id)).scalars())
    todo = [code for code in codes if code not in written]
    log(logger, "job.started", job=claim.job_id, month=claim.month, attempt=claim.attempts,
        kindergartens=len(todo), already=len(codes) - len(todo), read_from=source)
    try:
        for figures in _all_figures(source_engine, todo, year, month, policy_text, workers):
            if not _store(engine, claim, figures, clock()):
                log(logger, "job.taken_over", logging.WARNING, job=claim.job_id)
                return None
        status, error = JobStatus.DONE, ""
    except Exception as exc:  # the job reports any failure; the page shows it
        logger.exception("job.failed", extra={"fields": {"job": claim.job_id}})
        status, error = JobStatus.FAILED, f"{type(exc).__name__}: {exc}"
    if not finish(engine, claim, status, error, clock()):
        return None
    log(logger, "job.finished", job=claim.job_id, status=status)
    return status


def _store(engine: Engine, claim: Claim, figures: Figures, now_us: int) -> bool:
    """One kindergarten's figures and the job's progress, in one transaction, if the job is
    still this worker's."""
    label = claim.month
    with writing(engine) as conn:
        done = 1 + len(conn.execute(select(db.month_totals.c.kindergarten)
                                    .where(db.month_totals.c.month == label)
                                    .where(db.month_totals.c.job_id == claim.job_id)
                                    .where(db.month_totals.c.kindergarten != figures.code))
                       .all())
        if not still_mine(conn, claim, now_us, done=done):
            return False
        conn.execute(db.month_totals.delete()
                     .where(db.month_totals.c.kindergarten == figures.code)
                     .where(db.month_totals.c.month == label))
        conn.execute(db.month_totals.insert().values(
            kindergarten=figures.code, month=label, children=figures.children,
            working_days=figures.working_days, total=figures.total,
            inputs_digest=figures.inputs_digest, policy_version=figures.policy_version,
            flags=figures.flags, computed_at_us=now_us, job_id=claim.job_id))
    return True


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
