"""The absences page (/office/absences): record an absence with its certificate (a photo
taken with the phone's camera, or a PDF), correct or cancel a record in effect (new records
only), the records with their state, who and when, each child's leave days of the yearly
cap, and the certificate opened for who may see the child.

For a kindergarten's director and teachers (a teacher: own groups only). A certificate is
medical data: district operators, administrators and finance staff never open one.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import ParamSpec

from flask import redirect, request, url_for
from werkzeug.wrappers.response import Response as WebResponse

from qatys.logs import log
from qatys.sentences import Sentence
from qatys.timeutil import local_date, local_text
from server.context import ctx
from server.errors import OfficeError
from server.money.statements import shipped_policy
from server.office import absences as service
from server.office import documents
from server.office.blueprint import bp, children_page, garden, render, takes_upload, user
from server.registry.records import ABSENCE_REASONS
from server.storage.db import writing
from server.web.errors import page_status

P = ParamSpec("P")
logger = logging.getLogger("qatys.office")
def _day(field: str) -> date:
    text = request.form.get(field, "").strip()
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise OfficeError("bad_form", Sentence("%(field)s must be a date (YYYY-MM-DD), not "
                                               "'%(text)s'", field=field, text=text[:24]),
                          field) from None


def _content() -> bytes | None:
    """The document's bytes; None when no file was chosen."""
    upload = request.files.get("document")
    if upload is None or not upload.filename:
        return None
    content: bytes = upload.read(documents.MAX_BYTES + 1)
    if not content:
        raise OfficeError("document_missing", Sentence("the document is empty"), "document")
    return content


def _replaces() -> int | None:
    text = request.form.get("replaces", "").strip()
    if not text:
        return None
    if not text.isascii() or not text.isdigit() or len(text) > 12:
        raise OfficeError("unknown_record", Sentence("no absence record %(record_id)s",
                                                     record_id=text[:24]))
    return int(text)


def _page(status: int = 200, problem: OfficeError | None = None,
          done: int | None = None) -> WebResponse:
    who = user()
    context = ctx()
    policy = shipped_policy()
    with context.engine.connect() as conn:
        chosen = garden(conn)
        children = service.children_of(conn, chosen.code, who)
        listed = service.records(conn, chosen.code, who)
        leave = service.leave_days(conn, chosen.code, who, policy, context.clock())
    form = {key: request.form.get(key, "") for key in ("child", "from", "to", "reason",
                                                      "replaces")} if problem else {}
    return render("absences.html", status, kindergarten=chosen.code, children=children,
                  records=listed, leave=leave, cap=policy.leave_cap_days_per_year,
                  reasons=ABSENCE_REASONS, states=service.State,
                  today=local_date(context.clock()), form=form,
                  problem=problem.code if problem else "",
                  at_fault=problem.field if problem else "", done=done, when=local_text,
                  year=local_date(context.clock()).year)


@bp.get("/absences")
@children_page
def absences() -> WebResponse:
    done = request.args.get("done", "")
    return _page(done=int(done) if done.isascii() and done.isdigit() and len(done) < 12
                 else None)


@bp.post("/absences")
@takes_upload
@children_page
def record_absence() -> WebResponse:
    """A new record, or (with ``replaces``) the correction of one in effect."""
    who = user()
    context = ctx()
    try:
        replaces = _replaces()
        first, last = _day("from"), _day("to")
        content = _content()
        with writing(context.engine) as conn:
            code = garden(conn).code
            new_id = service.record_absence(
                conn, context.keys, who, code, request.form.get("child", "").strip(),
                first, last, request.form.get("reason", "").strip(), content,
                context.clock(), replaces)
    except OfficeError as exc:
        log(logger, "absence.refused", logging.WARNING, code=exc.code, field=exc.field)
        return _page(page_status(exc.code), exc)
    log(logger, "absence.recorded", record=new_id, corrects=replaces)
    return redirect(url_for("office.absences", done=new_id), 303)


@bp.post("/absences/<int:record_id>/cancel")
@children_page
def cancel_absence(record_id: int) -> WebResponse:
    who = user()
    context = ctx()
    try:
        with writing(context.engine) as conn:
            new_id = service.cancel_absence(conn, who, garden(conn).code, record_id,
                                            context.clock())
    except OfficeError as exc:
        log(logger, "absence.refused", logging.WARNING, code=exc.code, field=exc.field)
        return _page(page_status(exc.code), exc)
    log(logger, "absence.cancelled", record=new_id, cancels=record_id)
    return redirect(url_for("office.absences", done=new_id), 303)


@bp.get("/absences/<int:record_id>/document")
@children_page
def absence_document(record_id: int) -> WebResponse:
    """The certificate behind a record, as it was uploaded (its real type, shown in the
    browser, never guessed at by it); each showing is in the audit trail."""
    context = ctx()
    try:
        with writing(context.engine) as conn:
            shown = service.open_document(conn, context.keys, user(), garden(conn).code,
                                          record_id, context.clock())
    except OfficeError as exc:
        return render("error.html", page_status(exc.code), key=exc.code)
    response = WebResponse(shown.content, 200, mimetype=shown.media_type)
    response.headers["Content-Disposition"] = (
        f'inline; filename="absence-{record_id}.{documents.SUFFIX[shown.media_type]}"')
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "no-store"
    return response
