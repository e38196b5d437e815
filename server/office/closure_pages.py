"""The closures page (/office/closures): the director declares the kindergarten, or one of
its groups, closed for some days with a reason, and sees the closures with who and when."""

from __future__ import annotations

import logging
from datetime import date

from flask import redirect, request, url_for
from werkzeug.wrappers.response import Response as WebResponse

from qatys.logs import log
from qatys.sentences import Sentence
from qatys.timeutil import local_text
from server.context import ctx
from server.errors import OfficeError
from server.office import closures as service
from server.office.blueprint import bp, director_page, garden, render, user
from server.storage.db import writing
from server.web.errors import page_status

logger = logging.getLogger("qatys.office")


def _day(field: str) -> date:
    text = request.form.get(field, "").strip()
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise OfficeError("bad_form", Sentence("%(field)s must be a date (YYYY-MM-DD), not "
                                               "'%(text)s'", field=field, text=text[:24]),
                          field) from None


def _page(status: int = 200, problem: OfficeError | None = None,
          done: int | None = None) -> WebResponse:
    with ctx().engine.connect() as conn:
        chosen = garden(conn)
        listed = service.closures_of(conn, chosen.code)
        groups = service.groups_of(conn, chosen.code)
    form = {key: request.form.get(key, "") for key in ("from", "to", "reason", "group")} \
        if problem else {}
    return render("closures.html", status, kindergarten=chosen.code, closures=listed,
                  groups=groups, form=form, problem=problem.code if problem else "",
                  at_fault=problem.field if problem else "", done=done, when=local_text)


@bp.get("/closures")
@director_page
def closures() -> WebResponse:
    done = request.args.get("done", "")
    return _page(done=int(done) if done.isascii() and done.isdigit() and len(done) < 12
                 else None)


@bp.post("/closures")
@director_page
def record_closure() -> WebResponse:
    context = ctx()
    try:
        first, last = _day("from"), _day("to")
        group = request.form.get("group", "").strip() or None
        with writing(context.engine) as conn:
            new_id = service.record_closure(conn, user(), garden(conn).code, first, last,
                                            request.form.get("reason", ""), group,
                                            context.clock())
    except OfficeError as exc:
        log(logger, "closure.refused", logging.WARNING, code=exc.code, field=exc.field)
        return _page(page_status(exc.code), exc)
    log(logger, "closure.recorded", record=new_id)
    return redirect(url_for("office.closures", done=new_id), 303)
