"""The worker's three loops, each in its own thread so that none holds back another: jobs (one
at a time, each to its end), the queue-core exchange (outbox passes every few seconds, roster
pulls on their schedule) and guardians' notifications (every half second: a message should
reach the phone soon after the sync)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Engine

from qatys.logs import log
from server.config import ServerConfig
from server.errors import SetupError
from server.jobs.queue import claim
from server.keys import load_vapid_key
from server.money import jobs as month_jobs
from server.push.cli import PASS_MOST, subject_of
from server.push.outbox import EventCursor, enqueue_closing, enqueue_new
from server.push.sender import PushSettings
from server.push.sender import deliver_due as deliver_pushes
from server.queue_core.client import QueueCoreClient
from server.queue_core.outbox import deliver_due
from server.queue_core.roster_pull import pull_rosters_when_due
from server.storage.replica import Reads

logger = logging.getLogger("qatys.worker")
NOTIFY_EVERY_SECONDS = 0.5
CLOSING_EVERY_US = 30 * 1_000_000
"""How often the closing times are looked at (a "not collected yet" message is once a day)."""


@dataclass
class Worker:
    engine: Engine
    config: ServerConfig
    clock: Callable[[], int]
    name: str
    workers: int | None = None
    """Processes for a month job's kindergartens (None: one per core)."""
    cursor: EventCursor = field(default_factory=EventCursor)
    """Where the notifications have got to in each terminal's events (this process's)."""
    next_closing_us: int = 0
    push: PushSettings | None = None
    said_no_key: bool = False
    reads: Reads | None = None
    """Where a month job's computation reads (the replica when configured, caught up)."""

    def __post_init__(self) -> None:
        if self.reads is None and self.config.database_read_url:
            self.reads = Reads.from_config(self.engine, self.config.database_read_url,
                                           self.config.replica_wait_ms)

    def run_jobs(self) -> int:
        """Run queued jobs until none is left; how many were run."""
        ran = 0
        stale_us = self.config.job_stale_seconds * 1_000_000
        while (taken := claim(self.engine, self.name, self.clock(), stale_us,
                              (month_jobs.KIND,))) is not None:
            month_jobs.run_month_job(self.engine, taken, None, self.clock, self.workers,
                                     reads=self.reads)
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
        pull_rosters_when_due(self.engine, client, self.name, self.clock(),
                              self.config.queue_core_roster_minutes)
        deliver_due(self.engine, client, self.clock)

    def notify(self) -> None:
        """Messages for the events synced since the last pass (and, every half minute, for
        the kindergartens past their closing time), then every message due. Without the
        VAPID key (a data directory not yet upgraded by ``qatys server init``) nothing is
        sent, and the log says why once."""
        settings = self._push_settings()
        if settings is None:
            return
        now = self.clock()
        enqueue_new(self.engine, self.cursor, now)
        if now >= self.next_closing_us:
            self.next_closing_us = now + CLOSING_EVERY_US
            enqueue_closing(self.engine, now)
        deliver_pushes(self.engine, self.clock(), settings, most=PASS_MOST)

    def _push_settings(self) -> PushSettings | None:
        """The sender's key and subject, read once; a missing key is logged once."""
        if self.push is None:
            try:
                key = load_vapid_key(self.config.vapid_key_file)
            except (OSError, SetupError) as exc:
                if not self.said_no_key:
                    log(logger, "push.no_key", logging.WARNING, error=str(exc)[:200])
                    self.said_no_key = True
                return None
            self.push = PushSettings(key, subject_of(self.config),
                                     self.config.push_max_attempts)
        return self.push

    def once(self) -> int:
        """Everything that is due, once (``qatys server worker --once``); jobs run."""
        ran = self.run_jobs()
        self.exchange()
        self.notify()
        return ran

    def forever(self, stop: threading.Event, every_seconds: float) -> None:
        """Until ``stop``: jobs in one thread, the exchange in this one; a failed pass is
        logged and tried again at the next."""
        threads = [threading.Thread(target=self._keep, args=(step, stop, seconds),
                                    name=f"worker-{step.__name__}", daemon=True)
                   for step, seconds in ((self.run_jobs, every_seconds),
                                         (self.notify, NOTIFY_EVERY_SECONDS))]
        for thread in threads:
            thread.start()
        self._keep(self.exchange, stop, every_seconds)
        for thread in threads:
            thread.join(timeout=10)

    def _keep(self, step: Callable[[], object], stop: threading.Event,
              every_seconds: float) -> None:
        while not stop.is_set():
            try:
                step()
            except Exception:  # a database or network hiccup: logged, tried again
                logger.exception("worker.step_failed",
                                 extra={"fields": {"step": step.__name__, "worker": self.name}})
            stop.wait(every_seconds)
