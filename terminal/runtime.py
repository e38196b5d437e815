"""Secrets held in RAM only: the roster key and today's de-duplication key.

They live in a runtime directory on tmpfs (``/run/qatys/<terminal id>`` by
default), which a reboot or a power cut wipes. A stolen disk therefore holds
neither: the roster stays unreadable until the server (or a director) unlocks
the terminal again, and past days' de-duplication tags cannot be linked to
any child. Check-ins never depend on these secrets being present.
"""

from __future__ import annotations

import fcntl
import os
from dataclasses import dataclass
from pathlib import Path

from qatys.files import write_private

ENV_RUNTIME_DIR = "QATYS_RUNTIME_DIR"
ROSTER_KEY = "roster.key"
DAY_KEY = "day.key"
PHONE_CODES = "phone-codes-used"


def resolve_dir(terminal_id: str, configured: str = "") -> Path:
    """The runtime directory: env override, then config, then /run, then a per-user tmpfs."""
    override = os.environ.get(ENV_RUNTIME_DIR) or configured
    if override:
        return Path(override)
    candidates = [Path("/run/qatys")]
    if os.environ.get("XDG_RUNTIME_DIR"):
        candidates.append(Path(os.environ["XDG_RUNTIME_DIR"]) / "qatys")
    candidates.append(Path("/dev/shm") / f"qatys-{os.getuid()}")  # noqa: S108 - tmpfs, 0700
    for base in candidates:
        try:
            base.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError:
            continue
        if os.access(base, os.W_OK):
            return base / terminal_id
    raise OSError("no writable runtime directory for RAM-held secrets")


@dataclass(frozen=True)
class DayKey:
    day: str
    key: bytes


class RuntimeSecrets:
    """Reads and replaces the RAM-held secret files of one terminal."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def roster_key(self) -> bytes | None:
        return self._read(ROSTER_KEY)

    def set_roster_key(self, key: bytes) -> None:
        write_private(self.directory / ROSTER_KEY, key)

    def day_key(self) -> DayKey | None:
        raw = self._read(DAY_KEY)
        if raw is None or len(raw) != 10 + 32:
            return None
        return DayKey(raw[:10].decode("ascii"), raw[10:])

    def new_day_key(self, day: str) -> DayKey:
        """Destroy yesterday's key (overwrite, then replace) and make today's."""
        path = self.directory / DAY_KEY
        if path.exists():
            write_private(path, bytes(42))
        key = DayKey(day, os.urandom(32))
        write_private(path, day.encode("ascii") + key.key)
        return key

    def first_use(self, token: bytes, window: int, oldest_window: int) -> bool:
        """Record a phone code's use; False when it was used already. Kept in RAM only (a
        code is valid for a minute or two) and shared by every process of the terminal."""
        path = self.directory / PHONE_CODES
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            with os.fdopen(os.dup(fd), "r+", encoding="ascii") as handle:
                lines = [line.split() for line in handle.read().splitlines() if line.strip()]
                kept = [(w, t) for w, t in lines if int(w) >= oldest_window]
                if any(t == token.hex() for _, t in kept):
                    return False
                kept.append((str(window), token.hex()))
                handle.seek(0)
                handle.truncate()
                handle.write("".join(f"{w} {t}\n" for w, t in kept))
            return True
        finally:
            os.close(fd)

    def _read(self, name: str) -> bytes | None:
        try:
            return (self.directory / name).read_bytes()
        except FileNotFoundError:
            return None
