"""Guardians from the director's desk: who is bound to a child, the invitations still open,
a new invitation (server/families/guardians.py's own, as ``qatys guardian invite``), and the
removal of a guardian from a child (as ``qatys guardian remove``: the phone's codes stop
opening the door at the terminals' next sync; a guardian left with no child is signed out
everywhere at once). Each in the audit trail.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, select

from qatys.sentences import Sentence
from server.errors import FamiliesError, OfficeError
from server.families.guardians import Invitation, create_invitation, remove_binding
from server.office.cards import own_child
from server.staff.accounts import User
from server.staff.audit import Action, record
from server.storage import db


@dataclass(frozen=True)
class Bound:
    guardian_id: str
    key_id: str
    bound_at_us: int
    removed_at_us: int | None
    removed_by: str
    kind: str = db.BindingKind.GUARDIAN
    first_name: str = ""
    relation: str = ""
    """A pickup adult's (kind ``pickup``): added by a guardian (docs/families.md)."""


@dataclass(frozen=True)
class Pending:
    created_by: str
    created_at_us: int
    expires_at_us: int
    kind: str = db.BindingKind.GUARDIAN
    first_name: str = ""
    relation: str = ""


def guardians_of(conn: Connection, kindergarten: str, child_id: str) -> list[Bound]:
    """Every guardian ever bound to a child of ``kindergarten`` (the removed ones too)."""
    own_child(conn, kindergarten, child_id)
    rows = conn.execute(
        select(db.guardian_children, db.guardians.c.key_id)
        .join(db.guardians, db.guardians.c.guardian_id == db.guardian_children.c.guardian_id)
        .where(db.guardian_children.c.child_id == child_id.strip())
        .order_by(db.guardian_children.c.bound_at_us))
    return [Bound(r.guardian_id, r.key_id, r.bound_at_us, r.removed_at_us, r.removed_by or "",
                  r.kind, r.first_name or "", r.relation or "") for r in rows]


def pending(conn: Connection, child_id: str, now_us: int) -> list[Pending]:
    """The child's invitations neither claimed nor expired."""
    rows = conn.execute(select(db.guardian_invitations)
                        .where(db.guardian_invitations.c.child_id == child_id.strip())
                        .where(db.guardian_invitations.c.used_at_us.is_(None))
                        .where(db.guardian_invitations.c.expires_at_us > now_us)
                        .order_by(db.guardian_invitations.c.created_at_us))
    return [Pending(r.created_by, r.created_at_us, r.expires_at_us, r.kind, r.first_name or "",
                    r.relation or "") for r in rows]


def invite(conn: Connection, who: User, kindergarten: str, child_id: str,
           now_us: int) -> Invitation:
    """A one-time invitation for a guardian of a child of ``kindergarten`` (seven days)."""
    child_id = own_child(conn, kindergarten, child_id).child_id
    try:
        invitation = create_invitation(conn, child_id, who.username, now_us)
    except FamiliesError as exc:  # the child has left
        raise OfficeError(exc.code, exc.sentence, "child") from exc
    record(conn, who, Action.GUARDIAN_INVITED, kindergarten, child_id, now_us,
           expires_at_us=invitation.expires_at_us)
    return invitation


def remove(conn: Connection, who: User, kindergarten: str, guardian_id: str, child_id: str,
           now_us: int) -> int:
    """Remove a guardian from a child of ``kindergarten``; returns how many of the
    guardian's sessions ended."""
    child_id = own_child(conn, kindergarten, child_id).child_id
    guardian_id = guardian_id.strip()
    if not guardian_id:
        raise OfficeError("bad_form", Sentence("choose the guardian to remove"), "guardian")
    kind = conn.execute(select(db.guardian_children.c.kind)
                        .where(db.guardian_children.c.guardian_id == guardian_id)
                        .where(db.guardian_children.c.child_id == child_id)).scalar()
    try:
        ended = remove_binding(conn, guardian_id, child_id, who.username, now_us)
    except FamiliesError as exc:
        raise OfficeError("not_bound", exc.sentence, "guardian") from exc
    action = Action.PICKUP_REMOVED if kind == db.BindingKind.PICKUP else Action.GUARDIAN_REMOVED
    record(conn, who, action, kindergarten, child_id, now_us, guardian_id=guardian_id,
           sessions_ended=ended)
    return ended
