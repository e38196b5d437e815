"""Children's QR cards: issue (signed with the kindergarten's card key), revoke by serial,
and the door credentials (card keys + revoked serials) terminals receive at sync."""

from __future__ import annotations

import os
from datetime import date, timedelta

from sqlalchemy import Connection, or_, select

from protocol import cards, crypto
from provisioning.card_print import IssuedCard
from provisioning.errors import InvalidInput, NotFound
from qatys.sentences import Sentence
from server.registry.kindergartens import require_kindergarten
from server.registry.revocation import revoke_once
from server.storage import db

DEFAULT_VALIDITY = timedelta(days=2 * 365)
"""A card's lifetime unless the child leaves earlier: two years, then a new card."""


def card_key(conn: Connection, kindergarten: str, now_us: int) -> bytes:
    """The kindergarten's card-signing seed, made on first use."""
    row = conn.execute(select(db.card_keys.c.seed)
                       .where(db.card_keys.c.kindergarten == kindergarten)).first()
    if row is not None:
        return bytes(row.seed)
    seed = os.urandom(32)
    conn.execute(db.card_keys.insert().values(
        kindergarten=kindergarten, seed=seed, public=crypto.signing_public_key(seed),
        created_at_us=now_us))
    return seed


def issue_card(conn: Connection, child_id: str, today: date, now_us: int,
               expires: date | None = None) -> IssuedCard:
    """A new card (new serial) for a child on the roster; older cards stay valid until revoked."""
    child = conn.execute(select(db.children).where(db.children.c.child_id == child_id)).first()
    if child is None:
        raise NotFound(Sentence("no child with id %(child_id)s on any roster", child_id=child_id))
    if child.withdrawn_on is not None and child.withdrawn_on <= today.isoformat():
        raise InvalidInput(Sentence("child %(child_id)s left the kindergarten on %(withdrawn_on)s",
                                    child_id=child_id, withdrawn_on=child.withdrawn_on))
    until = expires or today + DEFAULT_VALIDITY
    if child.withdrawn_on is not None and expires is None:
        until = min(until, date.fromisoformat(child.withdrawn_on))
    if until < today:
        raise InvalidInput(Sentence("a card cannot expire before today"))
    kindergarten_name = require_kindergarten(conn, child.kindergarten)
    card = cards.Card(child.kindergarten, child_id, cards.serial_text(os.urandom(5)), today,
                      until)
    text = cards.sign_card(card, card_key(conn, child.kindergarten, now_us))
    conn.execute(db.cards.insert().values(
        serial=card.serial, kindergarten=card.kindergarten, child_id=child_id,
        issued_on=today.isoformat(), expires_on=until.isoformat(), issued_at_us=now_us))
    return IssuedCard(card, text, str(child.first_name), kindergarten_name)


def children_for_sheet(conn: Connection, kindergarten: str, today: date,
                       group: str | None = None) -> list[str]:
    """Child ids of the kindergarten (and group) who are enrolled today, in roster order."""
    require_kindergarten(conn, kindergarten)
    query = (select(db.children.c.child_id)
             .where(db.children.c.kindergarten == kindergarten)
             .where(or_(db.children.c.withdrawn_on.is_(None),
                        db.children.c.withdrawn_on > today.isoformat()))
             .order_by(db.children.c.group_name, db.children.c.child_id))
    if group is not None:
        query = query.where(db.children.c.group_name == group)
    ids = [str(r) for r in conn.execute(query).scalars()]
    if not ids:
        if group is not None:
            raise NotFound(Sentence("no enrolled children in %(kindergarten)s, group %(group)s",
                                    kindergarten=kindergarten, group=group))
        raise NotFound(Sentence("no enrolled children in %(kindergarten)s",
                                kindergarten=kindergarten))
    return ids


def revoke_card(conn: Connection, serial: str, reason: str, now_us: int) -> bool:
    """Revoke a card by serial; False when it already was. Terminals learn it at sync."""
    serial = serial.strip().upper()
    return revoke_once(conn, db.cards, "serial", serial, "revoked_reason", reason, now_us,
                       Sentence("no card with serial %(serial)s", serial=serial))


def door_credentials(conn: Connection, kindergarten: str, today: date,
                     now_us: int, with_pickup: bool = False) -> cards.DoorCredentials:
    """Card keys and the serials revoked and not yet expired (expired cards refuse themselves);
    ``with_pickup`` (a terminal that asks): each phone key's pickup bindings' relations."""
    keys = [bytes(k) for k in conn.execute(
        select(db.card_keys.c.public).where(db.card_keys.c.kindergarten == kindergarten))
        .scalars()]
    revoked = frozenset(str(s) for s in conn.execute(
        select(db.cards.c.serial).where(db.cards.c.kindergarten == kindergarten)
        .where(db.cards.c.revoked_at_us.is_not(None))
        .where(db.cards.c.expires_on >= today.isoformat())).scalars())
    phones, removed, unbound = _phones(conn, kindergarten, with_pickup)
    return cards.DoorCredentials(kindergarten, tuple(keys), revoked | unbound, now_us, phones,
                                 removed)


def _phones(conn: Connection, kindergarten: str, with_pickup: bool = False
            ) -> tuple[tuple[cards.PhoneKey, ...], frozenset[str], frozenset[str]]:
    """Guardians' phone keys bound to children here (by pseudonymous key id, no child ids),
    the keys of guardians removed altogether, and the serials of removed bindings."""
    rows = conn.execute(
        select(db.guardians.c.key_id, db.guardians.c.public_key,
               db.guardians.c.removed_at_us.label("key_removed"), db.guardian_children.c.serial,
               db.guardian_children.c.removed_at_us.label("binding_removed"),
               db.guardian_children.c.kind, db.guardian_children.c.relation)
        .join(db.guardian_children,
              db.guardian_children.c.guardian_id == db.guardians.c.guardian_id)
        .join(db.children, db.children.c.child_id == db.guardian_children.c.child_id)
        .where(db.children.c.kindergarten == kindergarten)).all()
    pickup: dict[str, list[tuple[str, str]]] = {}
    for r in rows:
        if with_pickup and r.kind == db.BindingKind.PICKUP and r.binding_removed is None:
            pickup.setdefault(r.key_id, []).append((str(r.serial), str(r.relation or "other")))
    keys = {r.key_id: cards.PhoneKey(r.key_id, bytes(r.public_key),
                                     tuple(sorted(pickup.get(r.key_id, []))))
            for r in rows if r.key_removed is None}
    removed = frozenset(r.key_id for r in rows if r.key_removed is not None)
    unbound = frozenset(str(r.serial) for r in rows if r.binding_removed is not None)
    return tuple(keys[k] for k in sorted(keys)), removed, unbound
