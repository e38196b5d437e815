"""Structured log lines (one JSON object per line) shared by every Qatys process.

Log what happened and to which terminal or kindergarten, never to whom: no
child ids, names, IINs or free-text reasons ever go into a log line.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import os
import sys
import time
from pathlib import Path
from typing import Any


class JsonLineFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        line.update(getattr(record, "fields", {}))
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, sort_keys=False, default=str)


def log(logger: logging.Logger, event: str, level: int = logging.INFO, **fields: Any) -> None:
    """Write one structured line: ``event`` names what happened, ``fields`` say where."""
    logger.log(level, event, extra={"fields": fields})


class CappedFileHandler(logging.handlers.RotatingFileHandler):
    """A log file that never takes the last space of a card: rotated at ``max_bytes`` with
    ``backups`` old files kept (so at most ``(backups + 1) × max_bytes`` on disk), and a
    line that cannot be written (a full or read-only card) is dropped and counted, never a
    traceback on stderr."""

    dropped = 0

    def _open(self):  # type: ignore[no-untyped-def]  # logging's own signature
        """Each new file (also after a rotation) is made 0600 like the first."""
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        return open(fd, self.mode, encoding=self.encoding, errors=self.errors)

    def handleError(self, record: logging.LogRecord) -> None:
        CappedFileHandler.dropped += 1


def configure(log_file: Path | None = None, level: int = logging.INFO, *,
              max_bytes: int = 0, backups: int = 0) -> None:
    """Send Qatys's log lines to stderr and, when given, to a file (made 0600), rotated at
    ``max_bytes`` (0: never) keeping ``backups`` old files. A file that cannot be opened (a
    read-only card) leaves stderr alone, said there once."""
    root = logging.getLogger("qatys")
    root.setLevel(level)
    root.handlers.clear()
    root.propagate = False
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    problem = ""
    if log_file is not None:
        try:
            log_file.parent.mkdir(parents=True, exist_ok=True)
            log_file.touch(mode=0o600, exist_ok=True)
            handlers.append(CappedFileHandler(log_file, maxBytes=max_bytes,
                                              backupCount=backups, encoding="utf-8"))
        except OSError as exc:
            problem = f"{type(exc).__name__}: {exc.strerror}"
    for handler in handlers:
        handler.setFormatter(JsonLineFormatter())
        root.addHandler(handler)
    if len(handlers) > 1:
        handlers[0].setLevel(logging.WARNING)
    if problem:
        log(root, "log_file.unavailable", logging.WARNING, error=problem)
