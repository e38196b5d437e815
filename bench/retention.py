"""The terminal store with acknowledged events kept for the retention window (issue 20): its
size with 35 days of acknowledged events for 600 children (2 events a child a day, every day),
whether it stays bounded as days go on and pruning runs, how long a day's prune takes, and how
long the face erasure's ``compact`` (VACUUM + WAL truncate) takes on a store that full.

Events are made as the terminal makes them: real bodies sealed to a server key by the
terminal's Sealer (a card check-in with its receipt), appended through the store's own chain,
acknowledged in batches of 500 and pruned by the store's own code.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

from protocol import MAX_BATCH_EVENTS, crypto, events
from terminal.sealer import Sealer
from terminal.store import TerminalStore

CHILDREN = 600
WINDOW_DAYS = 35
DAYS = 70
DAY_US = 86_400_000_000
START_US = 1_780_000_000_000_000
TERMINAL = "T-BENCHRET"


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))


def _day(store: TerminalStore, sealer: Sealer, day: int) -> None:
    """One day's 1,200 check-ins (arrival and departure of each child), then acknowledged."""
    base = START_US + day * DAY_US + 7 * 3_600_000_000
    raws = []
    for i in range(CHILDREN * 2):
        body = sealer.seal(events.Body(f"child-{i % CHILDREN:05d}-x7q",
                                       receipt=f"{i:03X}-{day:03X}"), TERMINAL)
        kind = events.EventKind.ARRIVAL if i < CHILDREN else events.EventKind.DEPARTURE
        time_us = base + i * 20_000_000

        def make(seq: int, prev: bytes, body: bytes = body, kind: events.EventKind = kind,
                 time_us: int = time_us) -> bytes:
            return events.encode_event(events.Event(
                TERMINAL, seq, prev, time_us, bytes(16), seq * 1000, kind,
                events.Method.QR_CARD, events.Assurance.MEDIUM, body))
        raws.append(make)
    for start in range(0, len(raws), MAX_BATCH_EVENTS):  # one transaction per batch size
        chunk = raws[start:start + MAX_BATCH_EVENTS]
        last = store.write(lambda conn, chunk=chunk: [TerminalStore.append(conn, m)
                                                      for m in chunk][-1])
        ack_us = base + 12 * 3_600_000_000
        store.acknowledge(last.seq, last.hash, b"ack", b"sig", ack_us, ack_us)


def bench_retention() -> None:
    base = Path(tempfile.mkdtemp(prefix="qatys-bench-retention-"))
    try:
        store = TerminalStore(base)
        sealer = Sealer(crypto.box_public_key(os.urandom(32)))
        sizes: dict[int, int] = {}
        prune_s: list[float] = []
        for day in range(DAYS):
            _day(store, sealer, day)
            t0 = time.perf_counter()
            store.prune(START_US + (day + 1) * DAY_US, WINDOW_DAYS * DAY_US)
            if day >= WINDOW_DAYS:
                prune_s.append(time.perf_counter() - t0)
            store.read(lambda conn: conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone())
            sizes[day + 1] = _size(store.path)
        held, gone = store.retained()
        t0 = time.perf_counter()
        store.compact()
        compact_s = time.perf_counter() - t0
        compacted = _size(store.path)
        spans = store.read(lambda conn: conn.execute(
            "SELECT count(*) FROM retired_spans").fetchone()[0])
        store.close()
        per_event = sizes[WINDOW_DAYS] / (WINDOW_DAYS * CHILDREN * 2)
        print(f"retention: {CHILDREN} children, 2 events a day, window {WINDOW_DAYS} days")
        print(f"  store after {WINDOW_DAYS} days: {sizes[WINDOW_DAYS] / 1e6:.1f} MB "
              f"({WINDOW_DAYS * CHILDREN * 2} events acknowledged and kept, "
              f"{per_event:.0f} B an event)")
        print(f"  after {DAYS} days: {sizes[DAYS] / 1e6:.1f} MB on disk, {held} kept, "
              f"{gone} pruned in {spans} retired spans; {compacted / 1e6:.1f} MB compacted")
        print("  size by day: " + ", ".join(f"d{d} {sizes[d] / 1e6:.1f}"
                                             for d in (10, 35, 36, 50, 70)))
        print(f"  a day's prune ({CHILDREN * 2} events): median "
              f"{sorted(prune_s)[len(prune_s) // 2] * 1000:.0f} ms; compact (face erasure) "
              f"on the full store: {compact_s:.2f} s")
    finally:
        shutil.rmtree(base, ignore_errors=True)
