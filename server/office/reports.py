"""Absence reports from the phone, where they touch the office's documents: a guardian's
report with the certificate's photo stored as the office keeps its documents
(server/office/documents.py), and the photo opened for who may see the child. The report's
own rules: server/families/absence_reports.py (the families' package depends on no office
module)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Connection

from qatys.sentences import Sentence
from server.errors import FamiliesError, OfficeError
from server.families import absence_reports
from server.keys import ServerKeys
from server.money.statements import shipped_policy
from server.office import documents
from server.staff.accounts import User


def checked_content(content: bytes | None) -> bytes | None:
    """The office's checks of a document, as the parents' API's refusals."""
    if content is None:
        return None
    try:
        documents.media_type_of(content)
    except OfficeError as exc:
        raise FamiliesError(exc.code, exc.sentence, field="document") from exc
    return content


def report(conn: Connection, keys: ServerKeys, guardian_id: str, child_id: str, first: date,
           last: date, reason: str, note: str, content: bytes | None, now_us: int) -> int:
    """A guardian's report with its document (checked, then stored); returns its id."""
    kindergarten, chosen = absence_reports.check_report(
        conn, guardian_id, child_id, first, last, reason, note, shipped_policy(), now_us)
    document_id = None
    if content is not None:
        document_id = documents.store(conn, keys, kindergarten, child_id,
                                      documents.Purpose.CERTIFICATE, content,
                                      absence_reports.SOURCE_PREFIX + guardian_id, now_us)
    return absence_reports.add_report(conn, guardian_id, child_id, kindergarten, first, last,
                                      chosen, note, document_id, now_us)


def open_document(conn: Connection, keys: ServerKeys, who: User, kindergarten: str,
                  report_id: int, now_us: int) -> documents.Document:
    """The photo behind report ``report_id``, for who may see the child (audited)."""
    found = next((r for r in absence_reports.listed(conn, kindergarten, who)
                  if r.id == report_id), None)
    if found is None or found.document_id is None:
        raise OfficeError("unknown_record", Sentence(
            "no absence report %(report_id)s with a document you may see",
            report_id=report_id))
    return documents.show(conn, keys, found.document_id, who, {found.child_id: found.group},
                          now_us)
