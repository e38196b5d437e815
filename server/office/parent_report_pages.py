"""The parents' call that reports an absence (``POST /parents/api/absence-report``, on the
parents' blueprint): in the office's package because the certificate's photo is kept as the
office keeps its documents (server/office/reports.py)."""

from __future__ import annotations

import logging
from datetime import date

from flask import Response, g, jsonify, request
from werkzeug.exceptions import RequestEntityTooLarge

from qatys.logs import log
from qatys.sentences import Sentence
from server.context import ctx
from server.errors import FamiliesError, RequestError
from server.families.pages import bp as parents
from server.families.pages import guardian_only
from server.office import documents, reports
from server.office.blueprint import UPLOAD_LIMIT
from server.storage.db import writing

logger = logging.getLogger("qatys.parents")


def _day(name: str) -> date:
    typed = request.form.get(name, "").strip()
    try:
        return date.fromisoformat(typed)
    except ValueError:
        raise RequestError("malformed", f"the field {name} must be a date (YYYY-MM-DD)",
                           field=name) from None


def _content() -> bytes | None:
    upload = request.files.get("document")
    if upload is None or not upload.filename:
        return None
    content: bytes = upload.read(documents.MAX_BYTES + 1)
    return reports.checked_content(content)


@parents.post("/api/absence-report")
@guardian_only
def report_absence() -> tuple[Response, int]:
    """Multipart: child_id, first_day, last_day, reason, note (optional), document (optional:
    a photo or PDF of the certificate, at most 10 MB)."""
    request.max_content_length = UPLOAD_LIMIT
    context = ctx()
    try:
        form = request.form
        content = _content()
    except RequestEntityTooLarge:
        raise FamiliesError("document_too_large", Sentence(
            "the document has more than %(limit)s bytes", limit=documents.MAX_BYTES),
            field="document") from None
    first, last = _day("first_day"), _day("last_day")
    with writing(context.engine) as conn:
        report_id = reports.report(conn, context.keys, g.guardian, form.get("child_id", "")[:64],
                           first, last, form.get("reason", "").strip()[:20],
                           form.get("note", ""), content, context.clock())
    log(logger, "parents.absence_report", guardian=g.guardian, report=report_id)
    return jsonify({"ok": True, "report": report_id}), 200


