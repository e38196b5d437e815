"""The kiosk's local web server: the page, its server-sent events, the preview, manual entry.

Bound to 127.0.0.1 only: the kiosk Chromium on the same machine is its one user.
"""

from __future__ import annotations

import queue
import time
from collections.abc import Iterator
from typing import Any

from flask import Flask, Response, jsonify, render_template, request

from terminal.checkin import DoorResult
from terminal.kiosk.service import Kiosk, jpeg_of, sse_message

PREVIEW_INTERVAL_S = 0.2
HEARTBEAT_S = 10.0


def create_kiosk_app(kiosk: Kiosk) -> Flask:
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = 16 * 1024

    @app.get("/")
    def page() -> str:
        lang = request.args.get("lang", "kk")
        return render_template("kiosk.html", lang=lang if lang in ("kk", "ru") else "kk",
                               status=kiosk.status())

    @app.get("/events")
    def events() -> Response:
        inbox = kiosk.events.subscribe()

        def stream() -> Iterator[str]:
            try:
                yield sse_message("status", kiosk.status())
                while True:
                    try:
                        yield inbox.get(timeout=HEARTBEAT_S)
                    except queue.Empty:
                        yield sse_message("status", kiosk.status())
            finally:
                kiosk.events.unsubscribe(inbox)

        return Response(stream(), mimetype="text/event-stream",
                        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    @app.get("/preview.mjpg")
    def preview() -> Response:
        def stream() -> Iterator[bytes]:
            while True:
                data = jpeg_of(kiosk.pipeline.latest if kiosk.pipeline else None)
                if data is not None:
                    yield (b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: "
                           + str(len(data)).encode() + b"\r\n\r\n" + data + b"\r\n")
                time.sleep(PREVIEW_INTERVAL_S)

        return Response(stream(), mimetype="multipart/x-mixed-replace; boundary=frame")

    @app.get("/status")
    def status() -> Response:
        return jsonify(kiosk.status())

    @app.post("/manual")
    def manual() -> tuple[Response, int]:
        body: Any = request.get_json(silent=True)
        if not isinstance(body, dict):
            return jsonify({"result": DoorResult.REJECTED, "reason": "bad_request"}), 400
        direction = body.get("direction") or None
        result = kiosk.manual(str(body.get("pin", "")), str(body.get("child_id", "")),
                              str(body.get("reason", "")), direction)
        return jsonify(result), 200 if result["result"] == DoorResult.ACCEPTED else 400

    @app.post("/face/enrol")
    def face_enrol() -> tuple[Response, int]:
        body: Any = request.get_json(silent=True)
        if not isinstance(body, dict):
            return jsonify({"result": DoorResult.REJECTED, "reason": "bad_request"}), 400
        result = kiosk.face_enrolment(str(body.get("pin", "")), str(body.get("child_id", "")))
        return jsonify(result), 202 if result["result"] == DoorResult.STARTED else 400

    @app.post("/face/withdraw")
    def face_withdraw() -> tuple[Response, int]:
        body: Any = request.get_json(silent=True)
        if not isinstance(body, dict):
            return jsonify({"result": DoorResult.REJECTED, "reason": "bad_request"}), 400
        result = kiosk.face_withdrawal(str(body.get("pin", "")), str(body.get("child_id", "")),
                                       str(body.get("by", ""))[:200])
        return jsonify(result), 200 if result["result"] == DoorResult.WITHDRAWN else 400

    return app
