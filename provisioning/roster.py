"""The roster file: which children belong to a kindergarten, as the queue core sends it (a CSV
from Excel or JSON rows), checked line by line.

Parsing is pure and all-or-nothing: every bad line is reported, and a file with any bad line
imports nothing. Storing the checked children is the registry's
(:func:`server.registry.roster.import_roster`).
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from dataclasses import dataclass
from datetime import date

from provisioning import iin as iin_rules
from provisioning.errors import InvalidInput
from qatys.sentences import Sentence, plural_sentence

COLUMNS = ("child_id", "iin", "last_name", "first_name", "birth_date", "group",
           "funding_category", "enrolled_on", "withdrawn_on")
_CHILD_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
MAX_ROWS = 20_000
MAX_BYTES = 32 * 1024 * 1024
"""A roster file larger than this is refused before it is read (20,000 rows take ~4 MB)."""
MAX_FIELD = 1_000
"""No field of a good roster is longer (names 200, groups 100); a longer one is named by its line
instead of the csv module's own limit (128 KiB) breaking the whole import."""
TEXT_LIMITS = {"last_name": 200, "first_name": 200, "group": 100, "funding_category": 100}
"""The longest text of each column, as the database stores it (server/storage/db.py)."""
EARLIEST_BIRTH = date(2000, 1, 1)
"""No child on a kindergarten roster was born earlier (a typo such as 1800-01-01 is refused)."""
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
"""Control, format (e.g. right-to-left overrides), surrogate, private and unassigned
characters, and line/paragraph separators: never part of a name, refused by line."""
_CP1251_EXTRA = frozenset("№«»–—‘’‚“”„•…\u00a0")
"""Non-letters a Windows-1251 roster from Excel may hold besides Cyrillic letters."""


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


def decode_roster(data: bytes) -> str:
    """The text of a roster file: UTF-8 (with or without a BOM), else Windows-1251 (what Excel
    saves here as "CSV") when the decoded text holds only what a roster does (Cyrillic letters,
    no letters Windows-1251 lost); otherwise :class:`InvalidInput` naming the first bad line."""
    if len(data) > MAX_BYTES:
        raise InvalidInput(Sentence("the roster file is larger than %(max_mb)s MB",
                                    max_mb=MAX_BYTES // (1024 * 1024)))
    try:
        return data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        if data.startswith(b"\xef\xbb\xbf"):  # says UTF-8 but is not
            raise InvalidInput(Sentence("line %(line)s is not UTF-8 although the file begins as "
                                        "UTF-8; %(advice)s", line=line,
                                        advice=_save_as_utf8())) from exc
    try:
        text = data.decode("cp1251")
    except UnicodeDecodeError:  # 0x98 is no Windows-1251 character
        text = ""
    strange = next((n for n, raw in enumerate(text.splitlines() or [""], start=1)
                    if any(ord(c) > 127 and not _cp1251_roster_char(c) for c in raw)), None)
    if not text or strange is not None:
        raise InvalidInput(Sentence("line %(line)s is neither UTF-8 nor Windows-1251 text; "
                                    "%(advice)s", line=strange or line,
                                    advice=_save_as_utf8()))
    lost = [Sentence("line %(line)s has '?' where Windows-1251 has no letter (the Kazakh "
                     "letters %(letters)s)", line=n, letters="ә, ғ, қ, ң, ө, ұ, ү, һ")
            for n, raw in enumerate(text.splitlines(), start=1) if n > 1 and "?" in raw]
    if lost:
        raise InvalidInput(Sentence("the roster was saved as Windows-1251, which lost letters; "
                                    "%(advice)s", advice=_save_as_utf8()), list(lost))
    return text


def _save_as_utf8() -> Sentence:
    return Sentence('save it from Excel as "CSV UTF-8 (comma delimited)"')


def _cp1251_roster_char(char: str) -> bool:
    return "\u0400" <= char <= "\u04ff" or char in _CP1251_EXTRA


def parse_csv(text: str, today: date) -> list[Child]:
    """Children from roster CSV text; raises :class:`InvalidInput` naming every bad line.
    ``today`` is the server's local date (no one on it is born later). Excel's
    semicolon-separated CSV (its list separator here) is read too."""
    text = text.removeprefix("\ufeff")
    first = text.split("\n", 1)[0].strip()
    delimiter = ";" if set(first.split(";")) == set(COLUMNS) else ","
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows: list[tuple[Sentence | str, dict[str, str]]] = []
    try:
        header = tuple(reader.fieldnames or ())
        if set(header) != set(COLUMNS) or len(header) != len(COLUMNS):
            raise InvalidInput(Sentence("line 1: the header must be %(columns)s",
                                        columns=",".join(COLUMNS)),
                               [Sentence("line 1: header is %(header)s",
                                         header=",".join(header)[:300])])
        for row in reader:
            if len(rows) >= MAX_ROWS:
                raise InvalidInput(Sentence("the roster has more than %(max_rows)s rows",
                                            max_rows=MAX_ROWS))
            label = Sentence("line %(line)s", line=reader.line_num)
            if None in row or any(v is None for v in row.values()):
                rows.append((label, {}))
                continue
            rows.append((label, {k: v.strip() for k, v in row.items() if k}))
    except csv.Error as exc:  # a field over the csv module's limit, a broken quote
        raise InvalidInput(Sentence("line %(line)s cannot be read as CSV (%(problem)s); nothing "
                                    "imported", line=max(reader.reader.line_num, 1),
                                    problem=str(exc)[:200])) from exc
    return _parse_all(rows, today)


def parse_records(payload: object, today: date) -> list[Child]:
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
    return _parse_all(rows, today)


def _parse_all(rows: list[tuple[Sentence | str, dict[str, str]]], today: date) -> list[Child]:
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
        errors, child = _parse_row(row, today)
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


def _parse_row(row: dict[str, str], today: date) -> tuple[list[Sentence], Child | None]:
    errors: list[Sentence] = []
    too_long = [name for name, value in row.items() if len(value) > MAX_FIELD]
    if too_long:
        return [Sentence("%(field)s is longer than %(max_field)s characters", field=too_long[0],
                         max_field=MAX_FIELD)], None
    if not _CHILD_ID.fullmatch(row["child_id"]):
        errors.append(Sentence("child_id must be 1-64 letters, digits, '.', '_' or '-'"))
    iin_ok = iin_rules.is_valid(row["iin"])
    if not iin_ok:
        errors.append(Sentence("iin is not a valid 12-digit IIN (bad checksum or format)"))
    for name, limit in TEXT_LIMITS.items():
        if not row[name] or len(row[name]) > limit:
            errors.append(Sentence("%(field)s must be 1-%(limit)s characters", field=name,
                                   limit=limit))
        bad = next((c for c in row[name] if unicodedata.category(c) in _REFUSED_CATEGORIES),
                   None)
        if bad is not None:
            errors.append(Sentence("%(field)s holds the control character U+%(code)s",
                                   field=name, code=f"{ord(bad):04X}"))
    dates: dict[str, date | None] = {}
    for name in ("birth_date", "enrolled_on", "withdrawn_on"):
        value = row[name]
        if name == "withdrawn_on" and not value:
            dates[name] = None
            continue
        try:
            if len(value) != 10 or not value.isascii():
                raise ValueError(value)
            dates[name] = date.fromisoformat(value)
        except ValueError:
            errors.append(Sentence("%(field)s '%(value)s' is not a date (YYYY-MM-DD)", field=name,
                                   value=value[:40]))
    born, enrolled, withdrawn = (dates.get("birth_date"), dates.get("enrolled_on"),
                                 dates.get("withdrawn_on"))
    if enrolled and withdrawn and withdrawn < enrolled:
        errors.append(Sentence("withdrawn_on is before enrolled_on"))
    if born is not None:
        errors.extend(_birth_problems(born, enrolled, row["iin"] if iin_ok else None, today))
    if errors:
        return errors, None
    assert born is not None
    assert enrolled is not None
    return [], Child(row["child_id"], row["iin"], row["last_name"], row["first_name"], born,
                     row["group"], row["funding_category"], enrolled, withdrawn)


def _birth_problems(born: date, enrolled: date | None, iin: str | None,
                    today: date) -> list[Sentence]:
    """A birth date no roster can hold: in the future, after enrolment, before
    :data:`EARLIEST_BIRTH`, or another date than the IIN's first digits (YYMMDD and the
    century digit) say."""
    problems: list[Sentence] = []
    if born > today:
        problems.append(Sentence("birth_date %(born)s is in the future", born=born.isoformat()))
    elif enrolled is not None and born > enrolled:
        problems.append(Sentence("birth_date %(born)s is after enrolled_on %(enrolled)s",
                                 born=born.isoformat(), enrolled=enrolled.isoformat()))
    if born < EARLIEST_BIRTH:
        problems.append(Sentence("birth_date %(born)s is before %(earliest)s",
                                 born=born.isoformat(), earliest=EARLIEST_BIRTH.isoformat()))
    if iin is not None:
        encoded = iin_rules.birth_date(iin)
        if encoded is None:
            problems.append(Sentence("iin does not begin with a birth date (YYMMDD and a "
                                     "century digit 1-6)"))
        elif encoded != born:
            problems.append(Sentence("birth_date %(born)s is not the date the iin begins with "
                                     "(%(encoded)s)", born=born.isoformat(),
                                     encoded=encoded.isoformat()))
    return problems
