"""Paper consent forms from the director's desk: a grant or a withdrawal with the form's
reference and its scan (sealed like every office document), recorded through the consent
ledger's own service (server/families/consent.py), so terminals learn it at their next sync
and a withdrawal erases the child's face templates exactly as ``qatys consent withdraw``
does. The ledger of a child, with a link to each record's scan.

Every check is made before the record is written; the scan, the record and the audit line
are one transaction, so a refusal leaves none of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import Connection, select

from qatys.sentences import Sentence
from qatys.timeutil import local_date
from server.errors import FamiliesError, OfficeError
from server.families.consent import ConsentAction, ConsentSource, longest_until, record_consent
from server.keys import ServerKeys
from server.office import documents
from server.office.cards import own_child
from server.staff.accounts import User
from server.staff.audit import Action, record
from server.storage import db

MAX_REFERENCE = 200
"""``consent_records.paper_ref``'s length."""


@dataclass(frozen=True)
class LedgerLine:
    record: int
    action: str
    until: str
    source: str
    reference: str
    recorded_by: str
    recorded_at_us: int
    scan: int | None
    """The scan's document id (the link opens it), when the record has one."""


def parse_until(text: str, action: ConsentAction, today: date) -> date | None:
    """A grant's last day as the form gave it (empty: the longest, a year less a day)."""
    if action == ConsentAction.WITHDRAW:
        return None
    text = text.strip()
    if not text:
        return longest_until(today)
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise OfficeError("bad_form", Sentence("the last day %(until)s is not a date "
                                               "(YYYY-MM-DD)", until=text[:20]), "until") from exc


def record_paper(conn: Connection, keys: ServerKeys, who: User, kindergarten: str,
                 child_id: str, action_text: str, reference: str, until_text: str,
                 scan: bytes, now_us: int) -> int:
    """Record a paper grant or withdrawal of a child of ``kindergarten`` with its scan;
    returns the consent record's id."""
    own_child(conn, kindergarten, child_id)
    try:
        action = ConsentAction(action_text)
    except ValueError as exc:
        raise OfficeError("bad_form", Sentence("action must be grant or withdraw"),
                          "action") from exc
    reference = reference.strip()
    if not reference:
        raise OfficeError("reference_missing", Sentence("a paper form needs its reference"),
                          "reference")
    if len(reference) > MAX_REFERENCE:
        raise OfficeError("bad_form", Sentence(
            "the reference is %(length)s characters long; at most %(limit)s are kept",
            length=len(reference), limit=MAX_REFERENCE), "reference")
    until = parse_until(until_text, action, local_date(now_us))
    try:
        media_type = documents.media_type_of(scan)
    except OfficeError as exc:
        raise OfficeError(exc.code, exc.sentence, "scan") from exc
    try:
        record_id = record_consent(conn, child_id.strip(), action, until, ConsentSource.PAPER,
                                   reference, who.username, now_us)
    except FamiliesError as exc:
        field = "until" if exc.code == "bad_consent_period" else "action"
        raise OfficeError(exc.code, exc.sentence, field) from exc
    document = documents.store(conn, keys, kindergarten, child_id.strip(),
                               documents.Purpose.CONSENT_FORM, scan, who, now_us)
    conn.execute(db.consent_records.update().where(db.consent_records.c.id == record_id)
                 .values(scan_document_id=document))
    record(conn, who, Action.CONSENT_RECORDED, kindergarten, child_id.strip(),
           now_us, record=record_id, form=action, until=until, reference=reference,
           document=document, media_type=media_type)
    return record_id


def ledger(conn: Connection, kindergarten: str, child_id: str) -> list[LedgerLine]:
    """Every consent record of a child of ``kindergarten``, oldest first."""
    own_child(conn, kindergarten, child_id)
    return [LedgerLine(r.id, r.action, r.until or "", r.source, r.paper_ref, r.recorded_by,
                       r.recorded_at_us, r.scan_document_id)
            for r in conn.execute(select(db.consent_records)
                                  .where(db.consent_records.c.child_id == child_id.strip())
                                  .order_by(db.consent_records.c.id))]


def scan_of(conn: Connection, kindergarten: str, record_id: int) -> int:
    """The scan's document id of a consent record of ``kindergarten``."""
    row = conn.execute(select(db.consent_records.c.kindergarten,
                              db.consent_records.c.scan_document_id)
                       .where(db.consent_records.c.id == record_id)).first()
    if row is None or row.kindergarten != kindergarten or row.scan_document_id is None:
        raise OfficeError("unknown_record", Sentence("no consent form scan %(record)s",
                                                     record=record_id))
    return int(row.scan_document_id)
