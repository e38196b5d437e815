"""Terminal endpoints of the face relay and of withdrawals taken at the door (signed requests).

Everything here is encrypted for terminals (templates, face keys) or for the server (notices);
the JSON around it carries only ids, consent record numbers and reasons.
"""

from __future__ import annotations

import base64
from typing import Any

from flask import Blueprint, Response

from server.context import ctx
from server.errors import RequestError
from server.families import face_templates, withdrawals
from server.storage import db
from server.sync.auth import authenticated_terminal
from server.web.bodies import INT64_MAX, json_object
from server.web.responses import base64_field, ok

bp = Blueprint("faces", __name__, url_prefix="/api/v1/terminal")

def _body(*required: str) -> dict[str, Any]:
    return json_object(*required)


def _text(value: Any, name: str, max_len: int = 64) -> str:
    if not isinstance(value, str) or not 0 < len(value) <= max_len:
        raise RequestError("malformed", f"{name} must be text of 1..{max_len} characters")
    return value


def _texts(value: Any, name: str) -> list[str]:
    if not isinstance(value, list) or len(value) > face_templates.MAX_LIST:
        raise RequestError("malformed", f"{name} must be a list of at most "
                           f"{face_templates.MAX_LIST}")
    return [_text(v, name, 32) for v in value]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@bp.post("/faces/templates")
def upload() -> tuple[Response, int]:
    """A template enrolled at this terminal (encrypted under the kindergarten's face key)."""
    terminal = authenticated_terminal()
    body = _body("template_id", "key_id", "child_id", "consent_record", "blob")
    record = body["consent_record"]
    if isinstance(record, bool) or not isinstance(record, int) or not 0 < record <= INT64_MAX:
        raise RequestError("malformed", "consent_record must be a positive integer")
    item = face_templates.Upload(_text(body["template_id"], "template_id", 32),
                                 _text(body["key_id"], "key_id", 16),
                                 _text(body["child_id"], "child_id"), record,
                                 base64_field(body["blob"], "blob"))
    context = ctx()
    with db.writing(context.engine) as conn:
        status = face_templates.accept_upload(conn, terminal, item, context.clock())
    return ok(201 if status == face_templates.UploadOutcome.STORED else 200, outcome=status)


@bp.post("/faces/keys")
def keys() -> tuple[Response, int]:
    """Face keys this terminal sealed to itself or to siblings that lacked them."""
    terminal = authenticated_terminal()
    body = _body("wraps")
    wraps = body["wraps"]
    if not isinstance(wraps, list) or not 0 < len(wraps) <= 100 or not all(
            isinstance(w, dict) and {"key_id", "terminal_id", "sealed"} <= set(w) for w in wraps):
        raise RequestError("malformed", "wraps is a list of {key_id, terminal_id, sealed}")
    parsed = [(_text(w["key_id"], "key_id", 16), _text(w["terminal_id"], "terminal_id", 32),
               base64_field(w["sealed"], "sealed")) for w in wraps]
    context = ctx()
    with db.writing(context.engine) as conn:
        added = face_templates.accept_wraps(conn, terminal, parsed, context.clock())
    return ok(added=added)


@bp.post("/faces/sync")
def sync() -> tuple[Response, int]:
    """The terminal says what it holds and what it erased; it learns what to erase, what to
    add, which keys it lacks and which siblings need a key from it."""
    terminal = authenticated_terminal()
    body = _body("have", "keys", "erased")
    erased = body["erased"]
    if not isinstance(erased, list) or len(erased) > face_templates.MAX_LIST or not all(
            isinstance(e, dict) and isinstance(e.get("erased_at_us"), int)
            and not isinstance(e["erased_at_us"], bool) and 0 <= e["erased_at_us"] <= INT64_MAX
            and isinstance(e.get("reason"), str)
            and e["reason"] in face_templates.REPORTED_REASONS for e in erased):
        raise RequestError("malformed", "erased is a list of {template_id, erased_at_us, "
                           "reason}; reason one of " + ", ".join(face_templates.REPORTED_REASONS))
    receipts = [(_text(e.get("template_id"), "template_id", 32), int(e["erased_at_us"]),
                 str(e["reason"])) for e in erased]
    context = ctx()
    now = context.clock()
    with db.writing(context.engine) as conn:
        recorded = face_templates.record_erasures(conn, terminal, receipts, now)
        answer = face_templates.face_sync(conn, terminal, _texts(body["have"], "have"),
                                          _texts(body["keys"], "keys"), now)
    return ok(erasures_recorded=recorded, erase=answer["erase"],
              add=[{**a, "blob": _b64(a["blob"])} for a in answer["add"]], more=answer["more"],
              key_wraps=[{**k, "sealed": _b64(k["sealed"])} for k in answer["key_wraps"]],
              wrap_for=[{**w, "box_pub": _b64(w["box_pub"])} for w in answer["wrap_for"]])


@bp.post("/consent/withdrawals")
def withdrawal() -> tuple[Response, int]:
    """A withdrawal of face consent taken at this terminal, for the consent ledger."""
    terminal = authenticated_terminal()
    body = _body("request_id", "sealed")
    context = ctx()
    with db.writing(context.engine) as conn:
        status = withdrawals.accept_notice(
            conn, terminal, _text(body["request_id"], "request_id", 32),
            base64_field(body["sealed"], "sealed"), context.keys.box_private, context.clock())
    return ok(outcome=status)
