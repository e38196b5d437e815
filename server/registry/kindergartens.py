"""Kindergartens: the unit that owns children, terminals and (later) card keys."""

from __future__ import annotations

import re

from sqlalchemy import Connection, select

from provisioning.errors import InvalidInput, NotFound
from qatys.sentences import Sentence
from qatys.timeutil import now_us
from server.storage import db

_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")
_CLOCK = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")


def add_kindergarten(conn: Connection, code: str, name: str, six_day: bool,
                     district: str = "") -> None:
    if not _CODE.match(code):
        raise InvalidInput(Sentence("kindergarten code must be 1-32 letters, digits, '_' or '-'"))
    if not name.strip() or len(name) > 200:
        raise InvalidInput(Sentence("kindergarten name must be 1-200 characters"))
    if len(district) > 100:
        raise InvalidInput(Sentence("district must be at most 100 characters"))
    if conn.execute(select(db.kindergartens.c.code)
                    .where(db.kindergartens.c.code == code)).first():
        raise InvalidInput(Sentence("kindergarten %(code)s already exists", code=code))
    conn.execute(db.kindergartens.insert().values(
        code=code, name=name.strip(), six_day=six_day, created_at_us=now_us(),
        district=district.strip()))


def require_kindergarten(conn: Connection, code: str) -> str:
    """The kindergarten's name; raises :class:`NotFound` when there is none with ``code``."""
    row = conn.execute(select(db.kindergartens.c.name)
                       .where(db.kindergartens.c.code == code)).first()
    if row is None:
        raise NotFound(Sentence("kindergarten %(code)s does not exist", code=code))
    return str(row.name)


def set_closing_time(conn: Connection, code: str, closes_at: str) -> None:
    """When the kindergarten's day ends (local ``HH:MM``): from then, the office lists the
    children still there. A setting, not a record: the latest one holds."""
    require_kindergarten(conn, code)
    if not _CLOCK.match(closes_at):
        raise InvalidInput(Sentence("the closing time must be HH:MM (00:00-23:59), not "
                                    "%(closes_at)s", closes_at=closes_at[:20]))
    conn.execute(db.kindergartens.update().where(db.kindergartens.c.code == code)
                 .values(closes_at=closes_at))
