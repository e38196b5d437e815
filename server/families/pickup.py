"""Adults a guardian allows to collect the child (docs/families.md): a grandmother, a nanny …

A guardian adds one from the phone (first name and relation); the adult receives an
invitation like a guardian's (server/families/guardians.py) and binds their own phone key to
it. The binding is of kind ``pickup``: it has a serial and a binding signature like a
guardian's, so the terminals verify its entry code unchanged, but its phone sees only the
entry code and today's state. The guardian or the director removes it through the one path
that removes a guardian (its serial revoked at the terminals' next sync).

Who brought and who collected a child is read from the event's phone code (binding serial
and window): the serial names the binding, the binding its kind, first name and relation.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Connection, func, select

from protocol.events import Direction, EventKind, Method
from protocol.phone import PickupRelation
from qatys.sentences import Sentence
from qatys.timeutil import local_date
from server.domain.today import ChildState, state_today
from server.errors import FamiliesError
from server.families.guardians import Invitation, create_invitation, is_guardian_of, remove_binding
from server.money.statements import absences_in_effect, local_midnight_us, time_corrections
from server.storage import db

_DAY_US = 86_400_000_000
DEFAULT_PER_CHILD = 6
MAX_FIRST_NAME = 100
_NAME_MARKS = frozenset(" -'’")
"""Besides letters (and the combining marks of letters), what a first name may hold."""


def checked_first_name(typed: str) -> str:
    """The first name as stored: trimmed, at most 100 characters, letters (any script) with
    spaces, hyphens and apostrophes between them; no digits, no control characters."""
    name = unicodedata.normalize("NFC", typed.strip())
    if not name:
        raise FamiliesError("bad_first_name", Sentence("write the adult's first name"),
                            field="first_name")
    if len(name) > MAX_FIRST_NAME:
        raise FamiliesError("bad_first_name", Sentence(
            "a first name has at most %(limit)s characters", limit=MAX_FIRST_NAME),
            field="first_name")
    if not all(c.isalpha() or c in _NAME_MARKS or unicodedata.category(c).startswith("M")
               for c in name) or not name[0].isalpha():
        raise FamiliesError("bad_first_name", Sentence(
            "a first name is made of letters (spaces, hyphens and apostrophes between them)"),
            field="first_name")
    return name


def checked_relation(typed: str) -> PickupRelation:
    try:
        return PickupRelation(typed.strip())
    except ValueError:
        raise FamiliesError("bad_relation", Sentence(
            "the relation must be one of: %(relations)s",
            relations=", ".join(PickupRelation)), field="relation") from None


def _counted(conn: Connection, child_id: str, now_us: int) -> int:
    """Pickup adults of the child: bound and not removed, or invited and still able to claim
    (an open invitation holds its place, so the limit cannot be passed by inviting)."""
    bound = conn.execute(select(func.count()).select_from(db.guardian_children)
                         .join(db.guardians,
                               db.guardians.c.guardian_id == db.guardian_children.c.guardian_id)
                         .where(db.guardian_children.c.child_id == child_id)
                         .where(db.guardian_children.c.kind == db.BindingKind.PICKUP)
                         .where(db.guardian_children.c.removed_at_us.is_(None))
                         .where(db.guardians.c.removed_at_us.is_(None))).scalar_one()
    invited = conn.execute(select(func.count()).select_from(db.guardian_invitations)
                           .where(db.guardian_invitations.c.child_id == child_id)
                           .where(db.guardian_invitations.c.kind == db.BindingKind.PICKUP)
                           .where(db.guardian_invitations.c.used_at_us.is_(None))
                           .where(db.guardian_invitations.c.expires_at_us > now_us)
                           ).scalar_one()
    return int(bound) + int(invited)


def _guardian_of(conn: Connection, guardian_id: str, child_id: str) -> None:
    if not is_guardian_of(conn, guardian_id, child_id):
        raise FamiliesError("not_found", Sentence("no such child"))


def add_pickup(conn: Connection, guardian_id: str, child_id: str, first_name: str,
               relation: str, limit: int, now_us: int) -> Invitation:
    """A guardian invites an adult to collect ``child_id``: the invitation the adult's phone
    claims. Refused, with nothing written, for a bad name or relation, another guardian's
    child, or a child who has ``limit`` pickup adults (the policy's
    ``[families] pickup_adults_per_child``)."""
    name, kind = checked_first_name(first_name), checked_relation(relation)
    _guardian_of(conn, guardian_id, child_id)
    # the child's row locked: two guardians adding at once cannot pass the limit together
    conn.execute(select(db.children.c.child_id).where(db.children.c.child_id == child_id)
                 .with_for_update()).first()
    if _counted(conn, child_id, now_us) >= limit:
        raise FamiliesError("pickup_limit", Sentence(
            "a child may have at most %(limit)s adults who collect them; remove one first",
            limit=limit))
    return create_invitation(conn, child_id, f"guardian:{guardian_id}", now_us,
                             kind=db.BindingKind.PICKUP, first_name=name, relation=kind)


@dataclass(frozen=True)
class PickupAdult:
    child_id: str
    guardian_id: str | None
    """None while the invitation is not claimed yet."""
    first_name: str
    relation: str
    since_us: int
    invitation_id: int
    expires_at_us: int | None = None
    """An unclaimed invitation's end."""


def pickups_of(conn: Connection, child_ids: Iterable[str], now_us: int) -> list[PickupAdult]:
    """The children's pickup adults: bound ones, then invitations still open."""
    ids = sorted(set(child_ids))
    bound = conn.execute(
        select(db.guardian_children)
        .join(db.guardians, db.guardians.c.guardian_id == db.guardian_children.c.guardian_id)
        .where(db.guardian_children.c.child_id.in_(ids))
        .where(db.guardian_children.c.kind == db.BindingKind.PICKUP)
        .where(db.guardian_children.c.removed_at_us.is_(None))
        .where(db.guardians.c.removed_at_us.is_(None))
        .order_by(db.guardian_children.c.bound_at_us)).all()
    invited = conn.execute(
        select(db.guardian_invitations)
        .where(db.guardian_invitations.c.child_id.in_(ids))
        .where(db.guardian_invitations.c.kind == db.BindingKind.PICKUP)
        .where(db.guardian_invitations.c.used_at_us.is_(None))
        .where(db.guardian_invitations.c.expires_at_us > now_us)
        .order_by(db.guardian_invitations.c.id)).all()
    return ([PickupAdult(r.child_id, r.guardian_id, r.first_name or "", r.relation or "",
                         r.bound_at_us, r.invitation) for r in bound]
            + [PickupAdult(r.child_id, None, r.first_name or "", r.relation or "",
                           r.created_at_us, r.id, r.expires_at_us) for r in invited])


def remove_pickup(conn: Connection, guardian_id: str, child_id: str, adult: str,
                  now_us: int) -> None:
    """A guardian removes a pickup adult (``adult``: the adult's guardian id, or
    ``invitation:<id>`` for an invitation not claimed yet) from their child."""
    _guardian_of(conn, guardian_id, child_id)
    if adult.startswith("invitation:"):
        number = adult.removeprefix("invitation:")
        result = conn.execute(
            db.guardian_invitations.update()
            .where(db.guardian_invitations.c.id == (int(number) if number.isdigit() else -1))
            .where(db.guardian_invitations.c.child_id == child_id)
            .where(db.guardian_invitations.c.kind == db.BindingKind.PICKUP)
            .where(db.guardian_invitations.c.used_at_us.is_(None))
            .values(expires_at_us=now_us))
        if not result.rowcount:
            raise FamiliesError("not_bound", Sentence("no such adult for this child"))
        return
    found = conn.execute(select(db.guardian_children.c.kind)
                         .where(db.guardian_children.c.guardian_id == adult)
                         .where(db.guardian_children.c.child_id == child_id)
                         .where(db.guardian_children.c.removed_at_us.is_(None))).first()
    if found is None or found.kind != db.BindingKind.PICKUP:
        raise FamiliesError("not_bound", Sentence("no such adult for this child"))
    remove_binding(conn, adult, child_id, f"guardian:{guardian_id}", now_us)


@dataclass(frozen=True)
class Who:
    """Who brought or collected a child at one passage, as the server's pages show it."""
    kind: str
    """``card``, ``face``, ``manual``, ``guardian`` or ``pickup`` (``data-brought-by``)."""
    first_name: str = ""
    relation: str = ""

    @property
    def code(self) -> str:
        """The page's attribute: the kind, with the relation for a pickup adult."""
        return f"pickup:{self.relation}" if self.kind == "pickup" else self.kind


def bindings_by_serial(conn: Connection, serials: Iterable[str]) -> dict[str, Who]:
    """The phone bindings behind these serials: a guardian's, or a pickup adult's with the
    adult's first name and relation."""
    wanted = sorted({serial_of(s) for s in serials if s})
    if not wanted:
        return {}
    return {str(r.serial): (Who("pickup", r.first_name or "", r.relation or "")
                            if r.kind == db.BindingKind.PICKUP else Who("guardian"))
            for r in conn.execute(
        select(db.guardian_children.c.serial, db.guardian_children.c.kind,
               db.guardian_children.c.first_name, db.guardian_children.c.relation)
        .where(db.guardian_children.c.serial.in_(wanted)))}


def serial_of(phone_code: str | None) -> str:
    """The binding serial of an event's phone code (``<serial>/<window>``)."""
    return (phone_code or "").split("/", 1)[0]


def who(method: str, phone_code: str | None, bindings: dict[str, Who]) -> Who:
    """One passage's adult: by card, face or hand, or the phone binding that showed the code
    (a guardian, or a pickup adult with first name and relation); ``bindings`` from
    :func:`bindings_by_serial`."""
    if method == Method.QR_PHONE:
        return bindings.get(serial_of(phone_code), Who("guardian"))
    kinds = {str(Method.QR_CARD): "card", str(Method.FACE): "face",
             str(Method.MANUAL): "manual"}
    return Who(kinds.get(str(method), str(method)))


@dataclass(frozen=True)
class Passage:
    """An accepted arrival or departure at its corrected time (a wrong clock's event at the
    time server/sync/clock_corrections.py gave it)."""
    child_id: str
    at_us: int
    leaving: bool
    method: str
    phone_code: str | None


def passages(conn: Connection, child_ids: Iterable[str], start_us: int,
             end_us: int) -> list[Passage]:
    """The children's passages from ``start_us`` to ``end_us`` (events recorded up to a day
    either side are read, since a correction may move them in)."""
    e = db.events.c
    rows = conn.execute(
        select(e.event_id, e.child_id, e.kind, e.direction, e.method, e.phone_code,
               e.recorded_at_us, e.kindergarten)
        .where(e.child_id.in_(sorted(set(child_ids))))
        .where(e.kind.in_([EventKind.ARRIVAL, EventKind.DEPARTURE]))
        .where(e.body_status == db.BodyStatus.OK)
        .where(e.recorded_at_us >= start_us - _DAY_US)
        .where(e.recorded_at_us < end_us + _DAY_US)).all()
    fixed: dict[str, int] = {}
    for kindergarten in sorted({r.kindergarten for r in rows}):
        fixed.update(time_corrections(conn, kindergarten))
    found = [Passage(r.child_id, fixed.get(r.event_id, r.recorded_at_us),
                     r.direction == Direction.OUT or r.kind == EventKind.DEPARTURE,
                     r.method, r.phone_code) for r in rows]
    return [p for p in found if start_us <= p.at_us < end_us]


def today_states(conn: Connection, child_ids: Iterable[str], now_us: int) -> dict[str, ChildState]:
    """Each child's state today as a phone shows it: ``present`` (arrived, not gone),
    ``left``, ``absent`` (an absence recorded for today) or ``expected`` (not yet)."""
    ids = sorted(set(child_ids))
    day = local_date(now_us)
    arrived: dict[str, int] = {}
    left: dict[str, int] = {}
    for p in passages(conn, ids, local_midnight_us(day),
                      local_midnight_us(day + timedelta(days=1))):
        if p.leaving:
            left[p.child_id] = max(p.at_us, left.get(p.child_id, p.at_us))
        else:
            arrived[p.child_id] = min(p.at_us, arrived.get(p.child_id, p.at_us))
    absent = {span.child_id for span in absences_in_effect(conn, set(ids), day, day)}
    return {child_id: state_today(arrived.get(child_id), left.get(child_id), child_id in absent)
            for child_id in ids}


def who_by_day(conn: Connection, child_id: str, start_us: int, end_us: int
               ) -> dict[str, tuple[Who | None, Who | None]]:
    """For each local day from ``start_us`` to ``end_us`` with a passage: who brought the
    child (the day's first arrival) and who collected them (its last departure)."""
    found = passages(conn, [child_id], start_us, end_us)
    bindings = bindings_by_serial(conn, [p.phone_code or "" for p in found])
    first: dict[str, tuple[int, Who]] = {}
    last: dict[str, tuple[int, Who]] = {}
    for p in found:
        day = local_date(p.at_us).isoformat()
        adult = who(p.method, p.phone_code, bindings)
        if p.leaving:
            if day not in last or p.at_us >= last[day][0]:
                last[day] = (p.at_us, adult)
        elif day not in first or p.at_us < first[day][0]:
            first[day] = (p.at_us, adult)
    return {day: (first[day][1] if day in first else None,
                  last[day][1] if day in last else None)
            for day in sorted(set(first) | set(last))}
