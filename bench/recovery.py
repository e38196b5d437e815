"""A damaged terminal store (issue 23): how long SQLite's quick check takes on a store of 72,000
events (whether it can run at every start), and how long the recovery takes — the file moved
aside, every readable row read back page by page (terminal/salvage.py), each event verified
(decodes, hash, chain links), a new store written — once 1 % of its pages are overwritten with
garbage.

Events are made as the terminal makes them: real bodies sealed to a server key by the
terminal's Sealer, appended through the store's own chain in batches of 500.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

from terminal import recovery
from terminal.store import DB_FILE
from tests.helpers import damage_pages, fill_store

EVENTS = 72_000
TERMINAL = "T-BENCHREC"
ROUNDS = 3


def bench_recovery() -> None:
    base = Path(tempfile.mkdtemp(prefix="qatys-bench-recovery-"))
    try:
        made = time.perf_counter()
        fill_store(base / "clean", EVENTS, acked=EVENTS // 2, terminal=TERMINAL)
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
            hit = damage_pages(home / DB_FILE, 0.01, seed=round_)
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
