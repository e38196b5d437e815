"""The reports from parents (/office/reports): absences guardians reported from the phone,
pending ones first with the child, the days, the reason, the guardian's note and the
certificate's photo; the director accepts (the report becomes an absence record with the
parent as its source) or declines with a note the parent sees. Teachers see their groups'
reports; deciding is the director's."""

from __future__ import annotations

import logging

from flask import redirect, request, url_for
from werkzeug.wrappers.response import Response as WebResponse

from qatys.logs import log
from qatys.timeutil import local_text
from server.context import ctx
from server.errors import OfficeError
from server.families import absence_reports as service
from server.office import documents
from server.office import reports as report_documents
from server.office.blueprint import bp, children_page, director_page, garden, render, user
from server.push.outbox import enqueue_report_outcome
from server.staff.sessions import PageError
from server.storage.db import ReportStatus, writing
from server.web.errors import page_status

logger = logging.getLogger("qatys.office")


def _page(status: int = 200, problem: OfficeError | None = None,
          at: int | None = None) -> WebResponse:
    with ctx().engine.connect() as conn:
        chosen = garden(conn)
        listed = service.listed(conn, chosen.code, user())
    return render("reports.html", status, kindergarten=chosen.code,
                  waiting=[r for r in listed if r.status == ReportStatus.PENDING],
                  decided=[r for r in listed if r.status != ReportStatus.PENDING],
                  statuses=ReportStatus, problem=problem.code if problem else "",
                  at_fault=problem.field if problem else "", at=at, when=local_text,
                  done=request.args.get("done", "")[:12])


@bp.get("/reports")
@children_page
def reports() -> WebResponse:
    return _page()


@bp.post("/reports/<int:report_id>/accept")
@director_page
def accept_report(report_id: int) -> WebResponse:
    context = ctx()
    try:
        with writing(context.engine) as conn:
            absence_id = service.accept(conn, garden(conn).code, user(), report_id,
                                        context.clock())
            enqueue_report_outcome(conn, report_id, context.clock())
    except OfficeError as exc:
        log(logger, "report.refused", logging.WARNING, code=exc.code, report=report_id)
        return _page(page_status(exc.code), exc, report_id)
    log(logger, "report.accepted", report=report_id, record=absence_id)
    return redirect(url_for("office.reports", done=report_id), 303)


@bp.post("/reports/<int:report_id>/decline")
@director_page
def decline_report(report_id: int) -> WebResponse:
    context = ctx()
    try:
        with writing(context.engine) as conn:
            service.decline(conn, garden(conn).code, user(), report_id,
                            request.form.get("note", ""), context.clock())
            enqueue_report_outcome(conn, report_id, context.clock())
    except OfficeError as exc:
        log(logger, "report.refused", logging.WARNING, code=exc.code, report=report_id)
        return _page(page_status(exc.code), exc, report_id)
    log(logger, "report.declined", report=report_id)
    return redirect(url_for("office.reports", done=report_id), 303)


@bp.get("/reports/<int:report_id>/document")
@children_page
def report_document(report_id: int) -> WebResponse:
    """The photo a guardian sent with the report (its real type; each showing audited)."""
    context = ctx()
    try:
        with writing(context.engine) as conn:
            shown = report_documents.open_document(conn, context.keys, user(), garden(conn).code,
                                          report_id, context.clock())
    except OfficeError as exc:
        if exc.code == "unknown_record":
            raise PageError("not_found") from exc
        raise
    response = WebResponse(shown.content, 200, mimetype=shown.media_type)
    response.headers["Content-Disposition"] = (
        f'inline; filename="report-{report_id}.{documents.SUFFIX[shown.media_type]}"')
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "no-store"
    return response
