"""The consent forms page (/office/consent): every child's face check-in consent, a paper
grant or withdrawal with its reference and scan, a child's ledger, and the scans themselves
(/office/consent/scan/<record>, each showing audited). A director's own kindergarten only."""

from __future__ import annotations

from flask import make_response, redirect, request, url_for
from sqlalchemy import select
from werkzeug.wrappers.response import Response as WebResponse

from qatys.timeutil import local_date, local_text
from server.context import ctx
from server.errors import OfficeError
from server.families.consent import ConsentAction, longest_until, states
from server.office import consent_forms, documents
from server.office.blueprint import (
    bp,
    code_of_request,
    director_page,
    garden,
    render,
    takes_upload,
    user,
)
from server.staff.sessions import PageError
from server.storage import db
from server.storage.db import writing
from server.web.errors import page_status


def _page(code: str, child_id: str, status: int = 200, problem: str = "", field: str = "",
          **values: object) -> WebResponse:
    context = ctx()
    now = context.clock()
    today = local_date(now)
    with context.engine.connect() as conn:
        children = conn.execute(
            select(db.children.c.child_id, db.children.c.first_name, db.children.c.last_name,
                   db.children.c.group_name)
            .where(db.children.c.kindergarten == code)
            .order_by(db.children.c.group_name, db.children.c.last_name)).all()
        current = {s.child_id: s for s in states(conn, code, today)}
        try:
            ledger = consent_forms.ledger(conn, code, child_id) if child_id else []
        except OfficeError:
            ledger, child_id = [], ""
    return render("consent.html", status, kindergarten=code, children=children,
                  current=current, ledger=ledger, chosen=child_id, problem=problem,
                  field=field, form=request.form, actions=ConsentAction, when=local_text,
                  longest=longest_until(today).isoformat(), today=today.isoformat(), **values)


@bp.get("/consent")
@director_page
def consent() -> WebResponse:
    with ctx().engine.connect() as conn:
        code = garden(conn).code
    return _page(code, request.args.get("child", ""),
                 recorded=request.args.get("recorded", ""))


@bp.post("/consent/paper")
@takes_upload
@director_page
def consent_paper() -> WebResponse:
    """Record a paper form: a grant (until a day at most a year ahead) or a withdrawal."""
    context = ctx()
    form = request.form
    scan = request.files.get("scan")
    content = scan.read(documents.MAX_BYTES + 1) if scan is not None else b""
    child_id = form.get("child", "").strip()
    try:
        with writing(context.engine) as conn:
            code = garden(conn).code
            record = consent_forms.record_paper(
                conn, context.keys, user(), code, child_id, form.get("action", ""),
                form.get("reference", ""), form.get("until", ""), content, context.clock())
    except OfficeError as exc:
        return _page(code_of_request(), child_id, page_status(exc.code), exc.code, exc.field)
    return redirect(url_for("office.consent", child=child_id, recorded=record), 303)


@bp.get("/consent/scan/<int:record_id>")
@director_page
def consent_scan(record_id: int) -> WebResponse:
    """The scan of one consent record, for the director (each showing in the audit trail)."""
    context = ctx()
    try:
        with writing(context.engine) as conn:
            code = garden(conn).code
            document_id = consent_forms.scan_of(conn, code, record_id)
            shown = documents.show(conn, context.keys, document_id, user(), {},
                                   context.clock())
    except OfficeError as exc:
        raise PageError("not_found", exc.code) from exc
    answer = make_response(shown.content)
    answer.headers["Content-Type"] = shown.media_type
    answer.headers["Content-Disposition"] = (
        f'inline; filename="consent-{record_id}.{documents.SUFFIX[shown.media_type]}"')
    answer.headers["X-Content-Type-Options"] = "nosniff"
    return answer
