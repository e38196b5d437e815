"""The roster page: upload a roster file (form ``#roster-upload``, field ``file``), the import
history with what each import changed, when the queue core last sent one, and the children
on the roster by group."""

from __future__ import annotations

from flask import request
from werkzeug.wrappers.response import Response as WebResponse

from provisioning.errors import InvalidInput, NotFound
from provisioning.roster import MAX_BYTES
from qatys.sentences import say
from qatys.timeutil import local_date, local_text
from server.context import ctx
from server.office import roster as service
from server.office.blueprint import Garden, bp, garden, managers_page, render, takes_upload, user
from server.registry.roster import ImportSummary
from server.web.errors import page_status
from server.web.language import request_language


def _page(chosen: Garden, status: int = 200, **values: object) -> WebResponse:
    context = ctx()
    with context.engine.connect() as conn:
        imports = service.history(conn, chosen.code)
        groups = service.children_by_group(conn, chosen.code, local_date(context.clock()))
    return render("roster.html", status, kindergarten=chosen.code, garden=chosen,
                  imports=imports, queue_core=service.last_from_queue_core(imports),
                  groups=groups, when=local_text, **values)


@bp.route("/roster", methods=["GET", "POST"])
@takes_upload
@managers_page
def roster() -> WebResponse:
    context = ctx()
    with context.engine.connect() as conn:
        chosen = garden(conn)
    if request.method == "GET":
        return _page(chosen)
    upload = request.files.get("file")
    data = upload.read(MAX_BYTES + 1) if upload is not None else b""
    if upload is None or not upload.filename or not data:
        return _page(chosen, page_status("bad_form"), code="bad_form", field="file")
    lang = request_language()
    try:
        summary: ImportSummary = service.upload(context.engine, user(), chosen.code, data,
                                                upload.filename, context.clock())
    except (InvalidInput, NotFound) as exc:
        lines = [say(p, lang) for p in getattr(exc, "problem_sentences", [])]
        return _page(chosen, page_status("roster_refused"), code="roster_refused",
                     field="file", refusal=say(exc.sentence, lang), lines=lines)
    return _page(chosen, summary=summary, file_name=upload.filename)
