"""Every refusal as an answer: the one table of HTTP statuses and the app's error handlers.

Services raise the families of :mod:`server.errors` with a stable ``code`` and no status;
:data:`STATUS` gives each code its status (docs/api.md, "Error codes", lists the same), and
:func:`install` registers the handlers that answer ``{"ok": false, "error": {"code",
"message", …details}}`` — for a service's refusal, for Flask's own 404/405/413 and for a bug
(500 ``internal_error``, the request changed nothing).
"""

from __future__ import annotations

import logging

from flask import Flask, Response, request
from flask.globals import request_ctx
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from qatys.logs import log
from server.errors import FamiliesError, ServiceError, SignInError, SyncError
from server.web import bodies
from server.web.rate_limits import LOG_EVERY
from server.web.responses import error, ok

logger = logging.getLogger("qatys.server")

STATUS: dict[str, int | dict[type[ServiceError], int]] = {
    # a request not of the documented form, whoever refuses it
    "malformed": 400,
    "bad_request": 400,
    "unsupported_version": 400,
    "unsupported_media_type": 415,
    "not_found": 404,
    "not_signed_in": 401,
    "csrf_invalid": 403,
    "rate_limited": 429,
    # what gunicorn refuses before the app (server/web/gunicorn_workers.py)
    "request_line_too_long": 414,
    "headers_too_large": 431,
    "malformed_request": 400,
    "invalid_method": 400,
    "unsupported_transfer_coding": 501,
    "expectation_failed": 417,
    "proxy_forbidden": 403,
    # terminals: signed requests, enrolment, batches (server/sync/)
    "unauthenticated": 401,
    "stale_request": 401,
    "replayed_request": 401,
    "unknown_terminal": 403,
    "terminal_revoked": 403,
    "wrong_kindergarten": 403,
    "terminal_mismatch": 400,
    "bad_sequence": 400,
    "broken_chain": 400,
    "sequence_gap": 409,
    "equivocation": 409,
    "token_invalid": 400,
    "bad_proof": 400,
    "token_unknown": 403,
    "token_used": 403,
    "token_expired": 403,
    "key_reused": 403,
    # the same code, a different status by who refuses: a terminal's signature (batch, request),
    # a phone's key or consent signature, a phone's sign-in
    "bad_signature": {SyncError: 403, FamiliesError: 400, SignInError: 401},
    # families: guardians, consent, confirmations, face templates (server/families/)
    "bad_key": 400,
    "invitation_unknown": 404,
    "invitation_used": 409,
    "invitation_expired": 410,
    "guardian_removed": 403,
    "challenge_invalid": 401,
    "unknown_phone": 401,
    "unknown_child": 404,
    "child_withdrawn": 409,
    "not_bound": 404,
    # pickup adults (server/families/pickup.py)
    "bad_first_name": 400,
    "bad_relation": 400,
    "pickup_limit": 409,
    "already_guardian": 409,
    "bad_consent_period": 400,
    "nothing_to_withdraw": 409,
    "stale_signature": 400,
    "replayed_consent": 409,
    "confirmation_closed": 409,
    "bad_dispute": 400,
    "consent_not_in_force": 409,
    "template_too_large": 413,
    "template_conflict": 409,
    "unknown_face_key": 409,
    "foreign_terminal": 403,
    "bad_notice": 400,
    # absence reports from the phone (server/families/absence_reports.py); the document's
    # codes are the office's, with the same statuses as its pages
    "report_reversed": 400,
    "report_too_old": 400,
    "report_too_far": 400,
    "report_too_long": 400,
    "bad_reason": 400,
    "note_too_long": 400,
    "document_type": 415,
    "document_too_large": 413,
    "document_missing": 400,
}
"""The HTTP status of every code a service or the web layer refuses with. A code answered
with different statuses by different families maps each family (the most specific wins)."""

NOT_ANSWERED = frozenset({
    "setup",  # SetupError: the data directory or configuration (commands, app start)
    "bad_input",  # ProvisioningError, InvalidInput: the administrator's commands
    "bad_account",  # AccountError: `qatys user …`
    "queue_core_unreachable", "queue_core_refused",  # QueueCoreError: the outbox, the commands
    "not_over", "unchanged", "note_required",  # ApprovalError: the finance page's own texts
    # OfficeError: the office's forms show their own texts (server/office/); unknown_child is
    # an API code as well, with the same status
    "bad_form", "future_date", "span_reversed", "span_too_long", "overlapping_absence",
    "not_your_child", "unknown_record", "roster_refused",
    "decision_note_missing",  # absence reports from parents
    "already_revoked", "unknown_group", "reference_missing",  # cards, consent forms
    "role_not_managed", "outside_scope", "username_taken",  # accounts
    # BackupError: `qatys server backup` and `qatys server restore` (server/backup/)
    "backup_unreadable", "backup_corrupt", "backup_foreign", "backup_too_new",
    "server_running", "backup_failed",
})
"""Codes of refusals no answer carries: commands print them (exit 2), the finance pages show
their own text. One reaching the handler is a bug: 500 ``internal_error``."""

PAGE_STATUS: dict[str, int] = {
    "bad_request": 400,
    "login_wrong": 401,
    "login_locked": 401,
    "forbidden": 403,
    "read_only": 403,
    "not_found": 404,
    "rate_limited": 429,
    # an approval the month refuses (ApprovalError's code, server/money/approvals.py)
    "not_over": 409,
    "unchanged": 409,
    "note_required": 409,
    # an office form's refusal (OfficeError's code, server/office/): the form again, with why
    "bad_form": 400,
    "future_date": 400,
    "span_reversed": 400,
    "span_too_long": 400,
    "overlapping_absence": 409,
    "unknown_child": 404,
    "not_your_child": 403,
    "document_type": 415,
    "document_too_large": 413,
    "document_missing": 400,
    "unknown_record": 404,
    "roster_refused": 400,
    # cards, consent forms, guardians (server/office/cards.py, consent_forms.py, guardian_forms.py)
    "already_revoked": 409,
    "unknown_group": 404,
    "child_withdrawn": 409,
    "reference_missing": 400,
    "bad_consent_period": 400,
    "nothing_to_withdraw": 409,
    "not_bound": 404,
    "role_not_managed": 403,
    "outside_scope": 403,
    "username_taken": 409,
    # absence reports from parents (server/families/absence_reports.py)
    "decision_note_missing": 400,
}
"""The HTTP status of each refusal the finance pages show as a page of their own, never as a
JSON answer: ``server.staff.sessions.PageError``'s key (the error page says it in words),
the sign-in form's problem and the sign-in flood's page. Beside :data:`STATUS` rather than
in it: ``forbidden``, ``read_only`` and the sign-in problems are no API's codes and the
approval codes are :data:`NOT_ANSWERED`; a code in both tables has the same status in each
(tests/test_layers.py)."""

HTTP_CODES = {
    400: "bad_request", 404: "not_found", 405: "method_not_allowed",
    413: "payload_too_large", 415: "unsupported_media_type",
}
"""The code of each status Flask itself answers with (an unknown route, a wrong method, a body
over the limit); any other is ``http_error``."""

LOGGED = frozenset({"rate_limited", "replayed_consent"})
"""Codes whose refusals this handler logs (``request.refused``); the others are logged where
they are raised (e.g. ``batch.refused``) or need no line."""


def status_of(exc: ServiceError) -> int | None:
    """The HTTP status of a refusal, or None when its code is not in :data:`STATUS` (a bug)."""
    entry = STATUS.get(exc.code)
    if isinstance(entry, dict):
        return next((entry[kind] for kind in type(exc).__mro__ if kind in entry), None)
    return entry


def page_status(key: str) -> int:
    """The HTTP status of a finance page's refusal (:data:`PAGE_STATUS`)."""
    return PAGE_STATUS[key]


def install(app: Flask) -> None:
    """Every answer JSON: the handlers below, the JSON bodies' parser (server/web/bodies.py)
    and OPTIONS answered with the path's methods."""
    bodies.install(app)
    app.before_request(_options)
    app.register_error_handler(ServiceError, _refused)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected_error)


def _refused(exc: ServiceError) -> tuple[Response, int]:
    status = status_of(exc)
    if status is None:
        return _unexpected_error(exc)
    if exc.code in LOGGED:
        repeat = getattr(exc, "repeat", 0)
        if repeat % LOG_EVERY == 0:  # a flood's refusals: the first, then every LOG_EVERY-th
            log(logger, "request.refused", logging.WARNING, path=request.path, code=exc.code,
                repeat=repeat,
                **{k: v for k, v in exc.details.items() if k in ("limit", "retry_after")})
    response, status = error(status, exc.code, exc.message, **exc.details)
    retry_after = exc.details.get("retry_after")
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    return response, status


def _allowed() -> list[str]:
    """The methods the request's path takes (OPTIONS included), as ``Allow`` names them."""
    adapter = getattr(request_ctx, "url_adapter", None)
    if adapter is None:
        return []
    try:
        return sorted(adapter.allowed_methods())
    except HTTPException:
        return []


def _options() -> tuple[Response, int] | None:
    """OPTIONS on a path that exists: a JSON answer with ``Allow`` (Flask's own is an empty
    HTML body). Other paths fall through to 404."""
    if request.method != "OPTIONS" or request.routing_exception is not None:
        return None
    allowed = _allowed()
    response, status = ok(allow=allowed)
    response.headers["Allow"] = ", ".join(allowed)
    return response, status


def _http_error(exc: HTTPException) -> tuple[Response, int]:
    status = exc.code or 500
    code = HTTP_CODES.get(status, "http_error")
    if isinstance(exc, MethodNotAllowed):
        allowed = sorted(exc.valid_methods or _allowed())
        response, status = error(405, code, "the path does not take this method; see Allow",
                                 allow=allowed)
        response.headers["Allow"] = ", ".join(allowed)
        return response, status
    if status == 413:
        log(logger, "request.too_large", logging.WARNING, path=request.path,
            length=request.content_length)
        return error(413, code, "the request body is larger than this server accepts")
    return error(status, code, exc.description or code)


def _unexpected_error(exc: Exception) -> tuple[Response, int]:
    logger.exception("request.failed", extra={"fields": {"path": request.path}})
    return error(500, "internal_error", "the server failed; the request changed nothing")
