"""Storing a checked roster: the children of a kindergarten, all rows or none, with where they
came from and what the import changed (the file's rules are :mod:`provisioning.roster`'s)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date

from sqlalchemy import Connection, select

from provisioning.errors import InvalidInput, NotFound
from provisioning.roster import Child, decode_roster, parse_csv
from qatys.sentences import Sentence
from qatys.timeutil import now_us
from server.storage import db


@dataclass(frozen=True)
class ImportSummary:
    kindergarten: str
    added: int
    updated: int
    unchanged: int


def import_roster(conn: Connection, kindergarten: str, data: bytes, source: str,
                  today: date, at_us: int | None = None) -> ImportSummary:
    """Check and store a roster file's bytes in the caller's transaction; all rows or none."""
    children = parse_csv(decode_roster(data), today)
    return import_children(conn, kindergarten, children, hashlib.sha256(data).hexdigest(),
                           source, at_us)


def import_children(conn: Connection, kindergarten: str, children: list[Child], sha256: str,
                    source: str, at_us: int | None = None) -> ImportSummary:
    """Store checked children in the caller's transaction, recording where they came from
    and what the import changed (``roster_imports.added/updated/unchanged``)."""
    if conn.execute(select(db.kindergartens.c.code)
                    .where(db.kindergartens.c.code == kindergarten)).first() is None:
        raise NotFound(Sentence("kindergarten %(kindergarten)s does not exist",
                                kindergarten=kindergarten))
    ids = [c.child_id for c in children]
    existing = {r.child_id: r for r in conn.execute(
        select(db.children).where(db.children.c.child_id.in_(ids)))}
    foreign: list[Sentence | str] = [
        Sentence("child_id %(child_id)s belongs to kindergarten %(kindergarten)s", child_id=cid,
                 kindergarten=r.kindergarten)
        for cid, r in existing.items() if r.kindergarten != kindergarten]
    if foreign:
        raise InvalidInput(Sentence("some children belong to another kindergarten; nothing "
                                    "imported"),
                           foreign)
    inserted = conn.execute(db.roster_imports.insert().values(
        kindergarten=kindergarten, imported_at_us=now_us() if at_us is None else at_us,
        rows=len(children),
        sha256=sha256, source=source[:200],
    )).inserted_primary_key
    assert inserted is not None
    import_id = inserted[0]
    added = updated = unchanged = 0
    for child in children:
        values = _values(child)
        old = existing.get(child.child_id)
        if old is None:
            conn.execute(db.children.insert().values(
                child_id=child.child_id, kindergarten=kindergarten, roster_import=import_id,
                **values))
            added += 1
        elif any(getattr(old, k) != v for k, v in values.items()):
            conn.execute(db.children.update().where(db.children.c.child_id == child.child_id)
                         .values(roster_import=import_id, **values))
            updated += 1
        else:
            unchanged += 1
    conn.execute(db.roster_imports.update().where(db.roster_imports.c.id == import_id)
                 .values(added=added, updated=updated, unchanged=unchanged))
    return ImportSummary(kindergarten, added, updated, unchanged)


def _values(child: Child) -> dict[str, str | None]:
    return {
        "iin": child.iin, "last_name": child.last_name, "first_name": child.first_name,
        "birth_date": child.birth_date.isoformat(), "group_name": child.group,
        "funding_category": child.funding_category,
        "enrolled_on": child.enrolled_on.isoformat(),
        "withdrawn_on": child.withdrawn_on.isoformat() if child.withdrawn_on else None,
    }
