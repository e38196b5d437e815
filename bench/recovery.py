"""A damaged terminal store (issue 23): how long SQLite's quick check takes on a store of 72,000
events (whether it can run at every start), and how long the recovery takes — the file moved
aside, every readable row read back page by page (terminal/salvage.py), each event verified
(decodes, hash, chain links), a new store written — once 1 % of its pages are overwritten with
garbage.

Events are made as the terminal makes them: real bodies sealed to a server key by the
terminal's Sealer, appended through the store's own chain in batches of 500.
"""

from __future__ import annotations

import os
import random
import shutil
import tempfile
import time
from pathlib import Path

from protocol import MAX_BATCH_EVENTS, crypto, events
from terminal import recovery
from terminal.sealer import Sealer
from terminal.store import DB_FILE, TerminalStore

EVENTS = 72_000
TERMINAL = "T-BENCHREC"
START_US = 1_780_000_000_000_000
ROUNDS = 3


def fill(home: Path, count: int = EVENTS, acked: int = 0, terminal: str = TERMINAL) -> None:
    """A store of ``count`` sealed events of ``terminal`` (the first ``acked`` acknowledged)."""
    home.mkdir(parents=True, exist_ok=True)
    sealer = Sealer(crypto.box_public_key(os.urandom(32)))
    store = TerminalStore(home)
    try:
        makers = []
        for i in range(count):
            body = sealer.seal(events.Body(f"child-{i % 600:05d}-x7q", receipt=f"{i:05X}"),
                               terminal)
            kind = events.EventKind.ARRIVAL if i % 2 == 0 else events.EventKind.DEPARTURE

            def make(seq: int, prev: bytes, body: bytes = body, kind: events.EventKind = kind,
                     time_us: int = START_US + i * 20_000_000) -> bytes:
                return events.encode_event(events.Event(
                    terminal, seq, prev, time_us, bytes(16), seq * 1000, kind,
                    events.Method.QR_CARD, events.Assurance.MEDIUM, body))
            makers.append(make)
        for start in range(0, count, MAX_BATCH_EVENTS):
            chunk = makers[start:start + MAX_BATCH_EVENTS]
            last = store.write(lambda conn, chunk=chunk: [TerminalStore.append(conn, m)
                                                          for m in chunk][-1])
            if last.seq <= acked:
                store.acknowledge(last.seq, last.hash, b"ack", b"sig", START_US, START_US)
    finally:
        store.close()


def damage(path: Path, fraction: float, seed: int = 7) -> int:
    """Overwrite ``fraction`` of the file's pages (never the first two) with garbage, in a few
    runs of consecutive pages, as a card losing erase blocks does; returns how many."""
    rng = random.Random(seed)
    pages = path.stat().st_size // 4096
    wanted = max(1, int(pages * fraction))
    hit = 0
    with open(path, "r+b") as handle:
        while hit < wanted:
            run = min(rng.randint(1, 16), wanted - hit)
            first = rng.randrange(2, pages - run)
            handle.seek(first * 4096)
            handle.write(rng.randbytes(run * 4096))
            hit += run
    return hit


def bench_recovery() -> None:
    base = Path(tempfile.mkdtemp(prefix="qatys-bench-recovery-"))
    try:
        made = time.perf_counter()
        fill(base / "clean", acked=EVENTS // 2)
        size = (base / "clean" / DB_FILE).stat().st_size
        print(f"store of {EVENTS:,} events: {size / 1e6:.1f} MB, made in "
              f"{time.perf_counter() - made:.0f} s")
        checks = []
        for _ in range(ROUNDS):
            started = time.perf_counter()
            assert recovery.check(base / "clean") == "ok"
            checks.append(time.perf_counter() - started)
        print(f"PRAGMA quick_check: median {sorted(checks)[ROUNDS // 2] * 1000:.0f} ms "
              f"({ROUNDS} rounds, file in the page cache)")
        times = []
        for round_ in range(ROUNDS):
            home = base / f"damaged{round_}"
            shutil.copytree(base / "clean", home)
            hit = damage(home / DB_FILE, 0.01, seed=round_)
            started = time.perf_counter()
            problem = recovery.check(home)
            result = recovery.recover_if_needed(home, TERMINAL)
            times.append(time.perf_counter() - started)
            assert result is not None, problem
            print(f"  round {round_ + 1}: {hit} pages of garbage; {result.kept:,} events kept, "
                  f"{result.lost_count:,} declared lost in {len(result.lost)} ranges; "
                  f"{times[-1]:.2f} s")
            shutil.rmtree(home)
        print(f"recovery of a damaged {EVENTS:,}-event store (check + move + read back + "
              f"verify + rewrite): median {sorted(times)[ROUNDS // 2]:.2f} s, "
              f"max {max(times):.2f} s")
    finally:
        shutil.rmtree(base, ignore_errors=True)
