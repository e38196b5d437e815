"""Reports from a PostgreSQL streaming replica, never a month the primary has moved past.

``database_read_url`` (server/config.py) names a hot standby of the primary. Reports — the
statement, табель and child pages, exports, ``qatys funding statement`` and the month job's
computation — read through :meth:`Reads.report`; everything that writes (ingest, approvals,
sessions, jobs, the outbox) and everything whose answer must be this instant's (the month
overview's progress, the fleet) keeps the primary engine.

The consistency rule (docs/deployment.md, docs/finance.md): when a report is asked for, the
primary's WAL position is read (``pg_current_wal_lsn()``, one cheap query); the report reads
the replica only once the replica has replayed up to that position
(``pg_last_wal_replay_lsn()``), waiting for it at most ``replica_wait_ms``, and else reads the
primary. Every transaction the primary had committed when the report was asked for — every
batch of check-ins it acknowledged, every absence and closure — ends before that position
(a commit is flushed before it is acknowledged: PostgreSQL's default ``synchronous_commit =
on``, which acknowledgements need anyway), so the replica then holds all of them; each batch
was one transaction, so no snapshot holds part of one. The report reads one snapshot
(REPEATABLE READ) so its queries agree with each other. The position is the whole primary's,
not one kindergarten's: stricter than the rule needs, and it needs no write on the ingest path.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError

from qatys.logs import log
from server.storage.db import make_engine

logger = logging.getLogger("qatys.replica")

POLL_SECONDS = 0.01
"""How often a report waiting for the replica asks its replay position again."""
PROBE_TIMEOUT_MS = 2000
"""The longest the health answer's probes (and the replica's position) may take."""


class ReadSource(StrEnum):
    """Where a report was read: the page says which (``#read-from``, ``data-source``)."""
    PRIMARY = "primary"
    REPLICA = "replica"


class Reachability(StrEnum):
    REACHABLE = "reachable"
    UNREACHABLE = "unreachable"


@dataclass(frozen=True)
class ReplicaHealth:
    reachability: Reachability
    lag_seconds: float | None
    """0 when the replica has replayed the primary's position, else the age of the last
    transaction it replayed; None when unknown (unreachable, nothing replayed yet)."""
    behind_bytes: int | None
    """WAL bytes the replica has still to replay (never negative)."""


def parse_lsn(value: str) -> int:
    """A PostgreSQL ``pg_lsn`` ("16/B374D848") as a number of bytes."""
    high, low = value.split("/")
    return (int(high, 16) << 32) | int(low, 16)


def primary_lsn(conn: Connection) -> int:
    return parse_lsn(str(conn.exec_driver_sql("SELECT pg_current_wal_lsn()::text").scalar_one()))


def replay_lsn(conn: Connection) -> int | None:
    """The replica's replay position; None when it is not a standby or replayed nothing."""
    value = conn.exec_driver_sql("SELECT pg_last_wal_replay_lsn()::text").scalar_one()
    return parse_lsn(str(value)) if value is not None else None


def _short(conn: Connection, timeout_ms: int) -> None:
    """Bound this transaction's statements (PostgreSQL; SQLite answers at once anyway)."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"SET LOCAL statement_timeout = {int(timeout_ms)}")


@dataclass
class Reads:
    """The engines a process reads through: the primary, and the replica when configured."""
    primary: Engine
    replica: Engine | None = None
    wait_ms: int = 500

    @classmethod
    def from_config(cls, primary: Engine, read_url: str, wait_ms: int) -> Reads:
        replica = make_engine(read_url, connect_timeout=2) if read_url else None
        return cls(primary, replica, wait_ms)

    def dispose(self) -> None:
        if self.replica is not None:
            self.replica.dispose()

    def target(self) -> int | None:
        """The primary's WAL position now (None without a replica: nothing to compare)."""
        if self.replica is None:
            return None
        with self.primary.connect() as conn:
            return primary_lsn(conn)

    def caught_up_engine(self, target: int | None) -> tuple[Engine, ReadSource]:
        """The replica when it has replayed ``target`` within ``wait_ms``, else the primary."""
        if self.replica is None or target is None:
            return self.primary, ReadSource.PRIMARY
        deadline = time.monotonic() + self.wait_ms / 1000
        replayed: int | None = None
        try:
            with self.replica.connect() as conn:
                while True:
                    with conn.begin():
                        _short(conn, PROBE_TIMEOUT_MS)
                        replayed = replay_lsn(conn)
                    if replayed is not None and replayed >= target:
                        return self.replica, ReadSource.REPLICA
                    if time.monotonic() >= deadline:
                        break
                    time.sleep(POLL_SECONDS)
        except DBAPIError as exc:
            log(logger, "replica.unreachable", logging.WARNING, error=type(exc.orig).__name__)
            return self.primary, ReadSource.PRIMARY
        log(logger, "replica.behind", logging.INFO, behind_bytes=target - (replayed or 0),
            waited_ms=self.wait_ms)
        return self.primary, ReadSource.PRIMARY

    @contextmanager
    def report(self) -> Iterator[tuple[Connection, ReadSource]]:
        """A connection for one report and where it reads: one snapshot of the replica once
        it holds everything the primary had committed on entry, else the primary."""
        engine, source = self.caught_up_engine(self.target())
        if source is ReadSource.PRIMARY:
            with engine.connect() as conn:
                yield conn, source
            return
        with engine.connect() as conn:
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                yield conn, source

    def probe_primary(self) -> tuple[bool, int | None]:
        """Whether the primary answers ``SELECT 1`` within :data:`PROBE_TIMEOUT_MS`, and (with
        a replica) its WAL position, in the same transaction."""
        try:
            with self.primary.connect() as conn, conn.begin():
                _short(conn, PROBE_TIMEOUT_MS)
                conn.execute(text("SELECT 1")).scalar_one()
                return True, primary_lsn(conn) if self.replica is not None else None
        except DBAPIError:
            return False, None

    def replica_health(self, target: int | None) -> ReplicaHealth | None:
        """How far the replica is behind the primary's position ``target``; None without a
        replica."""
        if self.replica is None:
            return None
        try:
            with self.replica.connect() as conn, conn.begin():
                _short(conn, PROBE_TIMEOUT_MS)
                row = conn.exec_driver_sql(
                    "SELECT pg_last_wal_replay_lsn()::text, "
                    "EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())").one()
        except DBAPIError:
            return ReplicaHealth(Reachability.UNREACHABLE, None, None)
        replayed = parse_lsn(row[0]) if row[0] is not None else None
        if target is None or replayed is None:
            return ReplicaHealth(Reachability.REACHABLE, None, None)
        behind = max(0, target - replayed)
        age = float(row[1]) if row[1] is not None else None
        return ReplicaHealth(Reachability.REACHABLE,
                             0.0 if behind == 0 else (round(max(0.0, age), 3)
                                                      if age is not None else None),
                             behind)
