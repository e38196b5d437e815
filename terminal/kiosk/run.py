"""`qatys terminal run`: camera (or clip) → decoder → door → kiosk page, plus background sync."""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path
from types import FrameType

from werkzeug.serving import make_server

from qatys.logs import log
from terminal.capture.decoders import default_reader
from terminal.capture.pipeline import CapturePipeline
from terminal.capture.sources import CameraSource, ClipSource, FrameSource
from terminal.home import Terminal
from terminal.kiosk.service import Kiosk, logger
from terminal.kiosk.web import create_kiosk_app
from terminal.outages import record_start
from terminal.systemd_notify import notify, start_watchdog


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
    record_start(terminal)  # the outage ledger: power-on or restart
    kiosk.pipeline = CapturePipeline(source, default_reader(), kiosk.on_code)
    server = make_server("127.0.0.1", port or terminal.config.kiosk_port,
                         create_kiosk_app(kiosk), threaded=True)
    stop = stop or threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
    web = threading.Thread(target=server.serve_forever, name="qatys-kiosk-web", daemon=True)
    web.start()
    kiosk.pipeline.start()
    kiosk.start_sync()
    log(logger, "kiosk.started", terminal=terminal.terminal_id, source=source.name,
        port=server.server_port)
    notify(f"READY=1\nSTATUS=door screen on port {server.server_port}")
    start_watchdog(web.is_alive, stop)
    if ready is not None:
        ready.set()
    stop.wait()
    log(logger, "kiosk.stopping", terminal=terminal.terminal_id)
    server.shutdown()
    server.server_close()
    kiosk.stop()
