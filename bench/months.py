"""Month statements as the country grows: the same month at 300 and at 3,000 kindergartens
(100 children each, arrivals and departures on every working day, some absences, closures and
corrected clocks), loaded straight into PostgreSQL with COPY in the order a morning's ingest
writes them (day by day, every kindergarten's door in turn), then each sampled kindergarten's
statement with the SQL presence (`presence_sql`) beside the Python reference
(`presence_python`), medians over rounds, at both sizes in one run."""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Engine, text

from qatys.timeutil import LOCAL_ZONE, from_datetime
from server.domain.calendar import working_days
from server.domain.policy import load_policy
from server.money.statements import (
    PresenceReader,
    presence_python,
    presence_sql,
    statement_for,
)
from server.storage import db

CHILDREN_PER_KINDERGARTEN = 100
YEAR, MONTH = 2026, 4
CATEGORIES = ("age1-full-state", "age3-full-state", "age5-full-state", "age3-half-state")
SAMPLE = 60
"""Kindergartens timed per size (evenly spread over the codes), each once per round."""
ROUNDS = 3
EVENT_COLUMNS = [c.name for c in db.events.columns]


def _code(k: int) -> str:
    return f"M{k:04d}"


def load(engine: Engine, start: int, stop: int) -> int:
    """Kindergartens ``start``…``stop - 1``, their children, absences, closures, corrected
    clocks and a month of events (COPY); returns the events written."""
    rng = random.Random(start)
    days = working_days(YEAR, MONTH, False, load_policy().calendar)
    codes = [_code(k) for k in range(start, stop)]
    with db.writing(engine) as conn:
        conn.execute(db.kindergartens.insert(), [
            {"code": code, "name": code, "six_day": k % 10 == 0, "created_at_us": 0}
            for k, code in zip(range(start, stop), codes, strict=True)])
        if start == 0:
            conn.execute(db.roster_imports.insert(), [{"id": 1, "kindergarten": codes[0],
                                                        "imported_at_us": 0, "rows": 0,
                                                        "sha256": "0", "source": "bench"}])
        conn.execute(db.terminals.insert(), [
            {"terminal_id": f"T-{code}", "kindergarten": code,
             "sign_pub": k.to_bytes(32, "big"), "box_pub": bytes(32), "enrolled_at_us": 0,
             "head_seq": 0, "head_hash": bytes(32)}
            for k, code in zip(range(start, stop), codes, strict=True)])
        conn.execute(db.children.insert(), [
            {"child_id": f"{code}-{c:03d}", "kindergarten": code, "iin": f"{k:06d}{c:06d}",
             "last_name": "Bench", "first_name": "Bench", "birth_date": "2021-01-01",
             "group_name": f"G{c // 25}", "funding_category": CATEGORIES[c % 4],
             "enrolled_on": "2025-09-01", "withdrawn_on": "2026-04-15" if c == 99 else None,
             "roster_import": 1}
            for k, code in zip(range(start, stop), codes, strict=True)
            for c in range(CHILDREN_PER_KINDERGARTEN)])
        conn.execute(db.absences.insert(), [
            {"child_id": f"{code}-{c:03d}", "first_day": "2026-04-06", "last_day": "2026-04-10",
             "reason": "illness" if c % 2 else "leave", "document": "cert" if c % 4 else "",
             "recorded_at_us": 0, "recorded_by": "bench"}
            for code in codes for c in range(0, CHILDREN_PER_KINDERGARTEN, 10)])
        conn.execute(db.closures.insert(), [
            {"kindergarten": code, "first_day": "2026-04-27", "last_day": "2026-04-28",
             "reason": "repairs", "recorded_at_us": 0, "recorded_by": "bench",
             "group_name": "G1" if k % 2 else None}
            for k, code in zip(range(start, stop), codes, strict=True) if k % 5 == 0])
    seqs = dict.fromkeys(codes, 0)
    corrections = []
    count = 0
    raw = engine.raw_connection()
    try:
        driver = raw.driver_connection
        assert driver is not None
        with driver.cursor() as cursor:
            sql = f"COPY events ({', '.join(EVENT_COLUMNS)}) FROM STDIN"
            with cursor.copy(sql) as copy:
                for day in days:  # the order ingest writes them: day by day, door by door
                    for hour, kind, direction in ((8, "arrival", "in"),
                                                  (17, "departure", "out")):
                        for code in codes:
                            terminal = f"T-{code}"
                            for c in range(CHILDREN_PER_KINDERGARTEN):
                                if rng.random() < 0.04:  # absent
                                    continue
                                seqs[code] += 1
                                seq = seqs[code]
                                moment = from_datetime(datetime(
                                    day.year, day.month, day.day, hour, rng.randrange(60),
                                    tzinfo=LOCAL_ZONE))
                                event_id = f"{terminal}:{seq}"
                                copy.write_row((
                                    event_id, terminal, seq, code, b"h" * 32, b"bench", kind,
                                    "qr-card", "medium", f"{code}-{c:03d}", direction, "ok",
                                    moment, bytes(16), seq, 0, bytes(32), None, None, None))
                                count += 1
                                if c == 50 and day == days[0]:  # a wrong clock, corrected
                                    corrections.append((event_id, code, moment + 60_000_000))
        driver.commit()
    finally:
        raw.close()
    with db.writing(engine) as conn:
        conn.execute(db.event_time_corrections.insert(), [  # two per kindergarten
            {"event_id": event_id, "kindergarten": code, "corrected_at_us": at_us,
             "offset_us": -60_000_000, "found_at_us": 0}
            for event_id, code, at_us in corrections])
    with engine.connect() as conn:
        conn.execute(text("ANALYZE"))
        conn.commit()
    return count


Case = tuple[str, Engine, Sequence[str], PresenceReader]
"""(label, database, the kindergartens it times, reader)."""


def _time(cases: Sequence[Case]) -> dict[str, list[float]]:
    """Per kindergarten seconds of each case, interleaved kindergarten by kindergarten (the
    sizes and readers see the same weather on a shared machine); the statements of the same
    kindergarten compared byte for byte on the way, across readers and databases."""
    policy = load_policy()
    seconds: dict[str, list[float]] = {label: [] for label, *_ in cases}
    connections = {id(engine): engine.connect() for _, engine, _, _ in cases}
    try:
        for _ in range(ROUNDS):
            for i in range(min(len(codes) for _, _, codes, _ in cases)):
                made: dict[str, set[bytes]] = {}
                for label, engine, codes, reader in cases:
                    code = codes[i]
                    started = time.perf_counter()
                    body = statement_for(connections[id(engine)], code, YEAR, MONTH, policy,
                                         presence=reader).to_json()
                    seconds[label].append(time.perf_counter() - started)
                    made.setdefault(code, set()).add(body)
                for code, bodies in made.items():
                    assert len(bodies) == 1, f"{code}: the statements differ"
    finally:
        for conn in connections.values():
            conn.close()
    return seconds


def _sample(start: int, stop: int) -> list[str]:
    step = max(1, (stop - start) // SAMPLE)
    return [_code(k) for k in range(start, stop, step)][:SAMPLE]


def _size(engine: Engine) -> str:
    with engine.connect() as conn:
        return str(conn.execute(text(
            "SELECT pg_size_pretty(pg_total_relation_size('events'))")).scalar_one())


def bench_months(small_engine: Engine, large_engine: Engine, small: int = 300,
                 large: int = 3_000) -> None:
    """Two databases, loaded alike: ``small`` kindergartens in one, ``large`` in the other
    (its first ``small`` the same as the small one's), timed together."""
    print(f"month statements on PostgreSQL as the country grows: {CHILDREN_PER_KINDERGARTEN} "
          f"children per kindergarten, {YEAR:04d}-{MONTH:02d}, {SAMPLE} kindergartens timed "
          f"x {ROUNDS} rounds per case, interleaved")
    t0 = time.perf_counter()
    events = load(small_engine, 0, small)
    print(f"  {small:,} kindergartens: {events:,} events ({_size(small_engine)} with indexes) "
          f"loaded in {time.perf_counter() - t0:.0f} s")
    t0 = time.perf_counter()
    events = load(large_engine, 0, small) + load(large_engine, small, large)
    print(f"  {large:,} kindergartens: {events:,} events ({_size(large_engine)} with indexes) "
          f"loaded in {time.perf_counter() - t0:.0f} s")
    first, later = _sample(0, small), _sample(small, large)
    readers: dict[str, PresenceReader] = {"sql": presence_sql, "python": presence_python}
    columns = {"small": (small_engine, first), "large": (large_engine, first),
               "large*": (large_engine, later)}
    seconds = _time([(f"{name} {column}", engine, codes, reader)
                     for name, reader in readers.items()
                     for column, (engine, codes) in columns.items()])
    medians = {label: statistics.median(values) * 1000 for label, values in seconds.items()}
    print("  statement per kindergarten, median ms (p90):")
    print(f"  {'reader':<8} {small:>14,} {large:>14,} {large:>14,}*  {large:,}/{small:,}"
          f"  ({large:,}*/{small:,})")
    for name in readers:
        cells = [f"{medians[f'{name} {c}']:6.1f} ({_p90(seconds[f'{name} {c}']):5.1f})"
                 for c in columns]
        print(f"  {name:<8} {cells[0]:>14} {cells[1]:>14} {cells[2]:>14}   "
              f"{medians[f'{name} large'] / medians[f'{name} small']:.2f}"
              f"  ({medians[f'{name} large*'] / medians[f'{name} small']:.2f})  goal <= 1.2")
    print("  python / sql: " + ", ".join(
        f"{medians[f'python {c}'] / medians[f'sql {c}']:.2f} ({c})" for c in columns))
    print(f"  (* kindergartens loaded with the {large - small:,} more, their rows spread "
          "among every door's; the others the same kindergartens in both databases)")


def _p90(values: list[float]) -> float:
    return sorted(values)[int(0.9 * len(values))] * 1000
