"""The roster: which children belong to a kindergarten, as sent by the queue core.

Parsing is pure and all-or-nothing: every bad line is reported, and a file
with any bad line imports nothing.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from dataclasses import dataclass
from datetime import date

from sqlalchemy import Connection, select

from provisioning import iin as iin_rules
from provisioning.errors import InvalidInput, NotFound
from qatys.sentences import Sentence, plural_sentence
from qatys.timeutil import now_us
from server.storage import db

COLUMNS = ("child_id", "iin", "last_name", "first_name", "birth_date", "group",
           "funding_category", "enrolled_on", "withdrawn_on")
_CHILD_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
MAX_ROWS = 20_000


@dataclass(frozen=True)
class Child:
    child_id: str
    iin: str
    last_name: str
    first_name: str
    birth_date: date
    group: str
    funding_category: str
    enrolled_on: date
    withdrawn_on: date | None


@dataclass(frozen=True)
class ImportSummary:
    kindergarten: str
    added: int
    updated: int
    unchanged: int


def parse_csv(text: str) -> list[Child]:
    """Children from roster CSV text; raises :class:`InvalidInput` naming every bad line."""
    text = text.removeprefix("\ufeff")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = tuple(reader.fieldnames or ())
    if set(header) != set(COLUMNS) or len(header) != len(COLUMNS):
        raise InvalidInput(Sentence("line 1: the header must be %(columns)s",
                                    columns=",".join(COLUMNS)),
                           [Sentence("line 1: header is %(header)s", header=",".join(header))])
    rows: list[tuple[Sentence | str, dict[str, str]]] = []
    for row in reader:
        if len(rows) >= MAX_ROWS:
            raise InvalidInput(Sentence("the roster has more than %(max_rows)s rows",
                                        max_rows=MAX_ROWS))
        label = Sentence("line %(line)s", line=reader.line_num)
        if None in row or any(v is None for v in row.values()):
            rows.append((label, {}))
            continue
        rows.append((label, {k: v.strip() for k, v in row.items() if k}))
    return _parse_all(rows)


def parse_records(payload: object) -> list[Child]:
    """Children from a JSON roster ``{"children": [{<the CSV columns>}, …]}`` (the queue core's
    answer); the same rules and all-or-nothing as the CSV, problems named ``children[i]``."""
    items = payload.get("children") if isinstance(payload, dict) else None
    if not isinstance(items, list):
        raise InvalidInput(Sentence('the roster must be a JSON object with a "children" list'))
    if len(items) > MAX_ROWS:
        raise InvalidInput(Sentence("the roster has more than %(max_rows)s rows",
                                    max_rows=MAX_ROWS))
    rows: list[tuple[Sentence | str, dict[str, str]]] = []
    for i, item in enumerate(items):
        label = f"children[{i}]"
        if (not isinstance(item, dict) or set(item) != set(COLUMNS)
                or not all(isinstance(v, str) or (k == "withdrawn_on" and v is None)
                           for k, v in item.items())):
            rows.append((label, {}))
            continue
        rows.append((label, {k: (v or "").strip() for k, v in item.items()}))
    return _parse_all(rows)


def _parse_all(rows: list[tuple[Sentence | str, dict[str, str]]]) -> list[Child]:
    """Each row's problems are named by its label: ``line 3`` of a CSV, ``children[2]`` of
    the queue core's JSON (a place in the document, shown as it is)."""
    children: list[Child] = []
    problems: list[Sentence | str] = []
    seen_ids: dict[str, Sentence | str] = {}
    seen_iins: dict[str, Sentence | str] = {}
    for label, row in rows:
        if not row:
            problems.append(Sentence("%(where)s: wrong fields (expected %(columns)s)", where=label,
                                     columns=", ".join(COLUMNS)))
            continue
        errors, child = _parse_row(row)
        if child is not None:
            if child.child_id in seen_ids:
                errors.append(Sentence("duplicate child_id (first at %(where)s)",
                                       where=seen_ids[child.child_id]))
            if child.iin in seen_iins:
                errors.append(Sentence("duplicate iin (first at %(where)s)",
                                       where=seen_iins[child.iin]))
            seen_ids.setdefault(child.child_id, label)
            seen_iins.setdefault(child.iin, label)
        if errors:
            problems.extend(Sentence("%(where)s: %(problem)s", where=label, problem=e)
                            for e in errors)
        elif child is not None:
            children.append(child)
    if problems:
        raise InvalidInput(plural_sentence("%(count)s problem in the roster; nothing imported",
                                           "%(count)s problems in the roster; nothing imported",
                                           len(problems)), problems)
    if not children:
        raise InvalidInput(Sentence("the roster has no rows"))
    return children


def _parse_row(row: dict[str, str]) -> tuple[list[Sentence], Child | None]:
    errors: list[Sentence] = []
    if not _CHILD_ID.match(row["child_id"]):
        errors.append(Sentence("child_id must be 1-64 letters, digits, '.', '_' or '-'"))
    if not iin_rules.is_valid(row["iin"]):
        errors.append(Sentence("iin is not a valid 12-digit IIN (bad checksum or format)"))
    for name in ("last_name", "first_name", "group", "funding_category"):
        if not row[name] or len(row[name]) > 200:
            errors.append(Sentence("%(field)s must be 1-200 characters", field=name))
    dates: dict[str, date | None] = {}
    for name in ("birth_date", "enrolled_on", "withdrawn_on"):
        value = row[name]
        if name == "withdrawn_on" and not value:
            dates[name] = None
            continue
        try:
            dates[name] = date.fromisoformat(value)
            if len(value) != 10:
                raise ValueError(value)
        except ValueError:
            errors.append(Sentence("%(field)s '%(value)s' is not a date (YYYY-MM-DD)", field=name,
                                   value=value))
    enrolled, withdrawn = dates.get("enrolled_on"), dates.get("withdrawn_on")
    if enrolled and withdrawn and withdrawn < enrolled:
        errors.append(Sentence("withdrawn_on is before enrolled_on"))
    if errors:
        return errors, None
    born, enrolled_on = dates["birth_date"], dates["enrolled_on"]
    assert born is not None
    assert enrolled_on is not None
    return [], Child(row["child_id"], row["iin"], row["last_name"], row["first_name"], born,
                     row["group"], row["funding_category"], enrolled_on, withdrawn)


def import_roster(conn: Connection, kindergarten: str, text: str, source: str) -> ImportSummary:
    """Check and store a roster in the caller's transaction; all rows or none."""
    return import_children(conn, kindergarten, parse_csv(text),
                           hashlib.sha256(text.encode("utf-8")).hexdigest(), source)


def import_children(conn: Connection, kindergarten: str, children: list[Child], sha256: str,
                    source: str) -> ImportSummary:
    """Store checked children in the caller's transaction, recording where they came from."""
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
        kindergarten=kindergarten, imported_at_us=now_us(), rows=len(children),
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
    return ImportSummary(kindergarten, added, updated, unchanged)


def _values(child: Child) -> dict[str, str | None]:
    return {
        "iin": child.iin, "last_name": child.last_name, "first_name": child.first_name,
        "birth_date": child.birth_date.isoformat(), "group_name": child.group,
        "funding_category": child.funding_category,
        "enrolled_on": child.enrolled_on.isoformat(),
        "withdrawn_on": child.withdrawn_on.isoformat() if child.withdrawn_on else None,
    }
