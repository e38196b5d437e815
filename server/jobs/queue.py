"""Queueing, claiming and finishing jobs; sharing periodic slots. Every time is a parameter.

Why a table with ``FOR UPDATE SKIP LOCKED`` rather than a queue library: the deployment
already runs the database (SQLite or PostgreSQL), the same few statements serve both, a job's
progress stays a row the finance page reads, and no broker or extra schema has to be run,
backed up and restored beside it (docs/dependencies.md)."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import Connection, Engine, or_, select, update
from sqlalchemy.exc import IntegrityError

from server.storage import db
from server.storage.db import writing

STALE_SECONDS = 30
"""A running job whose heartbeat is older than this is taken to have lost its worker."""


def worker_name() -> str:
    """Who holds a claim or a slot: the machine and the process, as the logs, the jobs and
    the schedules tables say."""
    return f"{socket.gethostname()}:{os.getpid()}"[:64]


class JobStatus(StrEnum):
    """A job's ``status`` (the ``jobs`` table; ``GET /finance/jobs/…``)."""
    QUEUED = "queued"
    """Waiting for a worker."""
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


IN_PROGRESS = (JobStatus.QUEUED, JobStatus.RUNNING)


@dataclass(frozen=True)
class Claim:
    """A job this worker now runs: ``attempts`` counts the claims, this one included."""
    job_id: int
    kind: str
    month: str
    worker: str
    attempts: int


def queue_once(conn: Connection, kind: str, month: str, by: str, total: int, now_us: int,
               stale_us: int) -> int:
    """The job of ``kind`` for ``month`` that is queued or running, or a new queued one.

    A running job whose worker went away is *not* replaced: it is queued again as it stands,
    so the worker that claims it continues from where the last one stopped."""
    live = conn.execute(select(db.jobs.c.id, db.jobs.c.status, db.jobs.c.heartbeat_us)
                        .where(db.jobs.c.kind == kind).where(db.jobs.c.month == month)
                        .where(db.jobs.c.status.in_(IN_PROGRESS))
                        .order_by(db.jobs.c.id.desc())).first()
    if live is not None:
        if live.status == JobStatus.RUNNING and live.heartbeat_us <= now_us - stale_us:
            conn.execute(db.jobs.update().where(db.jobs.c.id == live.id)
                         .values(status=JobStatus.QUEUED, claimed_by=None))
        return int(live.id)
    inserted = conn.execute(db.jobs.insert().values(
        kind=kind, month=month, status=JobStatus.QUEUED, done=0, total=total, started_by=by,
        started_at_us=now_us, heartbeat_us=now_us, error="", attempts=0)).inserted_primary_key
    assert inserted is not None
    return int(inserted[0])


def claim(engine: Engine, worker: str, now_us: int, stale_us: int,
          kinds: tuple[str, ...]) -> Claim | None:
    """The oldest queued job of ``kinds`` (or a running one whose worker went away), now
    running under ``worker``; None when there is none. Two workers never claim the same job:
    the row is locked and skipped by the others (PostgreSQL), or the write lock is held
    (SQLite)."""
    with writing(engine) as conn:
        query = (select(db.jobs.c.id, db.jobs.c.kind, db.jobs.c.month, db.jobs.c.attempts)
                 .where(db.jobs.c.kind.in_(kinds))
                 .where(or_(db.jobs.c.status == JobStatus.QUEUED,
                            (db.jobs.c.status == JobStatus.RUNNING)
                            & (db.jobs.c.heartbeat_us <= now_us - stale_us)))
                 .order_by(db.jobs.c.id).limit(1))
        if conn.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        row = conn.execute(query).first()
        if row is None:
            return None
        conn.execute(db.jobs.update().where(db.jobs.c.id == row.id).values(
            status=JobStatus.RUNNING, claimed_by=worker, heartbeat_us=now_us,
            attempts=row.attempts + 1))
    return Claim(int(row.id), str(row.kind), str(row.month), worker, int(row.attempts) + 1)


def still_mine(conn: Connection, claim: Claim, now_us: int, **progress: int) -> bool:
    """Beat the heart (and store ``progress``, e.g. ``done``) if the job is still this
    worker's; False when another worker has taken it over, and then nothing is written."""
    changed = conn.execute(update(db.jobs).where(db.jobs.c.id == claim.job_id)
                           .where(db.jobs.c.claimed_by == claim.worker)
                           .where(db.jobs.c.status == JobStatus.RUNNING)
                           .values(heartbeat_us=now_us, **progress))
    return changed.rowcount == 1


def finish(engine: Engine, claim: Claim, status: JobStatus, error: str, now_us: int) -> bool:
    """End the job as ``status`` if it is still this worker's."""
    with writing(engine) as conn:
        changed = conn.execute(update(db.jobs).where(db.jobs.c.id == claim.job_id)
                               .where(db.jobs.c.claimed_by == claim.worker)
                               .values(status=status, error=error[:500], finished_at_us=now_us,
                                       heartbeat_us=now_us))
    return changed.rowcount == 1


def take_slot(engine: Engine, name: str, every_us: int, worker: str, now_us: int) -> bool:
    """True for exactly one of the workers asking once ``name`` is due, which then moves the
    slot ``every_us`` on: roster pulls run once per period whatever the number of workers."""
    try:
        with writing(engine) as conn:
            row = conn.execute(select(db.schedules.c.due_at_us)
                               .where(db.schedules.c.name == name)).first()
            if row is None:
                conn.execute(db.schedules.insert().values(
                    name=name, due_at_us=now_us + every_us, claimed_by=worker,
                    ran_at_us=now_us))
                return True
            changed = conn.execute(update(db.schedules).where(db.schedules.c.name == name)
                                   .where(db.schedules.c.due_at_us <= now_us)
                                   .values(due_at_us=now_us + every_us, claimed_by=worker,
                                           ran_at_us=now_us))
    except IntegrityError:  # another worker made the slot's first row at the same moment
        return False
    return changed.rowcount == 1
