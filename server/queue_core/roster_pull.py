"""Pulling rosters from the queue core into the server, with the CSV import's rules.

The queue core is the source of truth for who is enrolled where. A roster that fails any
rule imports nothing (all or none, every problem named); an unchanged roster writes nothing.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import Engine, select

from provisioning.errors import InvalidInput, NotFound, ProvisioningError
from provisioning.roster import parse_records
from qatys.logs import log
from qatys.sentences import Sentence
from qatys.timeutil import local_date, now_us
from server.errors import QueueCoreError
from server.jobs.queue import take_slot
from server.queue_core.client import QueueCoreClient
from server.registry.roster import import_children
from server.storage import db
from server.storage.db import writing

logger = logging.getLogger("qatys.roster_pull")
SOURCE = "queue-core"


class PullOutcome(StrEnum):
    """The ``result`` of one kindergarten in `qatys queue-core pull-roster` (docs/queue-core.md)."""
    IMPORTED = "imported"
    UNCHANGED = "unchanged"
    """Byte for byte the roster imported last: nothing written."""
    REFUSED = "refused"
    """A rule failed: nothing imported, the problems named."""
    FAILED = "failed"
    """The core did not answer, or refused the request."""


@dataclass(frozen=True)
class PullResult:
    kindergarten: str
    rows: int
    added: int
    updated: int
    unchanged: int
    stored: bool
    """False when the roster was byte for byte the last one imported."""


def pull_roster(engine: Engine, client: QueueCoreClient, kindergarten: str) -> PullResult:
    """Fetch and import one kindergarten's roster; raises QueueCoreError or InvalidInput."""
    with engine.connect() as conn:
        if conn.execute(select(db.kindergartens.c.code)
                        .where(db.kindergartens.c.code == kindergarten)).first() is None:
            raise NotFound(Sentence("kindergarten %(kindergarten)s does not exist",
                                    kindergarten=kindergarten))
    document, raw = client.roster(kindergarten)
    named = document.get("kindergarten")
    if named not in (None, kindergarten):
        raise InvalidInput(Sentence("the queue core answered with the roster of '%(named)s', not "
                                    '%(kindergarten)s; nothing imported', named=named,
                                    kindergarten=kindergarten))
    children = parse_records(document, local_date(now_us()))
    digest = hashlib.sha256(raw).hexdigest()
    with writing(engine) as conn:
        last = conn.execute(select(db.roster_imports.c.sha256)
                            .where(db.roster_imports.c.kindergarten == kindergarten)
                            .order_by(db.roster_imports.c.id.desc()).limit(1)).scalar()
        if last == digest:
            result = PullResult(kindergarten, len(children), 0, 0, len(children), False)
        else:
            summary = import_children(conn, kindergarten, children, digest, SOURCE)
            result = PullResult(kindergarten, len(children), summary.added, summary.updated,
                                summary.unchanged, True)
    log(logger, "roster.pulled", kindergarten=kindergarten, rows=result.rows,
        added=result.added, updated=result.updated, stored=result.stored)
    return result


ROSTER_SLOT = "queue_core.roster_pull"
"""The schedules row (server/jobs/queue.py) that makes one pass of all run once per period."""


def pull_rosters_when_due(engine: Engine, client: QueueCoreClient, worker: str, now: int,
                          every_minutes: int) -> bool:
    """Every roster, when the shared slot is due and this process is the one that takes it:
    any number of workers and `qatys queue-core run` copies make one pass per period."""
    if not take_slot(engine, ROSTER_SLOT, every_minutes * 60 * 1_000_000, worker, now):
        return False
    pull_every_roster(engine, client)
    return True


def pull_every_roster(engine: Engine, client: QueueCoreClient) -> None:
    """Every kindergarten's roster, one after another (the schedule's pass): a kindergarten
    whose pull fails is logged and the others go on."""
    with engine.connect() as conn:
        codes = [str(c) for c in conn.execute(select(db.kindergartens.c.code)
                                              .order_by(db.kindergartens.c.code)).scalars()]
    for code in codes:
        try:
            pull_roster(engine, client, code)
        except (QueueCoreError, ProvisioningError) as exc:
            log(logger, "roster.failed", logging.WARNING, kindergarten=code,
                error=str(exc)[:200])
