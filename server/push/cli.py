"""``qatys server notify``: the push sender's loop on its own (``qatys server worker`` runs the
same steps beside the rest of the background work, server/worker/loop.py)."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from urllib.parse import urlsplit

import click

from qatys import logs
from qatys.cliutil import emit
from qatys.timeutil import now_us
from server.config import ServerConfig
from server.datadir import DataDir, with_data_dir
from server.keys import load_vapid_key
from server.push.outbox import EventCursor, enqueue_closing, enqueue_new
from server.push.sender import PushRun, PushSettings, deliver_due

logger = logging.getLogger("qatys.push")


def subject_of(config: ServerConfig) -> str:
    """VAPID ``sub``: the setting, else the server's https address, else a local mailto."""
    if config.push_subject:
        return config.push_subject
    address = urlsplit(config.public_url)
    if address.scheme == "https" and address.hostname:
        return f"https://{address.netloc}"
    return "mailto:qatys@localhost"


def settings_of(data: DataDir) -> PushSettings:
    return PushSettings(load_vapid_key(data.config.vapid_key_file), subject_of(data.config),
                        data.config.push_max_attempts)


CLOSING_EVERY_SECONDS = 30.0
"""How often the loop looks at the kindergartens' closing times."""


NICENESS = 10
"""The loop runs at a lower CPU priority than the server: under load, terminals' syncs are
answered first and messages go out a little later."""
PASS_MOST = 500
"""Messages one pass of the loop sends at most: a stop request waits for no more."""


def one_pass(data: DataDir, settings: PushSettings, cursor: EventCursor,
             closing: bool = True, force: bool = False,
             most: int | None = None) -> tuple[int, PushRun]:
    """Enqueue what new events (and, with ``closing``, closing times) call for, then send
    what is due. ``qatys server worker`` runs the same steps (server/worker/loop.py)."""
    moment = now_us()
    queued = enqueue_new(data.engine, cursor, moment)
    if closing:
        queued += enqueue_closing(data.engine, moment)
    return queued, deliver_due(data.engine, now_us(), settings, force=force, most=most)


@click.command("notify")
@with_data_dir
@click.option("--every", "every_seconds", default=0.5, show_default=True,
              help="Seconds between passes.")
@click.option("--once", is_flag=True, help="One pass, its counts as a JSON line, then exit.")
@click.option("--now", "force", is_flag=True,
              help="Also send messages waiting out a retry delay (with --once).")
def notify_command(data: DataDir, every_seconds: float, once: bool, force: bool) -> None:
    """Send guardians' push notifications until stopped (docs/notifications.md)."""
    settings = settings_of(data)
    if once:
        queued, run = one_pass(data, settings, EventCursor(), force=force)
        emit({"queued": queued, "sent": run.sent, "retrying": run.retrying,
              "dropped": run.dropped, "failed": run.failed})
        return
    logs.configure(data.config.log_file.with_name("notify.log"))
    os.nice(NICENESS)  # ingest's answers first: a message can wait a moment
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    cursor, next_closing = EventCursor(), 0.0
    try:
        while not stop.is_set():
            closing = time.monotonic() >= next_closing
            if closing:
                next_closing = time.monotonic() + CLOSING_EVERY_SECONDS
            busy = False
            try:
                _, run = one_pass(data, settings, cursor, closing, most=PASS_MOST)
                busy = run.total >= PASS_MOST  # more waiting: no pause
            except Exception as exc:  # a database hiccup must not end the loop
                logs.log(logger, "push.pass_failed", logging.ERROR, error=str(exc)[:300])
            if not busy:
                stop.wait(every_seconds)
    except KeyboardInterrupt:
        pass
