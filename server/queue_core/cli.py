"""``qatys queue-core …``: roster pulls and statement delivery, on demand or on a schedule."""

from __future__ import annotations

import signal
import threading

import click
from sqlalchemy import select

from provisioning.errors import ProvisioningError
from qatys import logs
from qatys.cliutil import EXIT_BAD_INPUT, EXIT_REFUSED, EXIT_UNREACHABLE, emit, fail
from qatys.sentences import Sentence, echo
from qatys.timeutil import iso_utc, now_us
from server.datadir import DataDir, with_data_dir
from server.errors import QueueCoreError
from server.jobs.queue import worker_name
from server.queue_core.client import QueueCoreClient
from server.queue_core.outbox import OutboxStatus, deliver_due, outbox_rows, resend
from server.queue_core.roster_pull import PullOutcome, pull_roster, pull_rosters_when_due
from server.storage import db

NO_QUEUE_CORE = Sentence("no queue core is configured (qatys server init --queue-core-url)")


def _client(data: DataDir) -> QueueCoreClient:
    return QueueCoreClient(data.config.queue_core_url, data.config.queue_core_timeout_seconds,
                           allow_plain_http=data.config.allow_plain_http)


def _codes(data: DataDir) -> list[str]:
    with data.engine.connect() as conn:
        return [str(c) for c in conn.execute(select(db.kindergartens.c.code)
                                             .order_by(db.kindergartens.c.code)).scalars()]


@click.group("queue-core")
def queue_core_group() -> None:
    """The regional queue core: rosters in, approved statements out (docs/queue-core.md)."""


@queue_core_group.command("pull-roster")
@with_data_dir
@click.option("--kindergarten", default=None, help="One kindergarten (default: all).")
def pull_roster_command(data: DataDir, kindergarten: str | None) -> None:
    """Import rosters from the queue core now; one JSON line each.

    Exit 0 all imported, 3 the core unreachable, 4 a roster refused (nothing imported)."""
    codes = [kindergarten] if kindergarten else _codes(data)
    client = _client(data) if data.config.queue_core_url else None
    if client is None:
        fail(NO_QUEUE_CORE, EXIT_BAD_INPUT)
    worst = 0
    for code in codes:
        try:
            result = pull_roster(data.engine, client, code)
        except QueueCoreError as exc:
            worst = max(worst, EXIT_UNREACHABLE if exc.retry else EXIT_REFUSED)
            emit({"kindergarten": code, "result": PullOutcome.FAILED, "error": str(exc)})
            continue
        except ProvisioningError as exc:
            worst = max(worst, EXIT_REFUSED)
            emit({"kindergarten": code, "result": PullOutcome.REFUSED, "error": str(exc),
                   "problems": getattr(exc, "problems", [])[:50]})
            continue
        outcome = PullOutcome.IMPORTED if result.stored else PullOutcome.UNCHANGED
        emit({"kindergarten": code, "result": outcome,
               "rows": result.rows, "added": result.added, "updated": result.updated})
    raise SystemExit(worst)


@queue_core_group.command("deliver")
@with_data_dir
@click.option("--now", "force", is_flag=True,
              help="Also send rows waiting out a retry delay (the core is known to be back).")
def deliver_command(data: DataDir, force: bool) -> None:
    """Send every due statement in the outbox once.

    Exit 0 nothing left, 3 some still waiting (core down), 4 some refused by the core."""
    client = _client(data) if data.config.queue_core_url else None
    if client is None:
        fail(Sentence("no queue core is configured; statements wait in the outbox"),
             EXIT_UNREACHABLE)
    run = deliver_due(data.engine, client, now_us, force=force)
    emit({"delivered": run.delivered, "retrying": run.retrying, "refused": run.refused})
    with data.engine.connect() as conn:
        statuses = [OutboxStatus(r.status) for r in outbox_rows(conn)]
    if OutboxStatus.REFUSED in statuses:
        raise SystemExit(EXIT_REFUSED)
    if OutboxStatus.PENDING in statuses:
        raise SystemExit(EXIT_UNREACHABLE)


@queue_core_group.command("outbox")
@with_data_dir
@click.option("--kindergarten", default=None)
@click.option("--month", default=None, help="YYYY-MM")
def outbox_command(data: DataDir, kindergarten: str | None, month: str | None) -> None:
    """What waits for the queue core and what it acknowledged; one JSON line per row."""
    with data.engine.connect() as conn:
        for row in outbox_rows(conn, kindergarten, month):
            emit({"id": row.id, "kind": row.kind, "kindergarten": row.kindergarten,
                   "month": row.month, "idempotency_key": row.idempotency_key,
                   "status": row.status, "attempts": row.attempts,
                   "last_error": row.last_error, "created_at": iso_utc(row.created_at_us),
                   "delivered_at": iso_utc(row.delivered_at_us) if row.delivered_at_us
                   else None, "core_reference": row.core_reference})


@queue_core_group.command("resend")
@with_data_dir
@click.argument("outbox_id", type=int)
def resend_command(data: DataDir, outbox_id: int) -> None:
    """Queue a refused row again once its cause is fixed (e.g. the core's key list)."""
    with data.transaction() as conn:
        if not resend(conn, outbox_id, now_us()):
            fail(Sentence("outbox row %(row)s is not a refused row", row=outbox_id),
                 EXIT_BAD_INPUT)
    echo(Sentence("outbox row %(row)s queued again", row=outbox_id))


@queue_core_group.command("run")
@with_data_dir
@click.option("--every", "every_seconds", default=15.0, show_default=True,
              help="Seconds between outbox passes.")
def run_command(data: DataDir, every_seconds: float) -> None:
    """Keep exchanging until stopped: outbox every few seconds, rosters on their schedule."""
    logs.configure(data.config.log_file.with_name("queue-core.log"))
    if not data.config.queue_core_url:
        fail(NO_QUEUE_CORE, EXIT_BAD_INPUT)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    client, name = _client(data), worker_name()
    try:
        while not stop.is_set():
            pull_rosters_when_due(data.engine, client, name, now_us(),
                                  data.config.queue_core_roster_minutes)
            deliver_due(data.engine, client, now_us)
            stop.wait(every_seconds)
    except KeyboardInterrupt:
        pass

