"""Sending the push outbox: :func:`deliver_due` claims the rows that are due (for a while,
so a second copy of the loop skips them), encrypts each for its phone (RFC 8291 aes128gcm),
signs the request with the server's VAPID key (RFC 8292) and posts it to the phone's push
service (RFC 8030), outside any transaction; then it records the outcome:

- 201 or 202: ``sent``;
- 404 or 410: the subscription is gone: dropped, with every message of it not yet sent;
- anything else (another status, a refused connection, a timeout): tried again after a
  full-jitter backoff (server/queue_core/outbox.py's), ``failed`` after the last attempt.
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid02
from pywebpush import WebPusher, WebPushException
from sqlalchemy import Connection, Engine, Row, or_, select

from qatys.logs import log
from server.push.subscriptions import DropReason, drop
from server.queue_core.outbox import retry_delay_us
from server.storage import db
from server.storage.db import PushStatus, writing

logger = logging.getLogger("qatys.push")

CLAIM_SECONDS = 60
BATCH = 50
TTL_SECONDS = 12 * 3600
"""How long a push service keeps a message for a phone that is off (``TTL``)."""
TIMEOUT_SECONDS = 10.0
VAPID_HOURS = 12
GONE = (404, 410)
TAKEN = (201, 202)


@dataclass(frozen=True)
class PushSettings:
    key: ec.EllipticCurvePrivateKey
    subject: str
    """VAPID ``sub``: ``mailto:…`` or the server's https address."""
    max_attempts: int = 8
    timeout_seconds: float = TIMEOUT_SECONDS


@dataclass(frozen=True)
class PushRun:
    sent: int = 0
    retrying: int = 0
    dropped: int = 0
    failed: int = 0

    @property
    def total(self) -> int:
        return self.sent + self.retrying + self.dropped + self.failed


def deliver_due(engine: Engine, now_us: int, settings: PushSettings,
                rng: random.Random | None = None, force: bool = False,
                most: int | None = None) -> PushRun:
    """Send every message due at ``now_us`` (``force``: also those waiting out a retry
    delay; ``most``: at most about that many, the rest at the next pass); returns how each
    one ended. Each claimed batch's outcomes are recorded in one transaction."""
    counts = {"sent": 0, "retrying": 0, "dropped": 0, "failed": 0}
    tried: set[int] = set()
    vapid = _Vapid(settings)
    with requests.Session() as session:  # one connection per push service, kept alive
        while True:
            rows = _claim(engine, now_us, force, tried)
            tried.update(r.id for r in rows)
            outcomes = [(row, _post(row, settings, vapid, session)) for row in rows]
            if outcomes:
                for result in _record(engine, outcomes, now_us, settings, rng):
                    counts[result] += 1
            if len(rows) < BATCH or (most is not None and len(tried) >= most):
                return PushRun(**counts)


def _claim(engine: Engine, now_us: int, force: bool, tried: set[int]) -> list[Row[Any]]:
    o, s = db.push_outbox.c, db.push_subscriptions.c
    due = (select(o.id, o.subscription_id, o.payload, o.attempts, o.dedup_key, s.endpoint,
                  s.p256dh, s.auth)
           .join(db.push_subscriptions, s.id == o.subscription_id)
           .where(o.status == PushStatus.PENDING)
           .where(or_(o.claimed_until_us.is_(None), o.claimed_until_us < now_us)))
    if tried:
        due = due.where(o.id.not_in(sorted(tried)))
    if not force:
        due = due.where(o.next_attempt_at_us <= now_us)
    due = due.order_by(o.id).limit(BATCH)
    with engine.connect() as conn:  # an idle pass takes no write lock
        if conn.execute(due).first() is None:
            return []
    with writing(engine) as conn:
        if conn.dialect.name == "postgresql":  # as the queue core's outbox: skip rows in flight
            due = due.with_for_update(skip_locked=True, of=db.push_outbox)
        rows: list[Row[Any]] = list(conn.execute(due))
        if rows:
            conn.execute(db.push_outbox.update().where(o.id.in_([r.id for r in rows]))
                         .values(claimed_until_us=now_us + CLAIM_SECONDS * 1_000_000))
    return rows


class _Vapid:
    """VAPID headers per push service (audience), signed once a pass: valid 12 hours."""

    def __init__(self, settings: PushSettings) -> None:
        self._key = Vapid02(private_key=settings.key)
        self._subject = settings.subject
        self._signed: dict[str, dict[str, str]] = {}

    def headers(self, audience: str) -> dict[str, str]:
        if audience not in self._signed:
            self._signed[audience] = dict(self._key.sign({
                "sub": self._subject, "aud": audience,
                "exp": int(time.time()) + VAPID_HOURS * 3600}))
        return dict(self._signed[audience])


def _post(row: Row[Any], settings: PushSettings, vapid: _Vapid,
          session: requests.Session) -> int | str:
    """The push service's status, or what went wrong before it answered."""
    endpoint = urlsplit(row.endpoint)
    try:
        answer = WebPusher({"endpoint": row.endpoint,
                            "keys": {"p256dh": row.p256dh, "auth": row.auth}},
                           requests_session=session).send(
            row.payload, headers=vapid.headers(f"{endpoint.scheme}://{endpoint.netloc}"),
            ttl=TTL_SECONDS, content_encoding="aes128gcm", timeout=settings.timeout_seconds)
        if not isinstance(answer, requests.Response):
            return "no answer"
        return int(answer.status_code)
    except (WebPushException, requests.RequestException, OSError, ValueError) as exc:
        return f"{type(exc).__name__}: {str(exc)[:200]}"


def _record(engine: Engine, outcomes: list[tuple[Row[Any], int | str]], now_us: int,
            settings: PushSettings, rng: random.Random | None) -> list[str]:
    results = []
    with writing(engine) as conn:
        for row, outcome in outcomes:
            results.append(_outcome(conn, row, outcome, now_us, settings, rng))
    for (row, outcome), result in zip(outcomes, results, strict=True):
        log(logger, f"push.{result}", logging.INFO if result == "sent" else logging.WARNING,
            id=row.id, subscription=row.subscription_id, attempts=row.attempts + 1,
            outcome=outcome if isinstance(outcome, int) else str(outcome)[:200])
    return results


def _outcome(conn: Connection, row: Row[Any], outcome: int | str, now_us: int,
             settings: PushSettings, rng: random.Random | None) -> str:
    attempts = row.attempts + 1
    where = db.push_outbox.c.id == row.id
    if outcome in TAKEN:
        conn.execute(db.push_outbox.update().where(where).values(
            status=PushStatus.SENT, attempts=attempts, sent_at_us=now_us,
            claimed_until_us=None, last_error=""))
        return "sent"
    if outcome in GONE:
        conn.execute(db.push_outbox.update().where(where).values(
            status=PushStatus.DROPPED, attempts=attempts, claimed_until_us=None,
            last_error=f"push service answered {outcome}"))
        drop(conn, int(row.subscription_id), DropReason.GONE, now_us)
        return "dropped"
    error = f"push service answered {outcome}" if isinstance(outcome, int) else outcome
    given_up = attempts >= settings.max_attempts
    conn.execute(db.push_outbox.update().where(where).values(
        status=PushStatus.FAILED if given_up else PushStatus.PENDING,
        attempts=attempts, claimed_until_us=None, last_error=error[:500],
        next_attempt_at_us=now_us + retry_delay_us(attempts, rng)))
    return "failed" if given_up else "retrying"


def pending_count(engine: Engine) -> int:
    with engine.connect() as conn:
        return len(conn.execute(select(db.push_outbox.c.id)
                                .where(db.push_outbox.c.status == PushStatus.PENDING)).all())
