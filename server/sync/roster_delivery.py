"""What a terminal receives of the roster: ids and first names of children who belong now,
and the roster key wrapped for each of the kindergarten's valid unlock cards."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

from sqlalchemy import Connection, or_, select

from protocol import canonical, roster, unlock
from qatys.timeutil import local_date
from server.families.consent import for_roster, states
from server.registry.unlock_cards import cards_for_roster
from server.storage import db


@dataclass(frozen=True)
class RosterSnapshot:
    kindergarten: str
    entries: tuple[roster.RosterEntry, ...]
    cards: tuple[unlock.UnlockCard, ...]
    revoked_cards: tuple[str, ...]

    @property
    def version(self) -> str:
        """Changes whenever a child, a name, a consent or a card changes, so terminals fetch
    again (an expiry changes it too: its status turns to expired)."""
        digest = hashlib.sha256(roster.encode_entries(self.entries))
        digest.update(canonical.encode([[c.serial for c in self.cards],
                                        list(self.revoked_cards)]))
        return digest.hexdigest()[:16]


def current_snapshot(conn: Connection, kindergarten: str, now_us: int) -> RosterSnapshot:
    today = local_date(now_us).isoformat()
    rows = conn.execute(
        select(db.children.c.child_id, db.children.c.first_name)
        .where(db.children.c.kindergarten == kindergarten)
        .where(or_(db.children.c.withdrawn_on.is_(None), db.children.c.withdrawn_on > today))
        .order_by(db.children.c.child_id)
    ).all()
    cards, revoked = cards_for_roster(conn, kindergarten)
    consent = {s.child_id: for_roster(s) for s in states(conn, kindergarten, local_date(now_us))}
    return RosterSnapshot(kindergarten,
                          tuple(roster.RosterEntry(r.child_id, r.first_name,
                                                   consent.get(r.child_id)) for r in rows),
                          tuple(cards), tuple(revoked))


def sealed_delivery(snapshot: RosterSnapshot, terminal_id: str,
                    terminal_box_public: bytes) -> bytes:
    """A fresh at-rest key, the entries and the key's unlock wraps, sealed to one terminal."""
    key = os.urandom(32)
    wraps = tuple(unlock.wrap_key(card, key, snapshot.kindergarten, snapshot.version,
                                  os.urandom(12)) for card in snapshot.cards)
    delivery = roster.RosterDelivery(snapshot.kindergarten, snapshot.version, key,
                                     snapshot.entries,
                                     unlock.UnlockSet(wraps, snapshot.revoked_cards))
    return roster.seal_roster(delivery, terminal_id, terminal_box_public, os.urandom(32),
                              os.urandom(12))
