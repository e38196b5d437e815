"""First boot: a terminal with no enrolment shows "scan the enrolment code" and enrols itself
from the token QR (``qatys terminal token --qr``) held up to its camera. No keyboard.

The QR holds ``qatys://enrol?server=…&token=…``; the terminal pins the server's key by the
token's fingerprint (terminal/enrol.py), so a code pointing at another server is refused
there. Any other code is refused on the screen and changes nothing; a used or expired
token says so, and the screen waits for the next code.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from flask import Flask, Response, jsonify, render_template, request

from protocol import enrolment
from protocol.errors import AnswerRefusal, TokenError
from qatys.logs import log
from terminal.capture.decoders import default_reader
from terminal.capture.pipeline import CapturePipeline
from terminal.capture.sources import Frame, FrameSource
from terminal.config import TerminalConfig
from terminal.enrol import enrol
from terminal.errors import (
    AnswerRefused,
    PlainHttpRefused,
    ServerRefused,
    ServerUnreachable,
    SetupError,
)
from terminal.kiosk.service import jpeg_of
from terminal.kiosk.serving import LocalPage
from terminal.kiosk.texts import ENROLMENT_REFUSED, say

logger = logging.getLogger("qatys.terminal.first_boot")

FIRST_BOOT_PORT = TerminalConfig.kiosk_port
"""The kiosk port before there is a terminal.toml: its default ``kiosk_port``."""


class DeskState(StrEnum):
    """Where the first-boot enrolment stands (``GET /status``'s ``state``, docs/kiosk.md)."""
    WAITING = "waiting"
    ENROLLING = "enrolling"
    REFUSED = "refused"
    """``reason`` says why; the next code held up tries again."""
    ENROLLED = "enrolled"


@dataclass
class EnrolmentDesk:
    """Turns codes read by the camera into one enrolment; remembers what to show."""

    home: Path
    allow_plain_http: bool = False
    state: DeskState = DeskState.WAITING
    reason: str = ""
    finished: threading.Event = field(default_factory=threading.Event)
    """Set once enrolled, or when the screen is asked to stop."""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def on_code(self, text: str, frame: Frame | None = None) -> None:
        if self.finished.is_set() or not self._lock.acquire(blocking=False):
            return
        try:
            self._try(text)
        finally:
            self._lock.release()

    def _try(self, text: str) -> None:
        try:
            server_url, token = enrolment.parse_enrolment_uri(text.strip())
        except TokenError as exc:
            self._refuse("not_enrolment_code" if exc.message.startswith("this code")
                         else "token_invalid")
            return
        self.state, self.reason = DeskState.ENROLLING, ""
        try:
            config = enrol(self.home, server_url, str(token),
                           allow_plain_http=self.allow_plain_http)
        except ServerRefused as exc:
            self._refuse(exc.code)
            return
        except AnswerRefused as exc:
            self._refuse(exc.reason if exc.reason == AnswerRefusal.SERVER_KEY_MISMATCH
                         else "answer_refused")
            return
        except PlainHttpRefused:
            self._refuse(PlainHttpRefused.reason)
            return
        except ServerUnreachable:
            self._refuse("server_unreachable")
            return
        except SetupError:
            self._refuse("setup")
            return
        self.state = DeskState.ENROLLED
        log(logger, "first_boot.enrolled", terminal=config.terminal_id,
            kindergarten=config.kindergarten)
        self.finished.set()

    def _refuse(self, reason: str) -> None:
        self.state, self.reason = DeskState.REFUSED, reason
        log(logger, "first_boot.refused", level=logging.WARNING, reason=reason)

    def status(self) -> dict[str, Any]:
        shown = self.reason if self.state == DeskState.REFUSED else self.state
        return {"mode": "enrolment", "state": self.state, "reason": self.reason,
                "message": say(shown, ENROLMENT_REFUSED)}


def create_enrolment_app(desk: EnrolmentDesk, pipeline: CapturePipeline) -> Flask:
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = 1024

    @app.get("/")
    def page() -> str:
        lang = request.args.get("lang", "kk")
        return render_template("enrol.html", lang=lang if lang in ("kk", "ru") else "kk",
                               waiting=say("waiting"))

    @app.get("/status")
    def status() -> Response:
        return jsonify(desk.status())

    @app.get("/preview.jpg")
    def preview() -> Response:
        data = jpeg_of(pipeline.latest)
        return Response(data or b"", status=200 if data else 204, mimetype="image/jpeg")

    return app


def run_first_boot(home: Path, source: FrameSource, port: int | None = None,
                   stop: threading.Event | None = None, *,
                   allow_plain_http: bool = False) -> bool:
    """Serve the enrolment screen until enrolled (True) or stopped (False)."""
    desk = EnrolmentDesk(home, allow_plain_http, finished=stop or threading.Event())
    pipeline = CapturePipeline(source, default_reader(), desk.on_code)
    page = LocalPage(create_enrolment_app(desk, pipeline), port or FIRST_BOOT_PORT,
                     desk.finished, "qatys-enrol-web")
    pipeline.start()
    log(logger, "first_boot.waiting", source=source.name, port=page.port)
    page.ready(f"waiting for the enrolment code on port {page.port}")
    desk.finished.wait()
    pipeline.stop()
    page.close()
    return desk.state == DeskState.ENROLLED
