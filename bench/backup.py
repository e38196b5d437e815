"""Backup, verify and restore of the region fixture (bench/region.py: 300 kindergartens,
30,000 children, ~1.3 million events) on SQLite and on PostgreSQL: seconds and file sizes.
On SQLite both ways of copying (the online backup API, ``VACUUM INTO``) are timed, each twice,
so docs/operations.md can say why `qatys server backup` uses the one it does."""

from __future__ import annotations

import shutil
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from bench.region import load_region
from qatys.timeutil import now_us
from server.backup import service
from server.backup.database import SQLITE_METHODS, sqlite_path
from server.config import load_config
from server.datadir import init_data_dir
from server.storage.db import make_engine
from tests.postgres import Cluster

T = TypeVar("T")
ROUNDS = 2


def _timed(job: Callable[[], T]) -> tuple[float, T]:
    started = time.perf_counter()
    result = job()
    return time.perf_counter() - started, result


def _mb(size: int) -> str:
    return f"{size / 1e6:,.1f} MB"


def _loaded(data_dir: Path, database_url: str | None) -> int:
    config, _ = init_data_dir(data_dir, database_url)
    engine = make_engine(config.database_url)
    try:
        seconds, events = _timed(lambda: load_region(engine))
    finally:
        engine.dispose()
    print(f"  fixture: {events:,} events loaded in {seconds:.0f} s")
    return events


def bench_backup_sqlite(base: Path) -> None:
    print("backup and restore, region fixture, SQLite")
    data = base / "sqlite-data"
    _loaded(data, None)
    database = sqlite_path(load_config(data).database_url)
    print(f"  database file: {_mb(database.stat().st_size)}")
    files = {}
    for method in SQLITE_METHODS:
        times = []
        for number in range(ROUNDS):
            out = base / f"sqlite-{method}-{number}.tar"
            seconds, _ = _timed(lambda out=out, method=method: service.make_backup(  # type: ignore[misc]
                data, out, now_us(), method))
            times.append(seconds)
            files[method] = out
        print(f"  backup ({method}): {', '.join(f'{t:.1f}' for t in times)} s "
              f"(median {statistics.median(times):.1f} s), file "
              f"{_mb(files[method].stat().st_size)}")
    chosen = files[SQLITE_METHODS[0]]
    seconds, _ = _timed(lambda: service.verify_backup(chosen))
    print(f"  verify: {seconds:.1f} s")
    seconds, _ = _timed(lambda: service.restore_backup(base / "sqlite-restored", chosen,
                                                       now_us()))
    print(f"  restore into an empty data directory: {seconds:.1f} s")
    seconds, _ = _timed(lambda: service.restore_backup(base / "sqlite-restored", chosen,
                                                       now_us()))
    print(f"  restore over the restored copy (old one kept aside): {seconds:.1f} s")
    shutil.rmtree(data, ignore_errors=True)


def bench_backup_postgres(cluster: Cluster, base: Path) -> None:
    print("backup and restore, region fixture, PostgreSQL")
    data = base / "pg-data"
    _loaded(data, cluster.create_database("backup_region"))
    times = []
    out = base / "pg.tar"
    for _ in range(ROUNDS):
        seconds, _ = _timed(lambda: service.make_backup(data, out, now_us()))
        times.append(seconds)
    print(f"  backup (pg_dump custom): {', '.join(f'{t:.1f}' for t in times)} s, file "
          f"{_mb(out.stat().st_size)}")
    seconds, _ = _timed(lambda: service.verify_backup(out))
    print(f"  verify: {seconds:.1f} s")
    fresh = cluster.create_database("backup_restored")
    seconds, _ = _timed(lambda: service.restore_backup(base / "pg-restored", out, now_us(),
                                                       fresh))
    print(f"  restore into an empty data directory and database: {seconds:.1f} s")
    seconds, _ = _timed(lambda: service.restore_backup(base / "pg-restored", out, now_us()))
    print(f"  restore over the restored copy (a safety dump first): {seconds:.1f} s")
