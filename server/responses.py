"""The one JSON shape of every answer: ``{"ok": true, ...}`` or ``{"ok": false, "error": ...}``."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify


def ok(status: int = 200, **body: Any) -> tuple[Response, int]:
    return jsonify({"ok": True, **body}), status


def error(status: int, code: str, message: str, **details: Any) -> tuple[Response, int]:
    payload: dict[str, Any] = {"code": code, "message": message}
    payload.update(details)
    return jsonify({"ok": False, "error": payload}), status
