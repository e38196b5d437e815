"""Children's cards from the director's desk: the card list with each card's state, printing
one child's card or a group's A4 sheet (new cards, through the same issue and print code as
``qatys card issue/sheet``), and revoking a lost card with a reason.

Every check is made before anything is written; a sheet that cannot be drawn issues no card
(the PDF is made inside the issuing transaction). Each issue and revocation has its line in
the audit trail, in the same transaction.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Row, select

from provisioning.card_print import IssuedCard, write_pdf
from provisioning.errors import InvalidInput, NotFound
from qatys.sentences import Sentence
from server.errors import OfficeError
from server.registry.cards import children_for_sheet, issue_card, revoke_card
from server.staff.accounts import User
from server.staff.audit import Action, record
from server.storage import db

MAX_REASON = 200
"""The longest reason for a revocation the office takes (characters)."""


class CardState(StrEnum):
    VALID = "valid"
    REVOKED = "revoked"
    EXPIRED = "expired"


@dataclass(frozen=True)
class CardLine:
    serial: str
    child_id: str
    name: str
    group: str
    issued_on: str
    expires_on: str
    state: CardState
    reason: str


def own_child(conn: Connection, kindergarten: str, child_id: str, field: str = "child"
              ) -> Row[Any]:
    """The roster row of a child of ``kindergarten``; refused for an unknown child or a
    child of another kindergarten."""
    child_id = child_id.strip()
    if not child_id:
        raise OfficeError("bad_form", Sentence("choose a child"), field)
    row = conn.execute(select(db.children).where(db.children.c.child_id == child_id)).first()
    if row is None:
        raise OfficeError("unknown_child", Sentence("no child %(child_id)s on any roster",
                                                    child_id=child_id), field)
    if row.kindergarten != kindergarten:
        raise OfficeError("not_your_child", Sentence(
            "child %(child_id)s is not in kindergarten %(kindergarten)s", child_id=child_id,
            kindergarten=kindergarten), field)
    return row


def card_list(conn: Connection, kindergarten: str, today: date) -> list[CardLine]:
    """Every card of the kindergarten, newest first, with its state today."""
    rows = conn.execute(
        select(db.cards, db.children.c.first_name, db.children.c.last_name,
               db.children.c.group_name)
        .join(db.children, db.children.c.child_id == db.cards.c.child_id)
        .where(db.cards.c.kindergarten == kindergarten)
        .order_by(db.cards.c.issued_at_us.desc(), db.cards.c.serial))
    lines = []
    for r in rows:
        if r.revoked_at_us is not None:
            state = CardState.REVOKED
        elif r.expires_on < today.isoformat():
            state = CardState.EXPIRED
        else:
            state = CardState.VALID
        lines.append(CardLine(r.serial, r.child_id, f"{r.last_name} {r.first_name}",
                              r.group_name, r.issued_on, r.expires_on, state,
                              r.revoked_reason or ""))
    return lines


def groups_of(conn: Connection, kindergarten: str) -> list[str]:
    return [str(g) for g in conn.execute(
        select(db.children.c.group_name).distinct()
        .where(db.children.c.kindergarten == kindergarten)
        .order_by(db.children.c.group_name)).scalars()]


def _pdf(issued: list[IssuedCard], sheet: bool) -> bytes:
    with tempfile.TemporaryDirectory(prefix="qatys-cards-") as folder:
        out = Path(folder) / "cards.pdf"
        write_pdf(issued, out, sheet=sheet)
        return out.read_bytes()


def print_cards(conn: Connection, who: User, kindergarten: str, child_id: str, group: str,
                today: date, now_us: int) -> tuple[list[IssuedCard], bytes]:
    """New cards for one child (a card-sized PDF page) or every enrolled child of a group
    (A4 sheets of ten): exactly one of ``child_id`` and ``group``. Returns the cards and
    the PDF."""
    child_id, group = child_id.strip(), group.strip()
    if bool(child_id) == bool(group):
        raise OfficeError("bad_form", Sentence("choose either one child or one group"),
                          "child" if child_id else "group")
    try:
        if child_id:
            own_child(conn, kindergarten, child_id)
            issued = [issue_card(conn, child_id, today, now_us)]
        else:
            if group not in groups_of(conn, kindergarten):
                raise OfficeError("unknown_group", Sentence(
                    "kindergarten %(kindergarten)s has no group %(group)s",
                    kindergarten=kindergarten, group=group), "group")
            issued = [issue_card(conn, child, today, now_us)
                      for child in children_for_sheet(conn, kindergarten, today, group)]
    except InvalidInput as exc:  # the child has left
        raise OfficeError("child_withdrawn", exc.sentence, "child") from exc
    except NotFound as exc:  # a group whose children have all left
        raise OfficeError("unknown_group", exc.sentence, "group") from exc
    content = _pdf(issued, sheet=bool(group))
    record(conn, who, Action.CARD_ISSUED, kindergarten,
           child_id or group, now_us,
           serials=[i.card.serial for i in issued], children=[i.card.child_id for i in issued])
    return issued, content


def revoke(conn: Connection, who: User, kindergarten: str, serial: str, reason: str,
           now_us: int) -> None:
    """Revoke a card of the kindergarten with a reason (terminals refuse it from their next
    sync on); refused for an unknown serial, another kindergarten's card, a card revoked
    already."""
    serial, reason = serial.strip().upper(), reason.strip()
    if not serial:
        raise OfficeError("bad_form", Sentence("enter the card's serial"), "serial")
    if not reason:
        raise OfficeError("bad_form", Sentence("give the reason for the revocation"), "reason")
    if len(reason) > MAX_REASON:
        raise OfficeError("bad_form", Sentence(
            "the reason is %(length)s characters long; at most %(limit)s are kept",
            length=len(reason), limit=MAX_REASON), "reason")
    row = conn.execute(select(db.cards).where(db.cards.c.serial == serial)).first()
    if row is None:
        raise OfficeError("unknown_record", Sentence("no card with serial %(serial)s",
                                                     serial=serial), "serial")
    if row.kindergarten != kindergarten:
        raise OfficeError("not_your_child", Sentence(
            "card %(serial)s is not a card of kindergarten %(kindergarten)s", serial=serial,
            kindergarten=kindergarten), "serial")
    if not revoke_card(conn, serial, reason, now_us):
        raise OfficeError("already_revoked", Sentence("card %(serial)s was already revoked",
                                                      serial=serial), "serial")
    record(conn, who, Action.CARD_REVOKED, kindergarten, serial, now_us,
           serial=serial, child_id=row.child_id, reason=reason)
