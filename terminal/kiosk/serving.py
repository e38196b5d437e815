"""Serving a kiosk page on 127.0.0.1 until asked to stop: shared by the door screen and the
first-boot enrolment screen."""

from __future__ import annotations

import signal
import threading
from types import FrameType

from flask import Flask
from werkzeug.serving import make_server

from terminal.systemd_notify import notify, start_watchdog


class LocalPage:
    """``app`` on 127.0.0.1:``port`` in a thread; SIGTERM/SIGINT set ``stop``. Once ready,
    systemd hears READY=1 and the watchdog is pinged while the page is served."""

    def __init__(self, app: Flask, port: int, stop: threading.Event, name: str) -> None:
        self._server = make_server("127.0.0.1", port, app, threaded=True)
        self._stop = stop
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, self._on_signal)
            signal.signal(signal.SIGINT, self._on_signal)
        self._thread = threading.Thread(target=self._server.serve_forever, name=name,
                                        daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        return self._server.server_port

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        self._stop.set()

    def ready(self, status: str) -> None:
        notify(f"READY=1\nSTATUS={status}")
        start_watchdog(self._thread.is_alive, self._stop)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
