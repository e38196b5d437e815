"""The kiosk's local web server: the page, its server-sent events, the preview, manual entry.

Bound to 127.0.0.1 only: the kiosk Chromium on the same machine is its one user.
"""

from __future__ import annotations

import queue
import time
from collections.abc import Iterator
from typing import Any

from flask import Flask, Response, jsonify, render_template, request
from markupsafe import Markup

from terminal.checkin import DoorResult
from terminal.kiosk.service import Kiosk, jpeg_of, sse_message
from terminal.kiosk.texts import LANGUAGES, PAGE_WORDS, both, pending_forms, plural_rule

PREVIEW_INTERVAL_S = 0.2
HEARTBEAT_S = 10.0


def create_kiosk_app(kiosk: Kiosk) -> Flask:
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = 16 * 1024
    _screen_routes(app, kiosk)
    _staff_routes(app, kiosk)
    return app


def _screen_routes(app: Flask, kiosk: Kiosk) -> None:
    """What the door screen reads: the page, its events, the camera preview, the status."""

    @app.get("/")
    def page() -> str:
        lang = request.args.get("lang", "kk")
        return render_template("kiosk.html", lang=lang if lang in LANGUAGES else "kk",
                               status=kiosk.status(), _=_marked, words=_attributes,
                               script=_script_words(),
                               plural={lang: _script_expression(lang) for lang in LANGUAGES})

    @app.get("/events")
    def events() -> Response:
        return Response(_event_stream(kiosk), mimetype="text/event-stream",
                        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    @app.get("/preview.mjpg")
    def preview() -> Response:
        return Response(_preview_stream(kiosk),
                        mimetype="multipart/x-mixed-replace; boundary=frame")

    @app.get("/status")
    def status() -> Response:
        return jsonify(kiosk.status())


def _event_stream(kiosk: Kiosk) -> Iterator[str]:
    """The kiosk's events as they happen, and its status at least every HEARTBEAT_S."""
    inbox = kiosk.events.subscribe()
    try:
        yield sse_message("status", kiosk.status())
        while True:
            try:
                yield inbox.get(timeout=HEARTBEAT_S)
            except queue.Empty:
                yield sse_message("status", kiosk.status())
    finally:
        kiosk.events.unsubscribe(inbox)


def _preview_stream(kiosk: Kiosk) -> Iterator[bytes]:
    while True:
        data = jpeg_of(kiosk.pipeline.latest if kiosk.pipeline else None)
        if data is not None:
            yield (b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: "
                   + str(len(data)).encode() + b"\r\n\r\n" + data + b"\r\n")
        time.sleep(PREVIEW_INTERVAL_S)


def _staff_routes(app: Flask, kiosk: Kiosk) -> None:
    """What staff do at the screen with their PIN: a manual entry, a face enrolment or
    withdrawal. A body that is not a JSON object is refused before the PIN is looked at."""

    @app.post("/manual")
    def manual() -> tuple[Response, int]:
        body = _json_object()
        if body is None:
            return _bad_request()
        direction = body.get("direction") or None
        result = kiosk.manual(str(body.get("pin", "")), str(body.get("child_id", "")),
                              str(body.get("reason", "")), direction)
        return jsonify(result), 200 if result["result"] == DoorResult.ACCEPTED else 400

    @app.post("/face/enrol")
    def face_enrol() -> tuple[Response, int]:
        body = _json_object()
        if body is None:
            return _bad_request()
        result = kiosk.face_enrolment(str(body.get("pin", "")), str(body.get("child_id", "")))
        return jsonify(result), 202 if result["result"] == DoorResult.STARTED else 400

    @app.post("/face/withdraw")
    def face_withdraw() -> tuple[Response, int]:
        body = _json_object()
        if body is None:
            return _bad_request()
        result = kiosk.face_withdrawal(str(body.get("pin", "")), str(body.get("child_id", "")),
                                       str(body.get("by", ""))[:200])
        return jsonify(result), 200 if result["result"] == DoorResult.WITHDRAWN else 400


def _json_object() -> dict[str, Any] | None:
    body: Any = request.get_json(silent=True)
    return body if isinstance(body, dict) else None


def _bad_request() -> tuple[Response, int]:
    return jsonify({"result": DoorResult.REJECTED, "reason": "bad_request"}), 400


def _marked(message: str) -> str:
    """``_`` in the door page: marks a message for the catalogue (the page holds both
    languages and switches between them itself, so ``words`` looks each up)."""
    return message


def _attributes(message: str) -> Markup:
    """``data-kk="…" data-ru="…"``: the page shows the one of its language."""
    said = both(message)
    return Markup('data-kk="{}" data-ru="{}"').format(said["kk"], said["ru"])


def _script_expression(lang: str) -> Markup:
    """The catalogue's plural rule as the page's script code: ``plural_rule`` lets through
    only ``n``, digits and operators, so it cannot end the script or inject any."""
    return Markup(plural_rule(lang))  # noqa: S704


def _script_words() -> dict[str, dict[str, object]]:
    words = {key: both(message) for key, message in PAGE_WORDS.items()}
    pending = pending_forms()
    return {lang: {**{key: said[lang] for key, said in words.items()}, "pending": pending[lang]}
            for lang in LANGUAGES}
