"""Alembic's environment: runs on the connection server/storage/migrations.py hands it (inside
the server's own write transaction), against the server's tables."""

from __future__ import annotations

from typing import Any

from alembic import context

from server.storage import db


def _unquoted(default: str | None) -> str | None:
    """A default's value as written in SQL: ``('')`` (SQLite), ``''::character varying``
    (PostgreSQL) and ``''`` are all the empty text."""
    if default is None:
        return None
    text = default.strip().split("::", 1)[0]
    while len(text) >= 2 and (text[0], text[-1]) in (("(", ")"), ("'", "'"), ('"', '"')):
        text = text[1:-1]
    return text


def _defaults_differ(_context: Any, _inspected: Any, _declared: Any, inspected: str | None,
                     _declared_default: Any, rendered: str | None) -> bool:
    """SQLite reflects a default as the SQL text it was written with ('' for ''): compare the
    values, not their quoting."""
    return _unquoted(inspected) != _unquoted(rendered)


connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=db.metadata, compare_type=True,
                  compare_server_default=_defaults_differ)
with context.begin_transaction():
    context.run_migrations()
