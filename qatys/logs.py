"""Structured log lines (one JSON object per line) shared by every Qatys process.

Log what happened and to which terminal or kindergarten, never to whom: no
child ids, names, IINs or free-text reasons ever go into a log line.
"""

from __future__ import annotations

import json
import logging
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


def configure(log_file: Path | None = None, level: int = logging.INFO) -> None:
    """Send Qatys's log lines to stderr and, when given, to a file (made 0600)."""
    root = logging.getLogger("qatys")
    root.setLevel(level)
    root.handlers.clear()
    root.propagate = False
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        log_file.touch(mode=0o600, exist_ok=True)
        handlers.append(logging.FileHandler(log_file, encoding="utf-8"))
    for handler in handlers:
        handler.setFormatter(JsonLineFormatter())
        root.addHandler(handler)
    if log_file is not None:
        handlers[0].setLevel(logging.WARNING)
