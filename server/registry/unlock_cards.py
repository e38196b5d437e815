"""Directors' unlock cards: issue, list and revoke (see :mod:`protocol.unlock` for why)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from sqlalchemy import Connection, select

from protocol import unlock
from qatys.sentences import Sentence
from server.registry.kindergartens import require_kindergarten
from server.registry.revocation import revoke_once
from server.storage import db


@dataclass(frozen=True)
class CardRecord:
    serial: str
    kindergarten: str
    issued_at_us: int
    revoked_at_us: int | None


def issue_card(conn: Connection, kindergarten: str, now_us: int) -> unlock.UnlockCard:
    """A new card for the kindergarten; terminals can use it from their next roster sync on."""
    require_kindergarten(conn, kindergarten)
    card = unlock.UnlockCard(unlock.new_serial(os.urandom(unlock.SERIAL_BYTES)),
                             os.urandom(unlock.SECRET_BYTES))
    conn.execute(db.unlock_cards.insert().values(
        serial=card.serial, kindergarten=kindergarten, secret=card.secret,
        issued_at_us=now_us))
    return card


def revoke_card(conn: Connection, serial: str, reason: str, now_us: int) -> bool:
    """Revoke a card by serial; False when it was already revoked."""
    serial = serial.strip().upper()
    return revoke_once(conn, db.unlock_cards, "serial", serial, "revoked_reason", reason, now_us,
                       Sentence("no unlock card with serial %(serial)s", serial=serial))


def list_cards(conn: Connection, kindergarten: str) -> list[CardRecord]:
    require_kindergarten(conn, kindergarten)
    rows = conn.execute(
        select(db.unlock_cards.c.serial, db.unlock_cards.c.kindergarten,
               db.unlock_cards.c.issued_at_us, db.unlock_cards.c.revoked_at_us)
        .where(db.unlock_cards.c.kindergarten == kindergarten)
        .order_by(db.unlock_cards.c.issued_at_us, db.unlock_cards.c.serial)).all()
    return [CardRecord(r.serial, r.kindergarten, r.issued_at_us, r.revoked_at_us)
            for r in rows]


def cards_for_roster(conn: Connection, kindergarten: str) -> tuple[
        list[unlock.UnlockCard], list[str]]:
    """Valid cards (with secrets, to wrap the roster key) and revoked serials."""
    rows = conn.execute(
        select(db.unlock_cards.c.serial, db.unlock_cards.c.secret,
               db.unlock_cards.c.revoked_at_us)
        .where(db.unlock_cards.c.kindergarten == kindergarten)
        .order_by(db.unlock_cards.c.serial)).all()
    valid = [unlock.UnlockCard(r.serial, bytes(r.secret)) for r in rows
             if r.revoked_at_us is None]
    revoked = [r.serial for r in rows if r.revoked_at_us is not None]
    return valid, revoked
