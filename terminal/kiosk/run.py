"""`qatys terminal run`: camera (or clip) → decoder → door → kiosk page, plus background sync."""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path

from qatys.logs import log
from terminal.capture.decoders import default_reader
from terminal.capture.pipeline import CapturePipeline
from terminal.capture.sources import CameraSource, ClipSource, FrameSource
from terminal.home import Terminal
from terminal.kiosk.service import Kiosk, logger
from terminal.kiosk.serving import LocalPage
from terminal.kiosk.web import create_kiosk_app
from terminal.outages import record_start


def open_source(camera: int | None, clip: Path | None, loop: bool = True) -> FrameSource:
    if clip is not None:
        return ClipSource(clip, loop=loop)
    return CameraSource(camera or 0)


def run_kiosk(terminal: Terminal, source: FrameSource, port: int | None = None,
              ready: threading.Event | None = None,
              stop: threading.Event | None = None) -> None:
    """Serve the kiosk on 127.0.0.1 until SIGTERM/SIGINT (or ``stop`` is set)."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no per-request lines
    kiosk = Kiosk(terminal)
    try:
        record_start(terminal)  # the outage ledger: power-on or restart
    except (sqlite3.Error, OSError) as exc:  # a full or read-only card: the door still shows
        log(logger, "kiosk.start_not_recorded", logging.ERROR,
            error=f"{type(exc).__name__}: {exc}")
    kiosk.pipeline = CapturePipeline(source, default_reader(), kiosk.on_code)
    stop = stop or threading.Event()
    page = LocalPage(create_kiosk_app(kiosk), port or terminal.config.kiosk_port, stop,
                     "qatys-kiosk-web")
    kiosk.pipeline.start()
    kiosk.start_sync()
    log(logger, "kiosk.started", terminal=terminal.terminal_id, source=source.name,
        port=page.port)
    page.ready(f"door screen on port {page.port}")
    if ready is not None:
        ready.set()
    stop.wait()
    log(logger, "kiosk.stopping", terminal=terminal.terminal_id)
    page.close()
    kiosk.stop()
