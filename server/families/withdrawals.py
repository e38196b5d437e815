"""Withdrawals of face consent taken at a terminal (sealed notices), into the consent ledger
once each; the ledger's own rules then erase the templates (server/families/consent.py)."""

from __future__ import annotations

import logging
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, Row, select

from protocol.consent import open_withdrawal
from protocol.errors import ProtocolError
from protocol.roster import ConsentStatus
from qatys.logs import log
from qatys.sentences import Sentence
from qatys.timeutil import local_date
from server.errors import FamiliesError
from server.families.consent import ConsentAction, ConsentSource, record_consent, state_of
from server.storage import db

logger = logging.getLogger("qatys.server.faces")


class NoticeOutcome(StrEnum):
    """The ``outcome`` of a withdrawal taken at a terminal (docs/api.md)."""
    RECORDED = "recorded"
    ALREADY = "already"
    """This request id counted before."""
    NO_EFFECT = "no_effect"
    """No consent in force any more, or a newer grant than the withdrawal."""


def accept_notice(conn: Connection, terminal: Row[Any], request_id: str, sealed: bytes,
                  server_box_private: bytes, now_us: int) -> NoticeOutcome:
    """A withdrawal taken at a terminal, into the consent ledger once."""
    try:
        notice = open_withdrawal(sealed, terminal.terminal_id, server_box_private)
    except ProtocolError as exc:
        raise FamiliesError("bad_notice", Sentence("the withdrawal notice does not open for this "
                                                   "terminal")) from exc
    if notice.request_id != request_id:
        raise FamiliesError("bad_notice", Sentence("the notice carries another request id"))
    if conn.execute(select(db.consent_notices.c.request_id).where(
            db.consent_notices.c.request_id == request_id)).first() is not None:
        return NoticeOutcome.ALREADY
    child = conn.execute(select(db.children).where(
        db.children.c.child_id == notice.child_id)).first()
    if child is None or child.kindergarten != terminal.kindergarten:
        raise FamiliesError("unknown_child", Sentence("this child is not on this kindergarten's "
                                                      "roster"))
    record = None
    latest = conn.execute(select(db.consent_records.c.recorded_at_us).where(
        db.consent_records.c.child_id == notice.child_id).order_by(
        db.consent_records.c.id.desc()).limit(1)).scalar()
    if state_of(conn, notice.child_id, local_date(now_us)).status == ConsentStatus.GRANTED \
            and (latest is None or latest <= notice.at_us):
        # a grant given after the withdrawal at the door (the notice waited offline) stands
        by = f"{notice.by} @ {terminal.terminal_id}"[:64]
        record = record_consent(conn, notice.child_id, ConsentAction.WITHDRAW, None,
                                ConsentSource.TERMINAL, "", by,
                                now_us)
    conn.execute(db.consent_notices.insert().values(
        request_id=request_id, terminal_id=terminal.terminal_id, child_id=notice.child_id,
        record_id=record, received_at_us=now_us))
    log(logger, "consent.withdrawn_at_terminal", terminal=terminal.terminal_id,
        effect=NoticeOutcome.RECORDED if record else NoticeOutcome.NO_EFFECT)
    return NoticeOutcome.RECORDED if record else NoticeOutcome.NO_EFFECT
