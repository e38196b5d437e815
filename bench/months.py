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


def _time(engine: Engine, codes: Sequence[str],
          readers: dict[str, PresenceReader]) -> dict[str, list[float]]:
    """Per kindergarten seconds for each reader, interleaved (same cache weather); the
    bytes of both readers compared on the way."""
    policy = load_policy()
    seconds: dict[str, list[float]] = {name: [] for name in readers}
    with engine.connect() as conn:
        for _ in range(ROUNDS):
            for code in codes:
                made = set()
                for name, reader in readers.items():
                    started = time.perf_counter()
                    body = statement_for(conn, code, YEAR, MONTH, policy,
                                         presence=reader).to_json()
                    seconds[name].append(time.perf_counter() - started)
                    made.add(body)
                assert len(made) == 1, f"{code}: the readers' statements differ"
    return seconds


def _sample(start: int, stop: int) -> list[str]:
    step = max(1, (stop - start) // SAMPLE)
    return [_code(k) for k in range(start, stop, step)][:SAMPLE]


def bench_months(engine: Engine, small: int = 300, large: int = 3_000) -> None:
    readers: dict[str, PresenceReader] = {"sql": presence_sql, "python": presence_python}
    print(f"month statements on PostgreSQL as the country grows: {CHILDREN_PER_KINDERGARTEN} "
          f"children per kindergarten, {YEAR:04d}-{MONTH:02d}, {SAMPLE} kindergartens timed "
          f"x {ROUNDS} rounds per size")
    t0 = time.perf_counter()
    events = load(engine, 0, small)
    print(f"  {small:,} kindergartens: {events:,} events loaded in "
          f"{time.perf_counter() - t0:.0f} s")
    first = _sample(0, small)
    at_small = _time(engine, first, readers)
    t0 = time.perf_counter()
    events += load(engine, small, large)
    with engine.connect() as conn:
        size = conn.execute(text("SELECT pg_size_pretty(pg_total_relation_size('events'))")
                            ).scalar_one()
    print(f"  {large:,} kindergartens: {events:,} events in all ({size} with indexes), "
          f"the {large - small:,} more loaded in {time.perf_counter() - t0:.0f} s")
    at_large = _time(engine, first, readers)  # the same kindergartens, in a bigger table
    later = _time(engine, _sample(small, large), readers)  # spread among 3,000 doors
    print("  per kindergarten, median ms (p90):")
    print(f"  {'reader':<8} {small:>7,} {large:>13,} {large:>13,}*   ratio   ratio*")
    for name in readers:
        cells = [statistics.median(s[name]) * 1000 for s in (at_small, at_large, later)]
        p90s = [sorted(s[name])[int(0.9 * len(s[name]))] * 1000
                for s in (at_small, at_large, later)]
        print(f"  {name:<8} " + " ".join(f"{m:6.1f} ({p:5.1f})" for m, p in
                                          zip(cells, p90s, strict=True))
              + f"   {cells[1] / cells[0]:.2f}    {cells[2] / cells[0]:.2f}  (goal <= 1.2)")
    ratios = [statistics.median(s["python"]) / statistics.median(s["sql"])
              for s in (at_small, at_large, later)]
    print(f"  python / sql: {ratios[0]:.2f} at {small:,}, {ratios[1]:.2f} and {ratios[2]:.2f}* "
          f"at {large:,} (* kindergartens loaded with the {large - small:,} more, their rows "
          "spread among every door's)")
