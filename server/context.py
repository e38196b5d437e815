"""What every request handler needs, built once per process by the app factory."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from flask import current_app
from sqlalchemy import Engine

from server.config import ServerConfig
from server.keys import ServerKeys
from server.storage.replica import Reads

if TYPE_CHECKING:  # built by the app factory; features import this module, not the reverse
    from server.sync.ingest import Ingestor
    from server.web.rate_limits import Guard, Limits


@dataclass
class ServerContext:
    config: ServerConfig
    engine: Engine
    keys: ServerKeys
    clock: Callable[[], int]
    ingestor: Ingestor
    session_secret: bytes
    """Keys the HMAC of the pages' CSRF tokens (server/web/sessions.py)."""
    guard: Guard
    limits: Limits
    reads: Reads | None = None
    """Where reports read (server/storage/replica.py); None: the primary ``engine``."""

    @property
    def report_reads(self) -> Reads:
        return self.reads if self.reads is not None else Reads(self.engine)


def ctx() -> ServerContext:
    context = current_app.extensions["qatys"]
    assert isinstance(context, ServerContext)
    return context
