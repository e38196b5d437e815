"""The terminal's storage, watched before each write: a full card or one the kernel made
read-only is a clear refusal with a stable reason, never a SQLite traceback.

Two parts, both needed:

- a **free-space floor** checked before each check-in (``os.statvfs`` of the home, cached
  for :data:`CACHE_SECONDS`): a check-in is refused with ``storage_full`` while less than
  ``storage_floor_mb`` is free, before SQLite could fail half-way through a commit;
- a **reserve file** (``storage.reserve``, ``storage_reserve_mb`` of real blocks) made while
  there is room and given back when the floor is reached: a card filled by something else
  (another program, a log gone wild) still leaves the terminal the room to open its store,
  write the signed ``storage_full`` event, print the refusal and sync — and a sync frees space
  (the acknowledged events' pages are reused). The floor alone could not promise that: when
  the last byte is gone, even SQLite's ``-shm`` file cannot be made.

Space counted as free is the file system's free space, plus the store's own free pages,
minus the reserve while it is given back (so the terminal does not live on its reserve:
check-ins start again only once the reserve could be made again).

Levels (:class:`StorageLevel`), recorded in the outage ledger on each change (one signed
``storage_low`` / ``storage_full`` / ``storage_ok`` system event; the level last recorded is
kept in the store's meta so that separate commands do not repeat it). A read-only file
system cannot take a ledger event; the kiosk shows it and the health report says it.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

from protocol.events import SystemEvent
from qatys.logs import log
from qatys.sentences import Sentence
from terminal.errors import CheckinRefusal, CheckinRefused, StorageFault
from terminal.outages import record_system
from terminal.store import set_meta

if TYPE_CHECKING:
    from terminal.home import Terminal

logger = logging.getLogger("qatys.terminal.storage")

RESERVE_FILE = "storage.reserve"
CACHE_SECONDS = 1.0
"""How long one free-space reading is believed (a statvfs costs microseconds, but a door
at its morning peak checks in a child a second; a failure in between still ends in a
refusal, :func:`refusal_of`)."""
STATE_KEY = "storage_state"
MB = 1024 * 1024


class StorageLevel(StrEnum):
    """The terminal's storage as the guard sees it (docs/kiosk.md, "Faults")."""
    OK = "storage_ok"
    LOW = "storage_low"
    """Under ``storage_low_mb`` free: check-ins still recorded, staff warned."""
    FULL = "storage_full"
    """Under ``storage_floor_mb`` free: check-ins refused; sync still runs."""
    READONLY = "storage_readonly"
    """The file system is read-only (the kernel remounted the card): nothing can be written."""
    DAMAGED = "store_damaged"
    """SQLite found the store damaged (terminal/recovery.py): recovered before the next write."""


FAULTS = (StorageLevel.FULL, StorageLevel.READONLY)


@dataclass(frozen=True)
class Reading:
    level: StorageLevel
    free_bytes: int
    """Free space as counted here (file system + the store's free pages − missing reserve)."""


@dataclass(frozen=True)
class Limits:
    floor_bytes: int
    low_bytes: int
    reserve_bytes: int


def limits_of(config: object) -> Limits:
    def mb(name: str, default: float) -> int:
        return int(float(getattr(config, name, default)) * MB)
    return Limits(mb("storage_floor_mb", 32), mb("storage_low_mb", 256),
                  mb("storage_reserve_mb", 16))


PROBE_FILE = ".storage-probe"


def _probe_refused(home: Path) -> bool:
    """True when creating a file in the home fails with EROFS: the file system made itself
    read-only after an error (ext4's ``errors=remount-ro``; the kernel shows it as
    ``emergency_ro`` in /proc/mounts, while statvfs and access() still say writable)."""
    path = home / PROBE_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    except OSError as exc:
        return exc.errno == errno.EROFS
    os.close(fd)
    with contextlib.suppress(OSError):
        path.unlink()
    return False


def read_only(home: Path, probe: bool = True) -> bool:
    """The mount is read-only, or (``probe``) the file system turned itself read-only."""
    try:
        if os.statvfs(home).f_flag & os.ST_RDONLY or not os.access(home, os.W_OK):
            return True
    except OSError:
        return False
    return probe and _probe_refused(home)


def measure(home: Path, limits: Limits, db_free_bytes: int = 0,
            probe: bool = False) -> Reading:
    """One reading of the home's storage (no cache): a statvfs and an access(), and with
    ``probe`` (while a read-only fault is shown) a file created and removed."""
    stat = os.statvfs(home)
    if stat.f_flag & os.ST_RDONLY or not os.access(home, os.W_OK) \
            or (probe and _probe_refused(home)):
        return Reading(StorageLevel.READONLY, 0)
    free = stat.f_bavail * stat.f_frsize + db_free_bytes
    if not (home / RESERVE_FILE).exists():
        free -= limits.reserve_bytes
    if free < limits.floor_bytes:
        return Reading(StorageLevel.FULL, max(free, 0))
    if free < limits.low_bytes:
        return Reading(StorageLevel.LOW, free)
    return Reading(StorageLevel.OK, free)


def give_back_reserve(home: Path) -> bool:
    """Delete the reserve file (its blocks become free); True when there was one."""
    try:
        (home / RESERVE_FILE).unlink()
    except FileNotFoundError:
        return False
    except OSError as exc:
        log(logger, "storage.reserve_not_released", logging.ERROR, error=exc.strerror)
        return False
    log(logger, "storage.reserve_released")
    return True


def make_reserve(home: Path, limits: Limits) -> bool:
    """Make the reserve file when it is missing and there is room for it above the floor."""
    path = home / RESERVE_FILE
    if limits.reserve_bytes <= 0 or path.exists():
        return False
    try:
        stat = os.statvfs(home)
        if stat.f_flag & os.ST_RDONLY or \
                stat.f_bavail * stat.f_frsize - limits.reserve_bytes < limits.floor_bytes:
            return False
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError:
        return False
    try:
        os.posix_fallocate(fd, 0, limits.reserve_bytes)  # real blocks, not a sparse file
        os.fsync(fd)
    except OSError:
        os.close(fd)
        with contextlib.suppress(OSError):
            path.unlink()
        return False
    os.close(fd)
    log(logger, "storage.reserve_made", bytes=limits.reserve_bytes)
    return True


def prepare_home(home: Path, config: object) -> None:
    """Before the store opens: on a full card give the reserve back (SQLite needs room for
    its ``-wal`` and ``-shm`` files), else make it if it is missing and there is room."""
    limits = limits_of(config)
    try:
        reading = measure(home, limits)
    except OSError:
        return
    if reading.level == StorageLevel.FULL:
        give_back_reserve(home)
    elif reading.level == StorageLevel.OK:
        make_reserve(home, limits)


# --- what a failed write means ------------------------------------------------------

_FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT}


def fault_of(exc: BaseException, home: Path) -> StorageLevel | None:
    """The storage fault behind a failed write (SQLite's or the OS's), or None when it is
    something else (left to its own handling)."""
    if isinstance(exc, OSError) and not isinstance(exc, sqlite3.Error):
        if exc.errno == errno.EROFS:
            return StorageLevel.READONLY
        if exc.errno in _FULL_ERRNOS:
            return StorageLevel.FULL
        return None
    if not isinstance(exc, sqlite3.OperationalError | sqlite3.DatabaseError):
        return None
    from terminal import recovery

    if recovery.is_corruption(exc):
        recovery.mark_needed(home)
        return StorageLevel.DAMAGED
    name = getattr(exc, "sqlite_errorname", "") or ""
    text = str(exc)
    if read_only(home) or name.startswith("SQLITE_READONLY") or "readonly database" in text:
        return StorageLevel.READONLY
    if name == "SQLITE_FULL" or "disk is full" in text:
        return StorageLevel.FULL
    if name.startswith("SQLITE_IOERR") or name.startswith("SQLITE_CANTOPEN") \
            or "disk I/O error" in text or "unable to open" in text:
        try:
            stat = os.statvfs(home)
        except OSError:
            return None
        # an I/O error on a card with (almost) no free block: the -wal/-shm could not grow
        if stat.f_bavail * stat.f_frsize < 256 * 1024:
            return StorageLevel.FULL
    return None


def refusal(level: StorageLevel) -> CheckinRefused:
    if level == StorageLevel.DAMAGED:
        return CheckinRefused(CheckinRefusal.STORE_DAMAGED,
                              Sentence("the terminal's store is damaged: it is being recovered; "
                                       "try again in a minute, and tell staff"))
    if level == StorageLevel.READONLY:
        return CheckinRefused(CheckinRefusal.STORAGE_READONLY,
                              Sentence("the terminal's storage has become read-only: nothing "
                                       "can be recorded; call staff to replace the card"))
    return CheckinRefused(CheckinRefusal.STORAGE_FULL,
                          Sentence("the terminal's storage is full: nothing can be recorded "
                                   "until space is freed; call staff"))


def storage_fault(level: StorageLevel, problem: object) -> StorageFault:
    """Opening the terminal failed for lack of storage (or a read-only card)."""
    if level == StorageLevel.DAMAGED:
        return StorageFault(level, Sentence("the terminal's store is damaged (%(problem)s): it "
                                            "is recovered when the terminal opens again",
                                            problem=problem))
    if level == StorageLevel.READONLY:
        return StorageFault(level, Sentence("the terminal's storage is read-only (%(problem)s): "
                                            "replace the card, then restart",
                                            problem=problem))
    return StorageFault(level, Sentence("the terminal's storage is full (%(problem)s): free "
                                        "space, then restart", problem=problem))


# --- the guard of one open terminal -------------------------------------------------

class StorageGuard:
    """Checked before each check-in (:meth:`before_write`); failures of the write itself go
    through :meth:`writing`. Thread-safe: the kiosk's scans, manual entries and sync share it."""

    def __init__(self, terminal: Terminal, clock: Callable[[], float] = time.monotonic,
                 cache_seconds: float = CACHE_SECONDS) -> None:
        self._terminal = terminal
        self._home = terminal.home
        self._limits = limits_of(terminal.config)
        self._clock = clock
        self._cache_seconds = cache_seconds
        self._lock = threading.Lock()
        self._reading: Reading | None = None
        self._read_at = 0.0
        self._recorded: str | None = None
        self.fault: StorageLevel | None = None
        """The fault the door shows now (full or read-only), or None."""

    # readings -----------------------------------------------------------------------

    def _db_free_bytes(self) -> int:
        def job(conn: sqlite3.Connection) -> int:
            free = conn.execute("PRAGMA freelist_count").fetchone()[0]
            size = conn.execute("PRAGMA page_size").fetchone()[0]
            return int(free) * int(size)
        try:
            return self._terminal.store.read(job)
        except sqlite3.Error:
            return 0

    def reading(self, fresh: bool = False, probe: bool = False) -> Reading:
        """The storage now (cached for ``cache_seconds`` unless ``fresh``); ``probe`` also
        tries to create a file (as it always does while a read-only fault is shown)."""
        with self._lock:
            now = self._clock()
            if fresh or probe or self._reading is None \
                    or now - self._read_at >= self._cache_seconds:
                try:
                    self._reading = measure(self._home, self._limits, self._db_free_bytes(),
                                            probe=probe or self.fault == StorageLevel.READONLY)
                except OSError:
                    self._reading = Reading(StorageLevel.READONLY, 0)
                self._read_at = now
            return self._reading

    def forget(self) -> None:
        """The next check reads the disk again (after a failure, a sync, a freed card)."""
        with self._lock:
            self._reading = None

    # the write path -----------------------------------------------------------------

    def before_write(self) -> None:
        """Raise the refusal while the storage is full or read-only; note each change of
        level in the ledger."""
        reading = self.reading()
        if reading.level != self._last_level():
            self.settle(reading)
            reading = self.reading()
        if reading.level in FAULTS:
            self.fault = reading.level
            raise refusal(reading.level)
        self.fault = None

    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        """A write that still failed for lack of storage becomes the same refusal."""
        try:
            yield
        except (sqlite3.Error, OSError) as exc:
            level = fault_of(exc, self._home)
            if level is None:
                raise
            log(logger, "storage.write_failed", logging.ERROR, storage=level,
                error=f"{type(exc).__name__}: {exc}")
            self.forget()
            self.fault = level
            if level == StorageLevel.FULL:
                self.settle(Reading(StorageLevel.FULL, 0))
            raise refusal(level) from None

    def _last_level(self) -> str | None:
        if self._recorded is None:
            try:
                stored = self._terminal.store.read(
                    lambda conn: conn.execute("SELECT value FROM meta WHERE key = ?",
                                              (STATE_KEY,)).fetchone())
            except sqlite3.Error:
                stored = None
            self._recorded = bytes(stored[0]).decode() if stored else StorageLevel.OK.value
        return self._recorded

    def settle(self, reading: Reading | None = None) -> StorageLevel:
        """Act on the current level: give the reserve back when full, make it again when
        there is room, and record a change of level in the outage ledger."""
        reading = reading or self.reading(fresh=True)
        level = reading.level
        if level == StorageLevel.READONLY:
            self.fault = level
            return level
        if level == StorageLevel.FULL:
            if give_back_reserve(self._home):
                self.forget()
        elif make_reserve(self._home, self._limits):
            self.forget()
            level = self.reading(fresh=True).level
        self.fault = level if level in FAULTS else None
        if level != self._last_level():
            self._record(level, reading.free_bytes)
        return level

    def _record(self, level: StorageLevel, free_bytes: int) -> None:
        try:
            record_system(self._terminal, SystemEvent(level.value), f"free={free_bytes}",
                          also=lambda conn: set_meta(conn, STATE_KEY, level.value))
        except (sqlite3.Error, OSError) as exc:
            log(logger, "storage.not_recorded", logging.ERROR, storage=level,
                error=f"{type(exc).__name__}: {exc}")
            return
        self._recorded = level.value
        log(logger, "storage.level", logging.WARNING if level != StorageLevel.OK
            else logging.INFO, storage=level, free_bytes=free_bytes)

    def after_sync(self) -> None:
        """A sync deleted acknowledged events: fold the log back into the store and look
        again (check-ins start again when there is room above the floor and the reserve)."""
        with contextlib.suppress(sqlite3.Error, OSError):
            self._terminal.store.read(  # a read connection holds no transaction open
                lambda conn: conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall())
        self.forget()
        with contextlib.suppress(sqlite3.Error, OSError):
            self.settle()

    def problem(self) -> str:
        """The stable code of the fault to show (``storage_full``, ``storage_readonly``) or
        ``storage_low``, or "" when the storage is fine (the kiosk's status)."""
        reading = self.reading()
        if reading.level == StorageLevel.OK and self.fault is None:
            return ""
        if self.fault is not None and reading.level == StorageLevel.OK:
            return str(self.fault)  # until the next check-in or sync settles it
        return str(reading.level)
