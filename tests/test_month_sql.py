"""The month's presence built in PostgreSQL (`presence_sql`) gives what the Python reference
(`presence_python`) gives, and so the same statement bytes: on the money tests' synced March and
on a year of edge cases written straight into a real PostgreSQL (time corrections out of and into
the months, events before 1 January, the Almaty zone's move from UTC+6 to UTC+5 on 1 March 2024,
one microsecond either side of local midnights, other kinds, unreadable bodies, another
kindergarten's events, withdrawn and late children, closures, absences against the leave cap,
six-day kindergartens, event ids whose text order is not their number order)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta

import pytest
from sqlalchemy import Engine, select

from qatys.timeutil import LOCAL_ZONE, from_datetime
from server.datadir import open_data_dir
from server.domain.calendar import month_days
from server.domain.policy import load_policy
from server.money.statements import (
    leave_used,
    presence_python,
    presence_sql,
    statement_for,
)
from server.storage import db
from server.storage.db import make_engine, normalise_url
from server.storage.migrations import migrate
from tests.helpers import ServerProcess
from tests.postgres import Cluster

GARDENS = {"E1": False, "E6": True, "E2": False}  # code → six-day
YEARS = (2024, 2026)


def _same(engine: Engine, kindergarten: str, year: int, month: int) -> None:
    """Both readers: equal presence over 1 January to the month's end, equal statements (the
    days and their evidence too) and equal bytes."""
    policy = load_policy()
    first, last = date(year, 1, 1), month_days(year, month)[-1]
    with engine.connect() as conn:
        children = set(conn.execute(select(db.children.c.child_id)
                                    .where(db.children.c.kindergarten == kindergarten))
                       .scalars())
        assert presence_sql(conn, kindergarten, children, first, last) == presence_python(
            conn, kindergarten, children, first, last)
        reference = statement_for(conn, kindergarten, year, month, policy,
                                  presence=presence_python)
        built = statement_for(conn, kindergarten, year, month, policy, presence=presence_sql)
        assert built == reference
        assert built.to_json() == reference.to_json()
        assert statement_for(conn, kindergarten, year, month, policy) == reference
        assert leave_used(conn, kindergarten, year, month, policy)  # PostgreSQL: the SQL one


@pytest.mark.parametrize("server", ["postgres"], indirect=True)
def test_the_synced_march_gives_the_same_bytes(march: ServerProcess) -> None:
    engine = open_data_dir(march.data_dir).engine
    for month in (1, 2, 3, 4):
        _same(engine, "KG1", 2026, month)
    with engine.connect() as conn:  # the March check-ins are there, as days
        presence = presence_sql(conn, "KG1", {"child-00001-x7q"}, date(2026, 1, 1),
                                date(2026, 3, 31))
    assert sorted(presence["child-00001-x7q"]) == [date(2026, 3, 2), date(2026, 3, 3),
                                                   date(2026, 3, 4)]
    engine.dispose()


def _local(day: date, at: time = time.min) -> int:
    return from_datetime(datetime.combine(day, at, LOCAL_ZONE))


def _moments(rng: random.Random, day: date) -> list[int]:
    """A day's check-in times: the usual ones, and a microsecond either side of midnight."""
    midnight, next_midnight = _local(day), _local(day + timedelta(days=1))
    return [midnight, midnight + 1, next_midnight - 1, _local(day, time(8, rng.randrange(60))),
            _local(day, time(17, rng.randrange(60)))]


@pytest.fixture(scope="module")
def edges(pg_cluster: Cluster) -> Iterator[Engine]:
    url = normalise_url(pg_cluster.create_database("month_sql_edges"))
    engine = make_engine(url)
    migrate(engine)
    rng = random.Random(19)
    events, corrections, children, absences, closures = [], [], [], [], []
    seq = 0

    def event(garden: str, child: str | None, at_us: int, kind: str = "arrival",
              status: str = "ok", event_id: str | None = None) -> str:
        nonlocal seq
        seq += 1
        # ids whose text order differs from their number order (":10" before ":9"), and
        # cases: "B" sorts before "a" by code point, as PostgreSQL's "C" collation does
        name = event_id or f"T-{garden}:{seq}{rng.choice(['', 'a', 'B'])}"
        events.append({"event_id": name, "terminal_id": f"T-{garden}", "seq": seq,
                       "kindergarten": garden, "hash": rng.randbytes(32), "raw": b"edge",
                       "kind": kind, "method": rng.choice(["qr-card", "face", "manual"]),
                       "assurance": rng.choice(["low", "medium", "high"]), "child_id": child,
                       "direction": "in", "body_status": status, "recorded_at_us": at_us,
                       "boot_id": bytes(16), "mono_ns": seq, "received_at_us": 0,
                       "batch_hash": bytes(32), "receipt": None, "note": None,
                       "phone_code": None})
        return name

    def correct(garden: str, event_id: str, to_us: int) -> None:
        corrections.append({"event_id": event_id, "kindergarten": garden,
                            "corrected_at_us": to_us, "offset_us": 1, "found_at_us": 0})

    for garden in GARDENS:
        for c in range(8):
            withdrawn = "2024-03-15" if c == 1 else "2026-06-01" if c == 2 else None
            enrolled = "2024-02-20" if c == 3 else "2023-09-01"
            children.append({"child_id": f"{garden}-{c}", "kindergarten": garden,
                             "iin": f"{c:012d}", "last_name": "Edge", "first_name": "Edge",
                             "birth_date": "2020-01-01", "group_name": f"G{c % 2}",
                             "funding_category": "age3-full-state", "enrolled_on": enrolled,
                             "withdrawn_on": withdrawn, "roster_import": 1})
    for year in YEARS:
        day = date(year - 1, 12, 25)  # the last days of the year before too
        while day <= date(year, 12, 31):
            for garden in ("E1", "E6"):
                for c in range(8):
                    child = f"{garden}-{c}"
                    if rng.random() < 0.25:
                        continue
                    for at_us in rng.sample(_moments(rng, day), 2):
                        kind = rng.choices(["arrival", "departure", "correction"],
                                           [5, 5, 1])[0]
                        status = "unreadable" if rng.random() < 0.03 else "ok"
                        name = event(garden, child, at_us, kind, status)
                        if rng.random() < 0.05:  # a wrong clock, found: to another day
                            correct(garden, name, at_us + rng.choice(
                                [-1, 1, 3_600_000_000, -86_400_000_000, 5 * 86_400_000_000]))
                # the same child at another kindergarten's door: that one's, not this one's
                event("E2", f"{garden}-{rng.randrange(8)}", _local(day, time(9)))
            event("E1", None, _local(day, time(12)), "system")
            event("E1", "E1-stranger", _local(day, time(8)))  # not on the roster
            day += timedelta(days=1)
        # recorded under a clock years off, corrected into the months (and one out of them)
        for garden in ("E1", "E6"):
            for month in range(1, 13):
                target = _local(date(year, month, 10), time(8, 30))
                correct(garden, event(garden, f"{garden}-0", _local(date(1970, 1, 2))),
                        target)
                correct(garden, event(garden, f"{garden}-4", _local(date(year + 3, 1, 2))),
                        target + 1)
            correct(garden, event(garden, f"{garden}-5", _local(date(year, 6, 3), time(8))),
                    _local(date(year + 1, 6, 3)))
            # a correction the other kindergarten recorded counts for neither reader
            correct("E2", event(garden, f"{garden}-6", _local(date(1970, 1, 3))),
                    _local(date(year, 4, 8), time(8)))
        # around the zone's change, 1 March 2024 local midnight: an hour before and after
        edge = _local(date(year, 3, 1))
        for offset in (-3_600_000_000, -1, 0, 3_600_000_000):
            event("E1", "E1-7", edge + offset, event_id=f"T-E1:edge-{year}-{offset}")
        event("E1", "E1-7", edge, event_id=f"T-É:{year}")  # not ASCII: code-point order
        for garden in ("E1", "E6"):
            for c in (4, 5):  # leave from the year's start: earlier months feed the cap
                absences.append({"child_id": f"{garden}-{c}", "first_day": f"{year}-01-08",
                                 "last_day": f"{year}-11-30", "reason": "leave",
                                 "document": "", "recorded_at_us": 0, "recorded_by": "t"})
            absences.append({"child_id": f"{garden}-6", "first_day": f"{year}-03-01",
                             "last_day": f"{year}-03-20", "reason": "illness",
                             "document": "cert", "recorded_at_us": 0, "recorded_by": "t"})
            closures.append({"kindergarten": garden, "first_day": f"{year}-05-13",
                             "last_day": f"{year}-05-17", "reason": "repairs",
                             "recorded_at_us": 0, "recorded_by": "t", "group_name": None})
            closures.append({"kindergarten": garden, "first_day": f"{year}-10-07",
                             "last_day": f"{year}-10-09", "reason": "quarantine",
                             "recorded_at_us": 0, "recorded_by": "t", "group_name": "G1"})
    with db.writing(engine) as conn:
        conn.execute(db.kindergartens.insert(), [
            {"code": code, "name": code, "six_day": six, "created_at_us": 0}
            for code, six in GARDENS.items()])
        conn.execute(db.roster_imports.insert(), [{"id": 1, "kindergarten": "E1",
                                                    "imported_at_us": 0, "rows": 0,
                                                    "sha256": "0", "source": "test"}])
        conn.execute(db.terminals.insert(), [
            {"terminal_id": f"T-{code}", "kindergarten": code,
             "sign_pub": bytes([k]) * 32, "box_pub": bytes(32), "enrolled_at_us": 0,
             "head_seq": 0, "head_hash": bytes(32)} for k, code in enumerate(GARDENS)])
        conn.execute(db.children.insert(), children)
        conn.execute(db.events.insert(), events)
        conn.execute(db.event_time_corrections.insert(), corrections)
        conn.execute(db.absences.insert(), absences)
        conn.execute(db.closures.insert(), closures)
    yield engine
    engine.dispose()


@pytest.mark.parametrize("year", YEARS)
@pytest.mark.parametrize("garden", ["E1", "E6"])
def test_every_month_of_the_edge_cases_gives_the_same_bytes(edges: Engine, garden: str,
                                                             year: int) -> None:
    for month in range(1, 13):
        _same(edges, garden, year, month)


def test_the_edges_are_in_the_data(edges: Engine) -> None:
    """The cases the comparison stands on are really there, read by the SQL reader."""
    with edges.connect() as conn:
        year = presence_sql(conn, "E1", {"E1-0", "E1-7"}, date(2024, 1, 1), date(2024, 12, 31))
    assert "T-É:2024" in {e.event_id for e in year["E1-7"][date(2024, 3, 1)]}
    # recorded in 1970, corrected to 10 March 2024 08:30
    assert any(e.event_id.startswith("T-E1:") for e in year["E1-0"][date(2024, 3, 10)])
    # across the zone's change: an hour before its midnight is still 29 February
    before = {e.event_id for e in year["E1-7"][date(2024, 2, 29)]}
    assert "T-E1:edge-2024--3600000000" in before
    assert "T-E1:edge-2024--1" in before
