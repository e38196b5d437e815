"""The roster in the office: a director's upload (the same rules as ``qatys roster import``:
UTF-8 with or without a BOM, Excel's Windows-1251, ``;`` separators, every bad line named,
nothing imported on any error), the history of imports with what each changed, and the
children on the roster now, by group."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import Connection, Engine, select

from qatys.timeutil import local_date
from server.queue_core.roster_pull import SOURCE as QUEUE_CORE_SOURCE
from server.registry.roster import ImportSummary, import_roster
from server.staff import audit
from server.staff.accounts import User
from server.storage import db
from server.storage.db import writing

HISTORY_LINES = 50


@dataclass(frozen=True)
class RosterImport:
    at_us: int
    source: str
    rows: int
    added: int | None
    updated: int | None
    unchanged: int | None
    """``None``: an import before the office counted what it changed."""

    @property
    def from_queue_core(self) -> bool:
        return self.source == QUEUE_CORE_SOURCE


@dataclass(frozen=True)
class RosterChild:
    child_id: str
    last_name: str
    first_name: str
    enrolled_on: str
    withdrawn_on: str | None
    enrolled: bool
    """On the roster today (withdrawn children stay listed, marked)."""


def upload(engine: Engine, who: User, kindergarten: str, data: bytes, file_name: str,
           now_us: int) -> ImportSummary:
    """Import an uploaded roster file and its audit line in one transaction; a refusal
    (``InvalidInput`` naming every bad line) writes neither."""
    source = (file_name.replace("\\", "/").rsplit("/", 1)[-1] or "upload")[:200]
    with writing(engine) as conn:
        summary = import_roster(conn, kindergarten, data, source, local_date(now_us), now_us)
        audit.record(conn, who, audit.Action.ROSTER_IMPORTED, kindergarten, source, now_us,
                     added=summary.added, updated=summary.updated,
                     unchanged=summary.unchanged)
    return summary


def history(conn: Connection, kindergarten: str, limit: int = HISTORY_LINES
            ) -> list[RosterImport]:
    """The kindergarten's imports, newest first (the CLI's, the office's, the queue core's)."""
    query = (select(db.roster_imports).where(db.roster_imports.c.kindergarten == kindergarten)
             .order_by(db.roster_imports.c.id.desc()).limit(limit))
    return [RosterImport(r.imported_at_us, r.source, r.rows, r.added, r.updated, r.unchanged)
            for r in conn.execute(query)]


def last_from_queue_core(imports: list[RosterImport]) -> RosterImport | None:
    return next((i for i in imports if i.from_queue_core), None)


def children_by_group(conn: Connection, kindergarten: str, today: date
                      ) -> dict[str, list[RosterChild]]:
    """Every child on the kindergarten's roster, by group (groups and names sorted)."""
    query = (select(db.children).where(db.children.c.kindergarten == kindergarten)
             .order_by(db.children.c.group_name, db.children.c.last_name,
                       db.children.c.first_name, db.children.c.child_id))
    groups: dict[str, list[RosterChild]] = {}
    for r in conn.execute(query):
        enrolled = r.enrolled_on <= today.isoformat() and (
            r.withdrawn_on is None or r.withdrawn_on > today.isoformat())
        groups.setdefault(r.group_name, []).append(RosterChild(
            r.child_id, r.last_name, r.first_name, r.enrolled_on, r.withdrawn_on, enrolled))
    return groups


def groups_of(conn: Connection, kindergarten: str) -> list[str]:
    """The groups on the kindergarten's roster (a teacher's account chooses among them)."""
    return list(conn.execute(select(db.children.c.group_name).distinct()
                             .where(db.children.c.kindergarten == kindergarten)
                             .order_by(db.children.c.group_name)).scalars())
