"""The one JSON shape of every answer: ``{"ok": true, ...}`` or ``{"ok": false, "error": ...}``."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from flask import Response, jsonify

from server.errors import RequestError


def ok(status: int = 200, **body: Any) -> tuple[Response, int]:
    return jsonify({"ok": True, **body}), status


def error(status: int, code: str, message: str, **details: Any) -> tuple[Response, int]:
    payload: dict[str, Any] = {"code": code, "message": message}
    payload.update(details)
    return jsonify({"ok": False, "error": payload}), status


def base64_field(value: Any, name: str) -> bytes:
    """A base64 field of a JSON request (text, never coerced), or a 400 ``malformed`` naming
    it (``details.field``)."""
    if not isinstance(value, str):
        raise RequestError("malformed", f"{name} must be base64", field=name)
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise RequestError("malformed", f"{name} must be base64", field=name) from exc
