"""The server's relay of face templates between a kindergarten's terminals.

The server stores what terminals upload (templates encrypted under a face key, and that key
sealed to each terminal) and hands it to the kindergarten's other terminals; it can open
neither. It decides which templates still stand on their consent, drops the bytes of those
that do not at once, tells every terminal to erase them, and keeps the terminals' erasure
reports for the consent ledger.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, Row, and_, select

from protocol import faces
from protocol.faces import EraseReason
from qatys.logs import log
from qatys.sentences import Sentence
from qatys.timeutil import iso_utc, local_date
from server.domain.face_consent import LedgerRecord, template_standing
from server.errors import FamiliesError
from server.storage import db

logger = logging.getLogger("qatys.server.faces")

REPORTED_REASONS = tuple(EraseReason)
MAX_LIST = 5000
"""Template ids a terminal may list in one face sync (600 children, several each)."""
MAX_ADD = 300
"""Templates handed over in one face sync; the terminal asks again while ``more`` is true."""


@dataclass(frozen=True)
class Upload:
    template_id: str
    key_id: str
    child_id: str
    consent_record: int
    blob: bytes


def _ledgers(conn: Connection, child_ids: set[str]) -> dict[str, list[LedgerRecord]]:
    """The consent records of these children, oldest first, in one query."""
    found: dict[str, list[LedgerRecord]] = {c: [] for c in child_ids}
    if child_ids:
        for r in conn.execute(select(db.consent_records)
                              .where(db.consent_records.c.child_id.in_(sorted(child_ids)))
                              .order_by(db.consent_records.c.id)):
            found[r.child_id].append(LedgerRecord(r.id, r.action, r.until or "",
                                                  local_date(r.recorded_at_us).isoformat()))
    return found


def _gone(conn: Connection, child_ids: set[str], now_us: int) -> set[str]:
    """Those of these children who are on no roster now (never were, or have left)."""
    today = local_date(now_us).isoformat()
    present = {r.child_id for r in conn.execute(
        select(db.children.c.child_id, db.children.c.withdrawn_on)
        .where(db.children.c.child_id.in_(sorted(child_ids))))
        if not (r.withdrawn_on and r.withdrawn_on <= today)} if child_ids else set()
    return child_ids - present


def _verdicts(conn: Connection, templates: list[tuple[str, str, int]],
              now_us: int) -> dict[str, EraseReason | None]:
    """Per (template id, child id, consent record): None while it stands, else why not."""
    children = {child for _, child, _ in templates}
    gone, ledgers, today = _gone(conn, children, now_us), _ledgers(conn, children), \
        local_date(now_us)
    return {template_id: EraseReason.LEFT if child in gone
            else template_standing(ledgers[child], record, today)
            for template_id, child, record in templates}


def _why_not(conn: Connection, child_id: str, record: int,
             now_us: int) -> EraseReason | None:
    return _verdicts(conn, [("", child_id, record)], now_us)[""]


def erase_on_server(conn: Connection, template_ids: list[str], reason: EraseReason,
                    now_us: int) -> None:
    """Drop the bytes of these templates; the row stays as the trail."""
    if template_ids:
        conn.execute(db.face_templates.update()
                     .where(db.face_templates.c.template_id.in_(template_ids))
                     .where(db.face_templates.c.erased_at_us.is_(None))
                     .values(blob=None, erased_at_us=now_us, erase_reason=reason))
        log(logger, "faces.erased_on_server", count=len(template_ids), reason=reason)


def retire(conn: Connection, now_us: int, *, kindergarten: str | None = None,
           child_id: str | None = None) -> int:
    """Erase (on the server) every standing template whose consent no longer holds."""
    query = select(db.face_templates.c.template_id, db.face_templates.c.child_id,
                   db.face_templates.c.consent_record).where(
        db.face_templates.c.erased_at_us.is_(None))
    if kindergarten is not None:
        query = query.where(db.face_templates.c.kindergarten == kindergarten)
    if child_id is not None:
        query = query.where(db.face_templates.c.child_id == child_id)
    rows = [(r.template_id, r.child_id, r.consent_record) for r in conn.execute(query)]
    verdicts = _verdicts(conn, rows, now_us)
    by_reason: dict[EraseReason, list[str]] = {}
    for template_id, reason in verdicts.items():
        if reason is not None:
            by_reason.setdefault(reason, []).append(template_id)
    for reason, ids in sorted(by_reason.items()):
        erase_on_server(conn, ids, reason, now_us)
    return sum(len(ids) for ids in by_reason.values())


def _active_terminals(conn: Connection, kindergarten: str) -> dict[str, bytes]:
    """terminal id → X25519 public key of the kindergarten's terminals not revoked."""
    return {r.terminal_id: bytes(r.box_pub) for r in conn.execute(
        select(db.terminals.c.terminal_id, db.terminals.c.box_pub).where(and_(
            db.terminals.c.kindergarten == kindergarten,
            db.terminals.c.revoked_at_us.is_(None))))}


def _has_wrap(conn: Connection, key_id: str, terminal_id: str) -> bool:
    return conn.execute(select(db.face_key_wraps.c.key_id).where(and_(
        db.face_key_wraps.c.key_id == key_id,
        db.face_key_wraps.c.terminal_id == terminal_id))).first() is not None


class UploadOutcome(StrEnum):
    """The ``outcome`` of a template upload (docs/api.md)."""
    STORED = "stored"
    ALREADY = "already"
    """The same template was kept before."""


def accept_upload(conn: Connection, terminal: Row[Any], upload: Upload,
                  now_us: int) -> UploadOutcome:
    """Keep a template a terminal enrolled; stored, or already kept. Refuses what the
    kindergarten's consent does not allow, what is not this kindergarten's, and conflicts."""
    if not faces.is_template_id(upload.template_id) or not faces.is_key_id(upload.key_id):
        raise FamiliesError("malformed", Sentence("template_id is 32 hex digits, key_id 16"))
    if not 0 < len(upload.blob) <= faces.MAX_TEMPLATE_BLOB:
        raise FamiliesError("template_too_large",
                            Sentence("an encrypted template is at most %(max_bytes)s bytes",
                                     max_bytes=faces.MAX_TEMPLATE_BLOB))
    digest = hashlib.sha256(upload.blob).digest()
    known = conn.execute(select(db.face_templates).where(
        db.face_templates.c.template_id == upload.template_id)).first()
    if known is not None:
        if known.kindergarten != terminal.kindergarten:
            raise FamiliesError("template_conflict", Sentence("this template id is taken"))
        if bytes(known.blob_sha256) != digest:
            raise FamiliesError("template_conflict", Sentence("a different template has this id"))
        return UploadOutcome.ALREADY
    child = conn.execute(select(db.children).where(
        db.children.c.child_id == upload.child_id)).first()
    if child is None or child.kindergarten != terminal.kindergarten:
        raise FamiliesError("unknown_child", Sentence("this child is not on this kindergarten's "
                                                      "roster"))
    reason = _why_not(conn, upload.child_id, upload.consent_record, now_us)
    if reason is not None:
        log(logger, "faces.upload_refused", logging.WARNING, terminal=terminal.terminal_id,
            reason=reason)
        raise FamiliesError("consent_not_in_force",
                            Sentence("the consent this template depends on does not hold "
                                     "(%(reason)s): erase it", reason=reason), reason=reason)
    if not _has_wrap(conn, upload.key_id, terminal.terminal_id):
        raise FamiliesError("unknown_face_key", Sentence("register the face key before its "
                                                         "templates"))
    earlier = list(conn.execute(select(db.face_templates.c.template_id).where(and_(
        db.face_templates.c.child_id == upload.child_id,
        db.face_templates.c.erased_at_us.is_(None)))).scalars())
    erase_on_server(conn, earlier, EraseReason.REPLACED, now_us)
    conn.execute(db.face_templates.insert().values(
        template_id=upload.template_id, kindergarten=terminal.kindergarten,
        child_id=upload.child_id, consent_record=upload.consent_record, key_id=upload.key_id,
        blob=upload.blob, blob_sha256=digest, enrolled_by=terminal.terminal_id,
        uploaded_at_us=now_us))
    log(logger, "faces.template_stored", terminal=terminal.terminal_id,
        template=upload.template_id, replaced=len(earlier))
    return UploadOutcome.STORED


def accept_wraps(conn: Connection, terminal: Row[Any], wraps: list[tuple[str, str, bytes]],
                 now_us: int) -> int:
    """Keep face keys a terminal sealed to itself or its siblings; returns how many new."""
    siblings = _active_terminals(conn, terminal.kindergarten)
    added = 0
    for key_id, recipient, sealed in wraps:
        if not faces.is_key_id(key_id) or not 0 < len(sealed) <= faces.MAX_KEY_WRAP:
            raise FamiliesError("malformed", Sentence("a wrap is a 16-hex-digit key id and its "
                                                      "sealed key"))
        if recipient not in siblings:
            raise FamiliesError("foreign_terminal", Sentence("terminal %(recipient)s is not an "
                                                             "active terminal of this kindergarten",
                                                             recipient=recipient))
        holder = conn.execute(select(db.face_key_wraps.c.kindergarten).where(
            db.face_key_wraps.c.key_id == key_id)).first()
        if holder is not None and holder.kindergarten != terminal.kindergarten:
            raise FamiliesError("template_conflict", Sentence("this key id belongs elsewhere"))
        if recipient != terminal.terminal_id and not _has_wrap(conn, key_id,
                                                                terminal.terminal_id):
            raise FamiliesError("unknown_face_key", Sentence("a terminal passes on only keys it "
                                                             "holds"))
        if _has_wrap(conn, key_id, recipient):
            continue
        conn.execute(db.face_key_wraps.insert().values(
            key_id=key_id, terminal_id=recipient, kindergarten=terminal.kindergarten,
            sealed=sealed, wrapped_by=terminal.terminal_id, created_at_us=now_us))
        added += 1
    return added


def record_erasures(conn: Connection, terminal: Row[Any],
                    erased: list[tuple[str, int, str]], now_us: int) -> int:
    """Keep a terminal's erasure receipts of templates of its kindergarten; others (never
    uploaded, or foreign) are ignored. Returns how many were new."""
    kept = 0
    for template_id, erased_at_us, reason in erased:
        row = conn.execute(select(db.face_templates.c.child_id,
                                  db.face_templates.c.kindergarten).where(
            db.face_templates.c.template_id == template_id)).first()
        if row is None or row.kindergarten != terminal.kindergarten:
            continue
        if conn.execute(select(db.face_erasures.c.template_id).where(and_(
                db.face_erasures.c.template_id == template_id,
                db.face_erasures.c.terminal_id == terminal.terminal_id))).first():
            continue
        conn.execute(db.face_erasures.insert().values(
            template_id=template_id, terminal_id=terminal.terminal_id, child_id=row.child_id,
            erased_at_us=erased_at_us, reason=reason, reported_at_us=now_us))
        kept += 1
    if kept:
        log(logger, "faces.erasures_reported", terminal=terminal.terminal_id, count=kept)
    return kept


def face_sync(conn: Connection, terminal: Row[Any], have: list[str], keys_held: list[str],
              now_us: int) -> dict[str, Any]:
    """What a terminal must erase, add and pass on, given the templates and keys it holds."""
    kindergarten = terminal.kindergarten
    retire(conn, now_us, kindergarten=kindergarten)
    t = db.face_templates.c
    rows = conn.execute(select(t.template_id, t.key_id, t.erased_at_us, t.erase_reason)
                        .where(t.kindergarten == kindergarten)).all()
    by_id = {r.template_id: r for r in rows}
    standing = {r.template_id for r in rows if r.erased_at_us is None}
    own_keys = {r.key_id: r.sealed for r in conn.execute(select(db.face_key_wraps).where(
        db.face_key_wraps.c.terminal_id == terminal.terminal_id))}
    held, holding = set(have), set(keys_held)
    erase = [{"template_id": i, "reason": (by_id[i].erase_reason if i in by_id else None)
              or EraseReason.UNKNOWN} for i in have if i not in standing]
    missing = sorted(r.template_id for r in rows if r.template_id in standing
                     and r.template_id not in held and r.key_id in own_keys)
    add = [{"template_id": r.template_id, "key_id": r.key_id, "blob": bytes(r.blob)}
           for r in conn.execute(select(t.template_id, t.key_id, t.blob).where(
               t.template_id.in_(missing[:MAX_ADD])).order_by(t.template_id))] if missing else []
    key_wraps = [{"key_id": k, "sealed": bytes(s)} for k, s in own_keys.items()
                 if k not in holding]
    return {"erase": erase, "add": add, "more": len(missing) > MAX_ADD, "key_wraps": key_wraps,
            "wrap_for": _missing_wraps(conn, terminal, [k for k in keys_held if k in own_keys])}


def _missing_wraps(conn: Connection, terminal: Row[Any], keys: list[str]) -> list[dict[str, Any]]:
    """Active siblings that lack one of the keys this terminal holds."""
    siblings = _active_terminals(conn, terminal.kindergarten)
    siblings.pop(terminal.terminal_id, None)
    if not siblings or not keys:
        return []
    held = {(r.key_id, r.terminal_id) for r in conn.execute(
        select(db.face_key_wraps.c.key_id, db.face_key_wraps.c.terminal_id).where(
            db.face_key_wraps.c.key_id.in_(keys)))}
    return [{"terminal_id": sibling, "box_pub": box_pub, "key_id": k}
            for sibling, box_pub in siblings.items() for k in keys
            if (k, sibling) not in held]


def trail(conn: Connection, child_id: str) -> list[dict[str, Any]]:
    """The child's templates in the consent ledger: enrolled where and when, erased where,
    when and why (on the server and on each terminal)."""
    out: list[dict[str, Any]] = []
    for row in conn.execute(select(db.face_templates).where(
            db.face_templates.c.child_id == child_id)):
        out.append({"action": "face_enrolled", "at_us": row.uploaded_at_us,
                    "template_id": row.template_id, "terminal_id": row.enrolled_by,
                    "record": row.consent_record, "reason": None})
        if row.erased_at_us is not None:
            out.append({"action": "face_erased_on_server", "at_us": row.erased_at_us,
                        "template_id": row.template_id, "terminal_id": None,
                        "record": row.consent_record, "reason": row.erase_reason})
    for row in conn.execute(select(db.face_erasures).where(
            db.face_erasures.c.child_id == child_id)):
        out.append({"action": "face_erased", "at_us": row.erased_at_us,
                    "template_id": row.template_id, "terminal_id": row.terminal_id,
                    "record": None, "reason": row.reason})
    return sorted(out, key=lambda e: (e["at_us"], e["action"]))


def face_state(conn: Connection, child_id: str) -> dict[str, Any]:
    """What a guardian sees of the child's face templates: whether one is kept now (since
    when), and when the last was erased and on how many terminals."""
    rows = conn.execute(select(db.face_templates).where(
        db.face_templates.c.child_id == child_id)).all()
    standing = [r.uploaded_at_us for r in rows if r.erased_at_us is None]
    erased = [r.erased_at_us for r in rows if r.erased_at_us is not None]
    terminals = conn.execute(select(db.face_erasures.c.terminal_id).where(
        db.face_erasures.c.child_id == child_id).distinct()).scalars().all()
    return {"enrolled": bool(standing),
            "enrolled_at": iso_utc(max(standing)) if standing else None,
            "erased_at": iso_utc(max(erased)) if erased else None,
            "erased_on_terminals": len(terminals)}
