"""Rate limits of the sign-in paths, kept in the database so that every gunicorn worker and
every server node on the same database counts together (SQLite or PostgreSQL).

The ``limits`` library (the one under Flask-Limiter) gives the notation ("10 per 15 minutes")
and the fixed-window strategy; :class:`DatabaseStorage` is its storage over our tables. A
guarded path first *tests* its limits (a read, no lock), refuses with :class:`RateLimited`
when one is spent, does its work, and *counts* a failed attempt afterwards (one short write):
a flood that is already refused costs reads only, never the write lock that check-ins need.
Counting after the work lets a burst of concurrent attempts overshoot a limit by at most the
number of requests in flight (gunicorn workers × threads).

No HTTP here: the pages map :class:`RateLimited` to 429 with ``Retry-After``.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import limits
from limits.storage import Storage
from limits.strategies import FixedWindowRateLimiter
from sqlalchemy import Engine, case, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from server.config import RATE_LIMITS, ServerConfig
from server.errors import RequestError
from server.storage import db

PURGE_EVERY_S = 300


LOG_EVERY = 1000
"""A spent window's refusals are logged the first time and then every this many, with their
count: a flood must not fill the log."""


class RateLimited(RequestError):
    """Too many attempts: ``retry_after`` seconds until the spent window ends; ``repeat`` is
    how many refusals of this window this process answered before."""

    def __init__(self, rule: str, retry_after: int, repeat: int = 0) -> None:
        super().__init__("rate_limited", "too many attempts; try again later",
                         retry_after=retry_after, limit=rule)
        self.rule = rule
        self.retry_after = retry_after
        self.repeat = repeat

    @property
    def worth_logging(self) -> bool:
        return self.repeat % LOG_EVERY == 0


class DatabaseStorage(Storage):
    """A ``limits`` storage over the ``rate_limits`` table: fixed windows, one row a key.

    ``incr`` is one upsert (``INSERT … ON CONFLICT DO UPDATE … RETURNING``), atomic on
    PostgreSQL and inside SQLite's write lock, so concurrent hits are never lost. Keys are kept
    as SHA-256 digests: the table holds no address, username or code."""

    STORAGE_SCHEME = ["qatys+db"]  # noqa: RUF012 - the type limits declares

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False,
                 **options: Any) -> None:
        super().__init__(uri, wrap_exceptions=wrap_exceptions)
        engine = options.get("engine")
        assert isinstance(engine, Engine), "DatabaseStorage needs engine=<the server's engine>"
        self.engine = engine
        self.clock: Callable[[], float] = options.get("clock") or time.time
        self._last_purge = 0.0

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return SQLAlchemyError

    def _now_us(self) -> int:
        return int(self.clock() * 1_000_000)

    @staticmethod
    def _digest(key: str) -> bytes:
        return hashlib.sha256(key.encode("utf-8")).digest()

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        now = self._now_us()
        table = db.rate_limits
        dialect = sqlite if self.engine.dialect.name == "sqlite" else postgresql
        expired = table.c.window_ends_at_us <= now
        statement = dialect.insert(table).values(
            key_digest=self._digest(key), hits=amount, window_ends_at_us=now + expiry * 1_000_000)
        statement = statement.on_conflict_do_update(
            index_elements=[table.c.key_digest],
            set_={"hits": case((expired, amount), else_=table.c.hits + amount),
                  "window_ends_at_us": case((expired, now + expiry * 1_000_000),
                                            else_=table.c.window_ends_at_us)},
        ).returning(table.c.hits)
        with db.writing(self.engine) as conn:
            hits = int(conn.execute(statement).scalar_one())
            if now - self._last_purge * 1_000_000 > PURGE_EVERY_S * 1_000_000:
                self._last_purge = now / 1_000_000
                conn.execute(table.delete().where(table.c.window_ends_at_us < now))
        return hits

    def _row(self, key: str) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(select(db.rate_limits).where(
                db.rate_limits.c.key_digest == self._digest(key))).first()

    def get(self, key: str) -> int:
        row = self._row(key)
        if row is None or row.window_ends_at_us <= self._now_us():
            return 0
        return int(row.hits)

    def get_expiry(self, key: str) -> float:
        row = self._row(key)
        if row is None or row.window_ends_at_us <= self._now_us():
            return self.clock()
        return float(row.window_ends_at_us) / 1_000_000

    def check(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.execute(select(func.count()).select_from(db.rate_limits))
        except SQLAlchemyError:
            return False
        return True

    def reset(self) -> int | None:
        with db.writing(self.engine) as conn:
            return int(conn.execute(db.rate_limits.delete()).rowcount)

    def clear(self, key: str) -> None:
        with db.writing(self.engine) as conn:
            conn.execute(db.rate_limits.delete().where(
                db.rate_limits.c.key_digest == self._digest(key)))


@dataclass(frozen=True)
class Rule:
    """One limit of one path, by one thing (an address, a username, a key id, a code)."""
    name: str
    """The setting's name, e.g. ``limit_finance_login_address``: also what the log names."""
    item: limits.RateLimitItem


class Guard:
    """The limits of one server process, over the shared storage."""

    def __init__(self, engine: Engine, clock: Callable[[], float] = time.time) -> None:
        self.storage = DatabaseStorage(engine=engine, clock=clock)
        self.strategy = FixedWindowRateLimiter(self.storage)
        self.clock = clock
        self._spent: dict[tuple[str, str], tuple[float, int]] = {}
        """Windows this process saw spent (when they end, refusals so far), until they end: a
        fixed window stays spent to its end, so a flood that is refused already is refused
        again without a database read."""

    def check(self, *spent: tuple[Rule, str]) -> None:
        """Refuse when any of the limits is spent; pairs with an empty key are skipped."""
        now = self.clock()
        for rule, key in spent:
            if not key:
                continue
            self._refuse_known(rule, key, now)
            if not self.strategy.test(rule.item, rule.name, key):
                self._refuse(rule, key, now)

    def count(self, *spent: tuple[Rule, str]) -> None:
        """Count one failed attempt against each limit."""
        for rule, key in spent:
            if key:
                self.strategy.hit(rule.item, rule.name, key)

    def take(self, rule: Rule, key: str) -> None:
        """Count this attempt, whatever comes of it, and refuse it when over the limit."""
        now = self.clock()
        self._refuse_known(rule, key, now)
        if not self.strategy.hit(rule.item, rule.name, key):
            self._refuse(rule, key, now)

    def _refuse_known(self, rule: Rule, key: str, now: float) -> None:
        known = self._spent.get((rule.name, key))
        if known is not None and known[0] > now:
            self._spent[(rule.name, key)] = (known[0], known[1] + 1)
            raise RateLimited(rule.name, max(1, math.ceil(known[0] - now)), known[1])

    def _refuse(self, rule: Rule, key: str, now: float) -> None:
        ends = self.storage.get_expiry(rule.item.key_for(rule.name, key))
        if len(self._spent) > 10_000:  # forget the windows that ended
            self._spent = {k: v for k, v in self._spent.items() if v[0] > now}
        self._spent[(rule.name, key)] = (ends, 1)
        raise RateLimited(rule.name, max(1, math.ceil(ends - now)))


def rule(name: str, text: str) -> Rule:
    return Rule(name, limits.parse(text))


@dataclass(frozen=True)
class Limits:
    """The guarded paths' limits, from the settings of the same names (server/config.py)."""
    finance_login_address: Rule
    finance_login_account: Rule
    parents_claim_address: Rule
    parents_claim_code: Rule
    parents_challenge_address: Rule
    parents_login_address: Rule
    parents_login_key: Rule

    @classmethod
    def from_config(cls, config: ServerConfig) -> Limits:
        return cls(**{name.removeprefix("limit_"): rule(name, getattr(config, name))
                      for name in RATE_LIMITS})
