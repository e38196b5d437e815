"""The screen of a kiosk whose store cannot be opened for lack of storage (a full card, or one
the kernel made read-only): instead of exiting (systemd would restart it into the same fault,
and a crash loop looks like a dead terminal) it shows the reason in Kazakh and Russian on the
kiosk's port and tries to open the store again every :data:`RETRY_SECONDS`; once it opens,
the door screen takes over in the same process."""

from __future__ import annotations

import html
import logging
import threading
from collections.abc import Callable
from pathlib import Path

from flask import Flask, Response, jsonify

from qatys.logs import log
from terminal import config as config_file
from terminal.errors import StorageFault
from terminal.home import Terminal, open_terminal
from terminal.kiosk.serving import LocalPage
from terminal.kiosk.texts import say

logger = logging.getLogger("qatys.terminal.kiosk")

RETRY_SECONDS = 5.0


def create_fault_app(reason: Callable[[], str]) -> Flask:
    app = Flask(__name__)

    @app.get("/")
    def page() -> str:
        code = reason()
        said = say(code)
        return ('<!doctype html><html lang="kk"><head><meta charset="utf-8"><title>Qatys</title>'
                '<style>body{margin:0;height:100vh;display:flex;flex-direction:column;'
                'align-items:center;justify-content:center;background:#c62828;color:#fff;'
                'font-family:"DejaVu Sans",sans-serif;font-size:40px;text-align:center}'
                '</style></head><body>'
                f'<div id="storage" data-storage="{html.escape(code)}">'
                f'<p lang="kk">{html.escape(said["kk"])}</p>'
                f'<p lang="ru">{html.escape(said["ru"])}</p></div>'
                '<script>setTimeout(function(){location.reload();},5000);</script>'
                '</body></html>')

    @app.get("/status")
    def status() -> Response:
        code = reason()
        return jsonify({"mode": "fault", "storage": code, "storage_text": say(code)})

    return app


def open_or_wait(home: Path, port: int | None, stop: threading.Event | None = None,
                 retry_seconds: float = RETRY_SECONDS) -> Terminal | None:
    """The opened terminal; while its storage is full or read-only, the fault screen is served
    until it opens (then the terminal) or the kiosk is stopped (None)."""
    try:
        return open_terminal(home)
    except StorageFault as exc:
        fault = exc
    stop = stop or threading.Event()
    current = [fault.reason]
    opened: list[Terminal] = []
    page = LocalPage(create_fault_app(lambda: current[0]),
                     port or config_file.load(home).kiosk_port, stop, "qatys-fault-web")
    log(logger, "kiosk.storage_fault", logging.ERROR, storage=fault.reason, port=page.port)
    page.ready(f"storage fault {fault.reason} on port {page.port}")
    while not stop.wait(retry_seconds):
        try:
            opened.append(open_terminal(home))
        except StorageFault as again:
            current[0] = again.reason
            continue
        break
    page.close()
    if opened:
        log(logger, "kiosk.storage_recovered", storage=current[0])
        if stop.is_set():  # pragma: no cover - stopped in the same instant
            opened[0].close()
            return None
        return opened[0]
    return None
