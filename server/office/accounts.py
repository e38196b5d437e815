"""Staff accounts made in the office: a district operator makes and disables the directors of
the district's kindergartens, a director the teachers of their kindergarten (with groups on
its roster), an administrator any account. The initial password is generated here and
shown once to the person who made the account (who hands it over); nothing is written on a
refusal, and each change writes its audit line in its own transaction."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, select

from qatys.sentences import Sentence
from server.errors import OfficeError
from server.office.roster import groups_of
from server.staff import audit
from server.staff.accounts import AccountError, Role, User, add_user, disable_user
from server.storage import db
from server.storage.db import writing

PASSWORD_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # noqa: S105 - letters, not a password
"""No 0/o, 1/l/i: the password is read off a screen and typed once."""
PASSWORD_GROUPS = 4
"""Four groups of four characters (about 79 bits), joined with hyphens."""


@dataclass(frozen=True)
class Account:
    username: str
    role: Role
    kindergarten: str | None
    district: str | None
    groups: tuple[str, ...]
    active: bool


def new_password() -> str:
    return "-".join("".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(4))
                    for _ in range(PASSWORD_GROUPS))


def accounts_of(conn: Connection, who: User) -> list[Account]:
    """The accounts ``who`` manages within their scope (an administrator: every one)."""
    groups: dict[str, list[str]] = {}
    for username, group in conn.execute(select(db.user_groups.c.username,
                                               db.user_groups.c.group_name)
                                        .order_by(db.user_groups.c.group_name)):
        groups.setdefault(username, []).append(group)
    found = []
    for r in conn.execute(select(db.users).order_by(db.users.c.username)):
        role = Role(r.role)
        if _in_scope(who, role, r.kindergarten):
            found.append(Account(r.username, role, r.kindergarten, r.district,
                                 tuple(groups.get(r.username, [])),
                                 r.disabled_at_us is None))
    return found


def _in_scope(who: User, role: Role, kindergarten: str | None) -> bool:
    if not who.manages(role):
        return False
    if who.role == Role.ADMIN:
        return True
    return kindergarten is not None and who.may_see(kindergarten)


def create(engine: Engine, who: User, username: str, role_text: str, kindergarten: str,
           district: str, groups: Iterable[str], now_us: int) -> str:
    """Make the account; returns its generated initial password (shown once, stored only as
    its hash). Refused, with nothing written: a role ``who`` does not manage, a kindergarten
    outside their scope, a group not on the roster, a taken username, a bad username."""
    username = username.strip()
    role = _managed_role(who, role_text)
    garden, area = _scope(who, role, kindergarten.strip() or None, district.strip() or None)
    chosen = sorted({g.strip() for g in groups if g.strip()}) if role == Role.TEACHER else []
    password = new_password()
    with writing(engine) as conn:
        if role == Role.TEACHER:
            _check_groups(conn, garden or "", chosen)
        if conn.execute(select(db.users.c.username)
                        .where(db.users.c.username == username)).first() is not None:
            raise OfficeError("username_taken", Sentence(
                "user %(username)s already exists", username=username), "username")
        try:
            add_user(conn, username, password, role, garden, now_us, district=area,
                     groups=chosen)
        except AccountError as exc:
            raise OfficeError("bad_form", exc.sentence, "username") from exc
        audit.record(conn, who, audit.Action.ACCOUNT_CREATED, garden, username, now_us,
                     role=role.value, district=area, groups=chosen)
    return password


def _managed_role(who: User, role_text: str) -> Role:
    if role_text not in {r.value for r in Role}:
        raise OfficeError("bad_form", Sentence("choose a role"), "role")
    role = Role(role_text)
    if not who.manages(role):
        raise OfficeError("role_not_managed", Sentence(
            "a %(who)s does not make accounts of the role %(role)s", who=who.role,
            role=role), "role")
    return role


def _scope(who: User, role: Role, garden: str | None,
           area: str | None) -> tuple[str | None, str | None]:
    """The (kindergarten, district) the new account is held to: a kindergarten of ``who``'s
    for a director or teacher, a district for an operator, neither for the others."""
    if role in (Role.DIRECTOR, Role.TEACHER):
        if garden is None:
            raise OfficeError("bad_form", Sentence("choose the kindergarten"), "kindergarten")
        if not who.may_see(garden):
            raise OfficeError("outside_scope", Sentence(
                "kindergarten %(kindergarten)s is not one of yours", kindergarten=garden),
                "kindergarten")
        return garden, None
    if role == Role.OPERATOR:
        if area is None:
            raise OfficeError("bad_form", Sentence("name the operator's district"), "district")
        return None, area
    return None, None


def _check_groups(conn: Connection, garden: str, chosen: list[str]) -> None:
    """A teacher's groups: at least one, each on the kindergarten's roster."""
    if not chosen:
        raise OfficeError("bad_form", Sentence("choose at least one group"), "group")
    known = set(groups_of(conn, garden))
    missing = [g for g in chosen if g not in known]
    if missing:
        raise OfficeError("unknown_group", Sentence(
            "kindergarten %(kindergarten)s has no group %(group)s on its roster",
            kindergarten=garden, group=missing[0]), "group")


def disable(engine: Engine, who: User, username: str, now_us: int) -> Account:
    """Disable an account ``who`` manages (its sessions end at once), with its audit line."""
    with writing(engine) as conn:
        row = conn.execute(select(db.users).where(db.users.c.username == username)).first()
        if (row is None or row.disabled_at_us is not None or username == who.username
                or not _in_scope(who, Role(row.role), row.kindergarten)):
            raise OfficeError("unknown_record", Sentence(
                "you manage no active account %(username)s", username=username), "username")
        disable_user(conn, username, now_us)
        audit.record(conn, who, audit.Action.ACCOUNT_DISABLED, row.kindergarten, username,
                     now_us, role=row.role)
    return Account(row.username, Role(row.role), row.kindergarten, row.district, (), False)
