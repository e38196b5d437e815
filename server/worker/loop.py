"""The worker's two loops: jobs (one at a time, each to its end) and periodic work (outbox
passes every few seconds, roster pulls on their schedule), in two threads so a long month job
does not hold back a delivery."""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine, select

from provisioning.errors import ProvisioningError
from qatys.logs import log
from server.config import ServerConfig
from server.errors import QueueCoreError
from server.jobs.queue import claim, take_slot
from server.money import jobs as month_jobs
from server.queue_core.client import QueueCoreClient
from server.queue_core.outbox import deliver_due
from server.queue_core.roster_pull import pull_roster
from server.storage import db

logger = logging.getLogger("qatys.worker")
ROSTER_SLOT = "queue_core.roster_pull"


def worker_name() -> str:
    """Who holds a claim: the machine and the process, as the logs and the jobs table say."""
    return f"{socket.gethostname()}:{os.getpid()}"[:64]


@dataclass
class Worker:
    engine: Engine
    config: ServerConfig
    clock: Callable[[], int]
    name: str
    workers: int | None = None
    """Processes for a month job's kindergartens (None: one per core)."""

    def run_jobs(self) -> int:
        """Run queued jobs until none is left; how many were run."""
        ran = 0
        stale_us = self.config.job_stale_seconds * 1_000_000
        while (taken := claim(self.engine, self.name, self.clock(), stale_us,
                              (month_jobs.KIND,))) is not None:
            month_jobs.run_month_job(self.engine, taken, None, self.clock, self.workers)
            ran += 1
        return ran

    def exchange(self) -> None:
        """One pass with the queue core, if one is configured: rosters when their slot is
        due (one worker of all takes it), then every due statement of the outbox."""
        if not self.config.queue_core_url:
            return
        client = QueueCoreClient(self.config.queue_core_url,
                                 self.config.queue_core_timeout_seconds,
                                 allow_plain_http=self.config.allow_plain_http)
        every_us = self.config.queue_core_roster_minutes * 60 * 1_000_000
        if take_slot(self.engine, ROSTER_SLOT, every_us, self.name, self.clock()):
            self._pull_rosters(client)
        deliver_due(self.engine, client, self.clock)

    def _pull_rosters(self, client: QueueCoreClient) -> None:
        with self.engine.connect() as conn:
            codes = [str(c) for c in conn.execute(select(db.kindergartens.c.code)
                                                  .order_by(db.kindergartens.c.code)).scalars()]
        for code in codes:
            try:
                pull_roster(self.engine, client, code)
            except (QueueCoreError, ProvisioningError) as exc:
                log(logger, "roster.failed", logging.WARNING, kindergarten=code,
                    error=str(exc)[:200])

    def once(self) -> int:
        """Everything that is due, once (``qatys server worker --once``); jobs run."""
        ran = self.run_jobs()
        self.exchange()
        return ran

    def forever(self, stop: threading.Event, every_seconds: float) -> None:
        """Until ``stop``: jobs in one thread, the exchange in this one; a failed pass is
        logged and tried again at the next."""
        jobs = threading.Thread(target=self._keep, args=(self.run_jobs, stop, every_seconds),
                                name="worker-jobs", daemon=True)
        jobs.start()
        self._keep(self.exchange, stop, every_seconds)
        jobs.join(timeout=10)

    def _keep(self, step: Callable[[], object], stop: threading.Event,
              every_seconds: float) -> None:
        while not stop.is_set():
            try:
                step()
            except Exception:  # a database or network hiccup: logged, tried again
                logger.exception("worker.step_failed",
                                 extra={"fields": {"step": step.__name__, "worker": self.name}})
            stop.wait(every_seconds)
