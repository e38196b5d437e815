"""What every request handler needs, built once per process by the app factory."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import Engine

from server.config import ServerConfig
from server.ingest import Ingestor
from server.keys import ServerKeys
from server.rate_limits import Guard, Limits


@dataclass
class ServerContext:
    config: ServerConfig
    engine: Engine
    keys: ServerKeys
    clock: Callable[[], int]
    ingestor: Ingestor
    session_secret: bytes
    """Keys the HMAC of the pages' CSRF tokens (server/web_sessions.py)."""
    guard: Guard
    limits: Limits


def ctx() -> ServerContext:
    context = current_app.extensions["qatys"]
    assert isinstance(context, ServerContext)
    return context
