"""The persisted outbox toward the queue core: retried until acknowledged, once in effect.

A row is written in the same transaction as what it reports (an approval), so nothing
approved is ever forgotten. A sender claims due rows for a while, posts each one outside
any transaction, then records the outcome. Two senders racing, a lost answer or a restart
can make the same row go out twice; its idempotency key makes that one statement at the core.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, Engine, Row, or_, select

from qatys.logs import log
from server.errors import QueueCoreError
from server.queue_core.client import QueueCoreClient
from server.storage import db
from server.storage.db import writing

logger = logging.getLogger("qatys.outbox")

CLAIM_SECONDS = 120
FIRST_RETRY_SECONDS = 30
MAX_RETRY_SECONDS = 3600
BATCH = 20


class SubmissionKind(StrEnum):
    """What an outbox row carries to the queue core, its ``kind`` (docs/queue-core.md): also
    the ``kind`` of the body sent."""
    FUNDING_STATEMENT = "funding-statement"
    """An approved month's funding statement (`POST /v1/funding-statements`)."""


class OutboxStatus(StrEnum):
    """An outbox row's ``status`` (docs/queue-core.md)."""
    PENDING = "pending"
    """Waiting to be sent, or to be sent again after a failure worth retrying."""
    DELIVERED = "delivered"
    """The core acknowledged it."""
    REFUSED = "refused"
    """The core refused it; it waits for a person (`qatys queue-core resend`)."""


@dataclass(frozen=True)
class DeliveryRun:
    delivered: int
    retrying: int
    refused: int


def enqueue(conn: Connection, kind: SubmissionKind, kindergarten: str, month: str, key: str,
            body: bytes, signature: str, now_us: int) -> None:
    conn.execute(db.outbox.insert().values(
        kind=kind, kindergarten=kindergarten, month=month, idempotency_key=key, body=body,
        signature=signature, created_at_us=now_us, status=OutboxStatus.PENDING, attempts=0,
        next_attempt_at_us=now_us, last_error=""))


def retry_delay_us(attempts: int, rng: random.Random | None = None) -> int:
    """Full-jitter backoff: a random wait up to 30 s × 2^attempts, at most an hour."""
    ceiling = min(MAX_RETRY_SECONDS, FIRST_RETRY_SECONDS * 2 ** min(attempts, 20))
    return int((rng or random).uniform(FIRST_RETRY_SECONDS / 2, ceiling) * 1_000_000)


def deliver_due(engine: Engine, client: QueueCoreClient, clock: Callable[[], int],
                rng: random.Random | None = None, force: bool = False) -> DeliveryRun:
    """Send every row that is due now (``force``: also those waiting out a retry delay, e.g.
    when an operator knows the core is back); returns how each one ended. The pass ends at
    the first failure worth retrying: the core is down, and the other rows can wait too."""
    delivered = retrying = refused = 0
    tried: set[int] = set()
    while True:
        rows = _claim(engine, clock(), force, tried)
        tried.update(r.id for r in rows)
        if not rows:
            return DeliveryRun(delivered, retrying, refused)
        for index, row in enumerate(rows):
            outcome = _send(engine, client, row, clock, rng)
            delivered += outcome == OutboxStatus.DELIVERED
            refused += outcome == OutboxStatus.REFUSED
            if outcome == OutboxStatus.PENDING:
                _release(engine, [r.id for r in rows[index + 1:]])
                return DeliveryRun(delivered, 1, refused)
        if len(rows) < BATCH:
            return DeliveryRun(delivered, retrying, refused)


def _claim(engine: Engine, now_us: int, force: bool, tried: set[int]) -> list[Row[Any]]:
    """Due rows not yet tried in this pass, claimed for a while so other senders skip them.
    On PostgreSQL the rows are locked as they are read (skipping rows another sender is
    claiming right now): without it two senders could read the same unclaimed rows, both
    claim them and both send. SQLite's writers take turns (BEGIN IMMEDIATE)."""
    due = select(db.outbox).where(db.outbox.c.status == OutboxStatus.PENDING).where(
        or_(db.outbox.c.claimed_until_us.is_(None), db.outbox.c.claimed_until_us < now_us))
    if tried:
        due = due.where(db.outbox.c.id.not_in(sorted(tried)))
    if not force:
        due = due.where(db.outbox.c.next_attempt_at_us <= now_us)
    due = due.order_by(db.outbox.c.id).limit(BATCH)
    with writing(engine) as conn:
        if conn.dialect.name == "postgresql":  # another node's claim in flight: skip its rows
            due = due.with_for_update(skip_locked=True)
        rows = list(conn.execute(due))
        if rows:
            conn.execute(db.outbox.update().where(db.outbox.c.id.in_([r.id for r in rows]))
                         .values(claimed_until_us=now_us + CLAIM_SECONDS * 1_000_000))
    return rows


def _release(engine: Engine, ids: list[int]) -> None:
    """Give back claims on rows this pass will not send after all."""
    if ids:
        with writing(engine) as conn:
            conn.execute(db.outbox.update().where(db.outbox.c.id.in_(ids))
                         .values(claimed_until_us=None))


def _send(engine: Engine, client: QueueCoreClient, row: Row[Any], clock: Callable[[], int],
          rng: random.Random | None) -> OutboxStatus:
    attempts = row.attempts + 1
    try:
        receipt = client.submit_statement(bytes(row.body), row.idempotency_key, row.signature)
    except QueueCoreError as exc:
        status = OutboxStatus.PENDING if exc.retry else OutboxStatus.REFUSED
        with writing(engine) as conn:
            conn.execute(db.outbox.update().where(db.outbox.c.id == row.id).values(
                status=status, attempts=attempts, last_error=str(exc)[:500],
                claimed_until_us=None,
                next_attempt_at_us=clock() + retry_delay_us(attempts, rng)))
        log(logger, "outbox.failed", logging.WARNING, id=row.id, key=row.idempotency_key,
            attempts=attempts, status=status, error=str(exc)[:200])
        return status
    with writing(engine) as conn:
        conn.execute(db.outbox.update().where(db.outbox.c.id == row.id).values(
            status=OutboxStatus.DELIVERED, attempts=attempts, delivered_at_us=clock(),
            last_error="", claimed_until_us=None, core_reference=receipt.reference))
    log(logger, "outbox.delivered", id=row.id, key=row.idempotency_key, attempts=attempts,
        reference=receipt.reference, replayed=receipt.replayed)
    return OutboxStatus.DELIVERED


def outbox_rows(conn: Connection, kindergarten: str | None = None,
                month: str | None = None) -> list[Row[Any]]:
    query = select(db.outbox.c.id, db.outbox.c.kind, db.outbox.c.kindergarten,
                   db.outbox.c.month, db.outbox.c.idempotency_key, db.outbox.c.status,
                   db.outbox.c.attempts, db.outbox.c.last_error, db.outbox.c.created_at_us,
                   db.outbox.c.delivered_at_us, db.outbox.c.core_reference,
                   db.outbox.c.next_attempt_at_us).order_by(db.outbox.c.id)
    if kindergarten is not None:
        query = query.where(db.outbox.c.kindergarten == kindergarten)
    if month is not None:
        query = query.where(db.outbox.c.month == month)
    return list(conn.execute(query))


def resend(conn: Connection, outbox_id: int, now_us: int) -> bool:
    """Put a refused row back in the queue after a person fixed the cause; False if none."""
    result = conn.execute(db.outbox.update().where(db.outbox.c.id == outbox_id)
                          .where(db.outbox.c.status == OutboxStatus.REFUSED)
                          .values(status=OutboxStatus.PENDING, next_attempt_at_us=now_us,
                                  claimed_until_us=None))
    return bool(result.rowcount)
