"""Whether a server (or a worker) runs on a data directory: ``DATA/server.run.lock``.

``qatys server run`` and ``qatys server worker`` hold a shared ``flock`` on the file for as long
as they live (the kernel drops it when the process ends, however it ends: no stale pid file to
clean up); ``qatys server restore`` takes it exclusively, without waiting, so it refuses while
either runs on this machine, and a server started during a restore refuses to start."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from qatys.sentences import Sentence
from server.errors import BackupError, SetupError

RUN_LOCK = "server.run.lock"

_held: list[int] = []
"""The descriptors this process holds its shared lock through (for the process's life)."""


def _open(data_dir: Path) -> int:
    return os.open(data_dir / RUN_LOCK, os.O_RDWR | os.O_CREAT, 0o600)


def hold_shared(data_dir: Path) -> None:
    """Mark this process as running on ``data_dir`` until it ends; refused while a restore
    holds the directory."""
    fd = _open(data_dir)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise SetupError(Sentence("a restore of %(data_dir)s is in progress: start the server "
                                  "when it has finished", data_dir=data_dir)) from None
    _held.append(fd)


@contextmanager
def exclusive(data_dir: Path) -> Iterator[None]:
    """The directory for a restore alone: refused (``server_running``) while a server or a
    worker runs on it; a server started meanwhile refuses to start. Call it after every other
    check: a directory where no server ever ran gets its lock file here."""
    if not data_dir.is_dir():
        yield  # a new directory: no server can run on it before the restore made it
        return
    fd = _open(data_dir)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BackupError("server_running", Sentence(
                "the server (or a worker) is running on %(data_dir)s: stop it first "
                "(systemctl stop qatys-server qatys-worker); nothing changed",
                data_dir=data_dir)) from None
        yield
    finally:
        os.close(fd)
