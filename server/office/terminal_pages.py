"""The terminals page: make an enrolment code on screen (form ``#terminal-code``: the QR, the
token's text and its expiry), the kindergarten's terminals with their state and last
contact, and revoking one (form ``#terminal-revoke``, a reason required)."""

from __future__ import annotations

from flask import request
from werkzeug.wrappers.response import Response as WebResponse

from qatys.timeutil import local_text
from server.context import ctx
from server.errors import OfficeError
from server.office import terminals as service
from server.office.blueprint import Garden, bp, garden, managers_page, render, user
from server.registry.terminals import MAX_TOKEN_TTL_SECONDS
from server.web.errors import page_status


def _page(chosen: Garden, status: int = 200, **values: object) -> WebResponse:
    with ctx().engine.connect() as conn:
        listed = service.terminals_of(conn, chosen.code)
    return render("terminals.html", status, kindergarten=chosen.code, garden=chosen,
                  terminals=listed, when=local_text, **values)


@bp.get("/terminals")
@managers_page
def terminals() -> WebResponse:
    with ctx().engine.connect() as conn:
        chosen = garden(conn)
    return _page(chosen)


@bp.post("/terminals/code")
@managers_page
def terminal_code() -> WebResponse:
    context = ctx()
    with context.engine.connect() as conn:
        chosen = garden(conn)
    code = service.issue_code(context.engine, context.keys.sign_public,
                              context.config.public_url, user(), chosen.code, context.clock(),
                              min(context.config.token_ttl_seconds, MAX_TOKEN_TTL_SECONDS))
    return _page(chosen, issued=code)


@bp.post("/terminals/revoke")
@managers_page
def terminal_revoke() -> WebResponse:
    context = ctx()
    with context.engine.connect() as conn:
        chosen = garden(conn)
    terminal_id = request.form.get("terminal", "").strip()
    try:
        changed = service.revoke(context.engine, user(), chosen.code, terminal_id,
                                 request.form.get("reason", ""), context.clock())
    except OfficeError as exc:
        return _page(chosen, page_status(exc.code), code=exc.code, field=exc.field,
                     terminal_id=terminal_id)
    return _page(chosen, revoked=terminal_id, changed=changed)
