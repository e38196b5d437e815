"""``qatys server worker``: the background work, until stopped or ``--once``."""

from __future__ import annotations

import os
import signal
import threading

import click

from qatys import logs
from qatys.sentences import Sentence, echo, plural_sentence
from qatys.timeutil import now_us
from server import run_lock
from server.datadir import DataDir, with_data_dir
from server.jobs.queue import worker_name
from server.push.cli import NICENESS
from server.worker.loop import Worker


@click.command("worker")
@with_data_dir
@click.option("--once", is_flag=True, help="Do what is due now, run every queued job, and exit.")
@click.option("--every", "every_seconds", default=5.0, show_default=True,
              help="Seconds between passes.")
@click.option("--name", default=None, help="Who holds the claims (default: host:pid).")
@click.option("--processes", default=None, type=int,
              help="Processes for a month job's kindergartens (default: one per core).")
def worker_command(data: DataDir, once: bool, every_seconds: float, name: str | None,
                   processes: int | None) -> None:
    """Run queued jobs (the month computation), queue-core deliveries and roster pulls;
    safe with any number of copies on any nodes."""
    run_lock.hold_shared(data.config.data_dir)  # `qatys server restore` refuses meanwhile
    worker = Worker(data.engine, data.config, now_us, name or worker_name(), processes)
    if once:
        ran = worker.once()
        echo(plural_sentence("%(count)s job run", "%(count)s jobs run", ran, count=ran))
        return
    logs.configure(data.config.log_file.with_name("worker.log"))
    os.nice(NICENESS)  # the terminals' syncs and the pages are answered first
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    echo(Sentence("worker %(name)s started", name=worker.name))
    try:
        worker.forever(stop, every_seconds)
    except KeyboardInterrupt:
        stop.set()
