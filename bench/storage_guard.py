"""Check-in latency with the storage guard's free-space check beside without it (goal: at
most 5 % more at p99). One terminal, one store, the same check-ins interleaved so all see
the same disk weather: the guard as it runs (a statvfs + access() and the store's free-page
count, cached for a second), the guard reading the disk at every check-in (no cache), and
no guard at all."""

from __future__ import annotations

import contextlib
import os
import statistics
import time
from collections.abc import Iterator
from pathlib import Path

from terminal.checkin import CheckinRequest, CheckinService
from terminal.home import open_terminal
from terminal.storage_guard import StorageGuard
from tests.helpers import ServerProcess, enrol

ROUNDS = int(os.environ.get("QATYS_BENCH_GUARD_ROUNDS", "3000"))
CHILDREN = [f"child-{i:05d}-x7q" for i in range(20)]


class _NoGuard:
    """What the check-in did before: no check, no translation of a failed write."""

    def before_write(self) -> None:
        return None

    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        yield


def _pct(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def bench_storage_guard(server: ServerProcess, base: Path, rounds: int = ROUNDS) -> None:
    home = base / "guard"
    enrol(server, home, {"QATYS_RUNTIME_DIR": str(base / "guard-run")})
    terminal = open_terminal(home, log=False)
    service = CheckinService(terminal)
    variants = {"guard (1 s cache)": StorageGuard(terminal),
                "guard (no cache)": StorageGuard(terminal, cache_seconds=0.0),
                "no guard": _NoGuard()}
    timings: dict[str, list[float]] = {name: [] for name in variants}
    check_us: dict[str, list[float]] = {name: [] for name in variants}
    try:
        names = list(variants)
        for i in range(rounds):
            order = names[i % len(names):] + names[:i % len(names)]  # no variant always first
            for offset, name in enumerate(order):
                guard = variants[name]
                n = i * len(variants) + offset
                direction = "in" if (n // len(CHILDREN)) % 2 == 0 else "out"
                terminal._storage = guard  # type: ignore[assignment]  # the variant under test
                t0 = time.perf_counter()
                service.checkin(CheckinRequest(CHILDREN[n % len(CHILDREN)], "manual",
                                               reason="bench", direction=direction))
                t1 = time.perf_counter()
                guard.before_write()  # the check alone, once more, outside the check-in
                t2 = time.perf_counter()
                timings[name].append((t1 - t0) * 1000)
                check_us[name].append((t2 - t1) * 1e6)
    finally:
        terminal._storage = None
        terminal.close()
    base_p99 = _pct(timings["no guard"], 0.99)
    base_p50 = statistics.median(timings["no guard"])
    print(f"check-in latency with the storage guard, {rounds} check-ins of each, interleaved:")
    for name, values in timings.items():
        p50, p99 = statistics.median(values), _pct(values, 0.99)
        print(f"  {name:<18} p50 {p50:.3f} ms  p99 {p99:.3f} ms  "
              f"(ratio p50 {p50 / base_p50:.3f}, p99 {p99 / base_p99:.3f}; the check alone "
              f"median {statistics.median(check_us[name]):.1f} µs)")
    print("  goal: guard (1 s cache) p99 <= 1.05 x no guard")
