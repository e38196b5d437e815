"""The single writer: one thread owns the SQLite write connection of a terminal process.

Every change is a job run in its own ``BEGIN IMMEDIATE`` transaction; the
caller gets the job's result only after ``COMMIT`` returned, which with
``synchronous=FULL`` in WAL mode means the change is on disk. Other processes
(a sync run beside the kiosk) are serialised by SQLite's own lock.
"""

from __future__ import annotations

import queue
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=FULL",
    "PRAGMA secure_delete=ON",
    "PRAGMA busy_timeout=30000",
    "PRAGMA foreign_keys=ON",
    "PRAGMA temp_store=MEMORY",  # VACUUM's working copy stays in RAM, not in /var/tmp
)


def connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
    for pragma in PRAGMAS:
        conn.execute(pragma)
    return conn


_Job = tuple[Callable[[sqlite3.Connection], Any], Future[Any], bool]


class Writer:
    def __init__(self, path: Path) -> None:
        self._path = path
        self._jobs: queue.Queue[_Job | None] = queue.Queue()
        self._ready: Future[None] = Future()
        self._thread = threading.Thread(target=self._loop, name="qatys-writer", daemon=True)
        self._thread.start()
        self._ready.result()

    def run(self, job: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``job`` in one committed transaction and return its result."""
        done: Future[T] = Future()
        self._jobs.put((job, done, True))
        return done.result()

    def run_outside_transaction(self, job: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``job`` with no transaction open: for VACUUM and WAL checkpoints."""
        done: Future[T] = Future()
        self._jobs.put((job, done, False))
        return done.result()

    def close(self) -> None:
        self._jobs.put(None)
        self._thread.join()

    def _loop(self) -> None:
        try:
            conn = connect(self._path)
        except BaseException as exc:
            self._ready.set_exception(exc)
            return
        self._ready.set_result(None)
        try:
            while (item := self._jobs.get()) is not None:
                job, done, in_transaction = item
                try:
                    if in_transaction:
                        conn.execute("BEGIN IMMEDIATE")
                    result = job(conn)
                    if in_transaction:
                        conn.execute("COMMIT")
                except BaseException as exc:
                    try:
                        if conn.in_transaction:
                            conn.execute("ROLLBACK")
                    except sqlite3.Error:
                        pass  # a full or read-only card: SQLite rolls back itself on reopen
                    done.set_exception(exc)
                else:
                    done.set_result(result)
        finally:
            conn.close()
