"""The face-check-in consent ledger: append-only records, the current state derived from them.

A guardian grants consent for one child, for this kindergarten's terminals, until a date at
most a year away, or withdraws it at any time; each is a record signed by the phone's key.
A director records a paper form (with its scan reference) for parents without a phone. The
state of a child is its latest record: granted (until a date), expired, withdrawn, or none.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, Row, func, select

from protocol.errors import SignatureError
from protocol.phone import verify_p1363
from protocol.roster import Consent, ConsentStatus
from qatys.sentences import Sentence
from qatys.timeutil import iso_utc, local_date
from server.domain.face_consent import ConsentAction as ConsentAction  # its home: the domain
from server.errors import FamiliesError
from server.families.face_templates import retire, trail
from server.registry.records import check_length
from server.storage import db

MAX_DAYS = 366
SIGNED_CLOCK_SKEW_US = 10 * 60 * 1_000_000


class ConsentSource(StrEnum):
    """``consent_records.source``: how the record came."""
    PHONE = "phone"
    """Signed on the guardian's phone."""
    PAPER = "paper"
    """A paper form, with its scan reference."""
    DIRECTOR = "director"
    """A withdrawal told to the director."""
    TERMINAL = "terminal"
    """A withdrawal taken at a terminal."""


@dataclass(frozen=True)
class ConsentState:
    child_id: str
    status: ConsentStatus
    since: str
    until: str
    source: str
    record: int


def consent_message(action: str, child_id: str, kindergarten: str, until: str,
                    signed_at_ms: int) -> str:
    """What the phone signs: the exact text is kept in the ledger with its signature."""
    return f"qatys-consent-v1\n{action}\n{child_id}\n{kindergarten}\n{until}\n{signed_at_ms}"


def longest_until(today: date) -> date:
    """The last day of a consent given today for the longest allowed: one year."""
    return today + timedelta(days=MAX_DAYS - 1)


def record_consent(conn: Connection, child_id: str, action: ConsentAction, until: date | None,
                   source: ConsentSource, paper_ref: str, by: str, now_us: int,
                   guardian: Row[Any] | None = None, signed_text: str | None = None,
                   signature: bytes | None = None) -> int:
    """Append one record; refuses a grant without a valid end date, or with nothing to end."""
    check_length("--paper", paper_ref, db.consent_records.c.paper_ref)
    check_length("--by", by, db.consent_records.c.recorded_by)
    child = conn.execute(select(db.children).where(db.children.c.child_id == child_id)).first()
    if child is None:
        raise FamiliesError("unknown_child", Sentence("child %(child_id)s is not on any roster",
                                                      child_id=child_id))
    today = local_date(now_us)
    if action == ConsentAction.GRANT:
        if until is None or not today <= until <= longest_until(today):
            raise FamiliesError("bad_consent_period",
                                Sentence("a consent runs from today for at most one year"))
    else:
        if state_of(conn, child_id, today).status != ConsentStatus.GRANTED:
            raise FamiliesError("nothing_to_withdraw", Sentence("there is no consent in force to "
                                                                "withdraw"))
        until = None
    if source == ConsentSource.PAPER and not paper_ref.strip():
        raise FamiliesError("bad_request", Sentence("a paper form needs its scan reference"))
    inserted = conn.execute(db.consent_records.insert().values(
        child_id=child_id, kindergarten=child.kindergarten, action=action,
        until=until.isoformat() if until else None, source=source, paper_ref=paper_ref.strip(),
        guardian_id=guardian.guardian_id if guardian is not None else None,
        signed_text=signed_text, signature=signature, recorded_at_us=now_us,
        recorded_by=by)).inserted_primary_key
    assert inserted is not None
    if action == ConsentAction.WITHDRAW:  # the server's copies of the child's templates go at once
        retire(conn, now_us, child_id=child_id)
    return int(inserted[0])


def record_signed(conn: Connection, guardian: Row[Any], child_id: str, action: str,
                  until: str, signed_at_ms: int, signature: bytes, now_us: int) -> int:
    """A grant or withdrawal signed on the guardian's phone.

    A signed message is fresh when it was signed within ten minutes of the server's clock and
    later than every message of this guardian for this child recorded before: the phone
    stamps each with its own time in milliseconds, so no recorded grant or withdrawal (nor an
    older one held back) can be sent again to undo a later one (``replayed_consent``)."""
    if abs(signed_at_ms * 1000 - now_us) > SIGNED_CLOCK_SKEW_US:
        raise FamiliesError("stale_signature", Sentence("the phone signed this too long ago"))
    kindergarten = conn.execute(select(db.children.c.kindergarten)
                                .where(db.children.c.child_id == child_id)).scalar()
    text = consent_message(action, child_id, str(kindergarten), until, signed_at_ms)
    try:
        verify_p1363(bytes(guardian.public_key), text.encode("utf-8"), signature)
    except SignatureError as exc:
        raise FamiliesError("bad_signature",
                            Sentence("the consent signature does not verify")) from exc
    _refuse_replay(conn, guardian.guardian_id, child_id, signed_at_ms, signature)
    try:
        kind = ConsentAction(action)
    except ValueError as exc:
        raise FamiliesError("bad_request", Sentence("action must be grant or withdraw")) from exc
    try:
        end = date.fromisoformat(until) if kind == ConsentAction.GRANT else None
    except ValueError as exc:
        raise FamiliesError("bad_consent_period", Sentence("until must be YYYY-MM-DD")) from exc
    record = record_consent(conn, child_id, kind, end, ConsentSource.PHONE, "",
                            guardian.guardian_id, now_us, guardian, text, signature)
    conn.execute(db.consent_signatures.insert().values(
        guardian_id=guardian.guardian_id, child_id=child_id, signed_at_ms=signed_at_ms,
        signature_sha256=hashlib.sha256(signature).digest(), record_id=record))
    return record


def _refuse_replay(conn: Connection, guardian_id: str, child_id: str, signed_at_ms: int,
                   signature: bytes) -> None:
    # The guardian's binding row is locked first (PostgreSQL; SQLite's writer is alone), so
    # two messages of one guardian for one child are judged one after the other.
    conn.execute(select(db.guardian_children.c.serial)
                 .where(db.guardian_children.c.guardian_id == guardian_id)
                 .where(db.guardian_children.c.child_id == child_id).with_for_update())
    latest = conn.execute(select(func.max(db.consent_signatures.c.signed_at_ms))
                          .where(db.consent_signatures.c.guardian_id == guardian_id)
                          .where(db.consent_signatures.c.child_id == child_id)).scalar()
    seen = conn.execute(select(db.consent_signatures.c.record_id).where(
        db.consent_signatures.c.signature_sha256 == hashlib.sha256(signature).digest())).first()
    if seen is not None or (latest is not None and signed_at_ms <= latest):
        raise FamiliesError("replayed_consent", Sentence("this signed consent message was sent "
                                                         "before, or a later one of this phone is "
                                                         "recorded already: sign it anew"),
                            latest_signed_at_ms=latest)


def _state(row: Row[Any] | None, child_id: str, today: date) -> ConsentState:
    if row is None:
        return ConsentState(child_id, ConsentStatus.NONE, "", "", "", 0)
    since = local_date(row.recorded_at_us).isoformat()
    if row.action == ConsentAction.WITHDRAW:
        return ConsentState(child_id, ConsentStatus.WITHDRAWN, since, "", row.source, row.id)
    status = ConsentStatus.GRANTED if row.until >= today.isoformat() else ConsentStatus.EXPIRED
    return ConsentState(child_id, status, since, row.until, row.source, row.id)


def state_of(conn: Connection, child_id: str, today: date) -> ConsentState:
    row = conn.execute(select(db.consent_records)
                       .where(db.consent_records.c.child_id == child_id)
                       .order_by(db.consent_records.c.id.desc()).limit(1)).first()
    return _state(row, child_id, today)


def states(conn: Connection, kindergarten: str, today: date) -> list[ConsentState]:
    """Every child of the kindergarten (enrolled now), with its current consent state."""
    latest: dict[str, Row[Any]] = {}
    for row in conn.execute(select(db.consent_records)
                            .where(db.consent_records.c.kindergarten == kindergarten)
                            .order_by(db.consent_records.c.id)):
        latest[row.child_id] = row
    children = conn.execute(select(db.children.c.child_id)
                            .where(db.children.c.kindergarten == kindergarten)
                            .order_by(db.children.c.child_id)).scalars()
    return [_state(latest.get(child), child, today) for child in children]


def for_roster(state: ConsentState) -> Consent | None:
    """What a terminal learns of it (inside the sealed roster): nothing when there is none."""
    if state.status == ConsentStatus.NONE:
        return None
    return Consent(state.status, state.record, state.until)


def as_json(state: ConsentState) -> dict[str, object]:
    return {"child_id": state.child_id, "status": state.status, "since": state.since or None,
            "until": state.until or None, "source": state.source or None,
            "record": state.record or None}


def ledger(conn: Connection, child_id: str) -> list[dict[str, object]]:
    """Every record of the child, oldest first (the visible trail), with what became of its
    face templates: enrolled at which terminal, erased on the server and on each terminal."""
    records = [(r.recorded_at_us, 0, {
        "record": r.id, "action": r.action, "until": r.until, "source": r.source,
        "paper_ref": r.paper_ref, "guardian_id": r.guardian_id,
        "recorded_at": iso_utc(r.recorded_at_us), "recorded_by": r.recorded_by})
        for r in conn.execute(select(db.consent_records)
                              .where(db.consent_records.c.child_id == child_id)
                              .order_by(db.consent_records.c.id))]
    faces = [(e["at_us"], 1, {
        "record": e["record"], "action": e["action"], "template_id": e["template_id"],
        "terminal_id": e["terminal_id"], "reason": e["reason"],
        "source": "terminal" if e["terminal_id"] else "server",
        "recorded_at": iso_utc(e["at_us"])}) for e in trail(conn, child_id)]
    return [entry for _, _, entry in sorted(records + faces, key=lambda x: (x[0], x[1]))]
