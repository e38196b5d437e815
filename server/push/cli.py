"""``qatys server notify``: the push sender's loop (issue 19 moves it into `qatys server
worker`; its steps stay the functions it calls)."""

from __future__ import annotations

import logging
import signal
import threading
from urllib.parse import urlsplit

import click

from qatys import logs
from qatys.cliutil import emit
from qatys.timeutil import now_us
from server.config import ServerConfig
from server.datadir import DataDir, with_data_dir
from server.keys import load_vapid_key
from server.push.outbox import enqueue_closing, enqueue_recent
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


def one_pass(data: DataDir, settings: PushSettings, force: bool = False) -> tuple[int, PushRun]:
    """Enqueue what the last minutes and closing time call for, then send what is due."""
    moment = now_us()
    queued = enqueue_recent(data.engine, moment) + enqueue_closing(data.engine, moment)
    return queued, deliver_due(data.engine, now_us(), settings, force=force)


@click.command("notify")
@with_data_dir
@click.option("--every", "every_seconds", default=1.0, show_default=True,
              help="Seconds between passes.")
@click.option("--once", is_flag=True, help="One pass, its counts as a JSON line, then exit.")
@click.option("--now", "force", is_flag=True,
              help="Also send messages waiting out a retry delay (with --once).")
def notify_command(data: DataDir, every_seconds: float, once: bool, force: bool) -> None:
    """Send guardians' push notifications until stopped (docs/notifications.md)."""
    settings = settings_of(data)
    if once:
        queued, run = one_pass(data, settings, force)
        emit({"queued": queued, "sent": run.sent, "retrying": run.retrying,
              "dropped": run.dropped, "failed": run.failed})
        return
    logs.configure(data.config.log_file.with_name("notify.log"))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.is_set():
            try:
                one_pass(data, settings)
            except Exception as exc:  # a database hiccup must not end the loop
                logs.log(logger, "push.pass_failed", logging.ERROR, error=str(exc)[:300])
            stop.wait(every_seconds)
    except KeyboardInterrupt:
        pass
