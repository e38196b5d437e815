"""People who sign in to the finance and office pages, and what each role may see and do.

Passwords are stored as salted scrypt hashes (Werkzeug's); five wrong passwords lock an
account for fifteen minutes. A director sees one kindergarten, a teacher some groups of one
kindergarten, a district operator the kindergartens of one district; nobody but a finance
officer approves money (the administrator manages accounts, the auditor only reads).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from sqlalchemy import Connection, Engine, select
from werkzeug.security import check_password_hash, generate_password_hash

from qatys.sentences import Sentence
from server.errors import FinanceError
from server.storage import db
from server.storage.db import writing
from server.web.sessions import RevokeReason, SessionKind, revoke_subject


class Role(StrEnum):
    """A staff account's role (docs/finance.md, docs/office.md)."""
    FINANCE = "finance"
    DIRECTOR = "director"
    """Bound to one kindergarten."""
    TEACHER = "teacher"
    """Bound to some groups of one kindergarten: their today's list and absences."""
    OPERATOR = "operator"
    """The district's: its kindergartens, their directors' accounts and terminals."""
    AUDITOR = "auditor"
    """Reads everything, changes nothing."""
    ADMIN = "admin"


FINANCE_ROLES = frozenset({Role.FINANCE, Role.DIRECTOR, Role.AUDITOR, Role.ADMIN})
"""Who opens the finance pages (money); teachers and operators work in the office."""
OFFICE_ROLES = frozenset({Role.DIRECTOR, Role.TEACHER, Role.OPERATOR, Role.ADMIN})
"""Who opens the office pages."""
MANAGES = {Role.ADMIN: frozenset(Role), Role.OPERATOR: frozenset({Role.DIRECTOR}),
           Role.DIRECTOR: frozenset({Role.TEACHER})}
"""Whose accounts each role may create and disable (within its own scope)."""


ROLES = tuple(role.value for role in Role)
"""The roles as text (for the command line's choices)."""
MIN_PASSWORD = 10
MAX_FAILURES = 5
LOCK_US = 15 * 60 * 1_000_000
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{2,63}$")
_DUMMY_HASH = generate_password_hash("not a password of anyone")


class AccountError(FinanceError):
    """An account that cannot be created or changed as asked (code ``bad_account``)."""

    def __init__(self, message: Sentence) -> None:
        super().__init__("bad_account", message)


@dataclass(frozen=True)
class User:
    username: str
    role: Role
    kindergarten: str | None
    district: str | None = None
    groups: frozenset[str] = frozenset()
    """A teacher's groups."""
    district_gardens: frozenset[str] = field(default=frozenset(), compare=False)
    """An operator's kindergartens, read with the account (a district gains kindergartens)."""

    @property
    def can_approve(self) -> bool:
        return self.role == Role.FINANCE

    @property
    def can_compute(self) -> bool:
        """Refreshing the month overview writes cached totals: not for the read-only auditor."""
        return self.role in (Role.FINANCE, Role.ADMIN)

    @property
    def sees_names(self) -> bool:
        """Children's names are for the people who know the children; paying needs none."""
        return self.role in (Role.DIRECTOR, Role.TEACHER)

    def may_see(self, kindergarten: str) -> bool:
        if self.role in (Role.DIRECTOR, Role.TEACHER):
            return self.kindergarten == kindergarten
        if self.role == Role.OPERATOR:
            return kindergarten in self.district_gardens
        return True

    def may_see_group(self, kindergarten: str, group: str) -> bool:
        """A child of ``group`` in ``kindergarten``: a teacher's own groups only."""
        return self.may_see(kindergarten) and (self.role != Role.TEACHER or group in self.groups)

    def manages(self, role: Role) -> bool:
        return role in MANAGES.get(self.role, frozenset())


def add_user(conn: Connection, username: str, password: str, role: str,
             kindergarten: str | None, now_us: int, *, district: str | None = None,
             groups: Iterable[str] = ()) -> User:
    """A new account: a director names a kindergarten, a teacher a kindergarten and groups
    on its roster, an operator a district that has kindergartens; the others none."""
    groups = frozenset(g.strip() for g in groups if g.strip())
    if not _USERNAME.match(username):
        raise AccountError(Sentence("username must be 3-64 of a-z 0-9 . _ - (lower case)"))
    if role not in ROLES:
        raise AccountError(Sentence("role must be one of %(roles)s", roles=", ".join(ROLES)))
    _check_scope(conn, Role(role), kindergarten, district, groups)
    if len(password) < MIN_PASSWORD:
        raise AccountError(Sentence("the password must have at least %(min_password)s characters",
                                    min_password=MIN_PASSWORD))
    if conn.execute(select(db.users.c.username)
                    .where(db.users.c.username == username)).first() is not None:
        raise AccountError(Sentence("user %(username)s already exists", username=username))
    conn.execute(db.users.insert().values(
        username=username, password_hash=generate_password_hash(password), role=role,
        kindergarten=kindergarten, district=district, created_at_us=now_us, failed_logins=0))
    for group in sorted(groups):
        conn.execute(db.user_groups.insert().values(username=username, group_name=group))
    return _user(conn, username, Role(role), kindergarten, district)


def _check_scope(conn: Connection, role: Role, kindergarten: str | None, district: str | None,
                 groups: frozenset[str]) -> None:
    if (role in (Role.DIRECTOR, Role.TEACHER)) != (kindergarten is not None):
        raise AccountError(Sentence("a director or teacher needs --kindergarten; other roles "
                                    "must not have one"))
    if (role == Role.OPERATOR) != (district is not None):
        raise AccountError(Sentence("an operator needs --district; other roles must not have "
                                    "one"))
    if (role == Role.TEACHER) != bool(groups):
        raise AccountError(Sentence("a teacher needs at least one --group; other roles must "
                                    "not have one"))
    if kindergarten is not None and conn.execute(
            select(db.kindergartens.c.code)
            .where(db.kindergartens.c.code == kindergarten)).first() is None:
        raise AccountError(Sentence("kindergarten %(kindergarten)s does not exist",
                                    kindergarten=kindergarten))
    if district is not None and conn.execute(
            select(db.kindergartens.c.code)
            .where(db.kindergartens.c.district == district)).first() is None:
        raise AccountError(Sentence("no kindergarten is in district %(district)s",
                                    district=district))
    known = set(conn.execute(select(db.children.c.group_name).distinct()
                             .where(db.children.c.kindergarten == kindergarten)).scalars())
    for group in sorted(groups - known):
        raise AccountError(Sentence("kindergarten %(kindergarten)s has no group %(group)s on "
                                    "its roster", kindergarten=kindergarten, group=group))


def _user(conn: Connection, username: str, role: Role, kindergarten: str | None,
          district: str | None) -> User:
    """The account with its scope as it stands: a teacher's groups, an operator's
    kindergartens."""
    groups = frozenset(conn.execute(select(db.user_groups.c.group_name)
                                    .where(db.user_groups.c.username == username)).scalars())
    gardens = frozenset(conn.execute(select(db.kindergartens.c.code)
                                     .where(db.kindergartens.c.district == district)).scalars()
                        ) if role == Role.OPERATOR else frozenset()
    return User(username, role, kindergarten, district, groups, gardens)


def disable_user(conn: Connection, username: str, now_us: int) -> None:
    """Disable the account and end its open sessions in the same transaction."""
    result = conn.execute(db.users.update().where(db.users.c.username == username)
                          .where(db.users.c.disabled_at_us.is_(None))
                          .values(disabled_at_us=now_us))
    if not result.rowcount:
        raise AccountError(Sentence("no active user %(username)s", username=username))
    revoke_subject(conn, SessionKind.STAFF, username, RevokeReason.ACCOUNT_DISABLED, now_us)


def active_user(conn: Connection, username: str) -> User | None:
    row = conn.execute(select(db.users).where(db.users.c.username == username)
                       .where(db.users.c.disabled_at_us.is_(None))).first()
    return _user(conn, row.username, Role(row.role), row.kindergarten, row.district) \
        if row else None


class SignInRefusal(StrEnum):
    WRONG = "wrong"
    LOCKED = "locked"


def sign_in(engine: Engine, username: str, password: str, now_us: int) -> User | SignInRefusal:
    """The user, or why not. The password hash is checked with no lock held (scrypt takes
    tens of milliseconds and must not stall check-ins waiting for the write lock); the outcome
    is then counted in a short write transaction that reads the account again, so concurrent
    failures all count and the fifth one locks.

    A missing user costs the same hash check as a wrong password, so timing does not tell
    which usernames exist."""
    with engine.connect() as conn:
        row = conn.execute(select(db.users).where(db.users.c.username == username)).first()
    if row is None or row.disabled_at_us is not None:
        check_password_hash(_DUMMY_HASH, password)
        return SignInRefusal.WRONG
    if row.locked_until_us is not None and row.locked_until_us > now_us:
        return SignInRefusal.LOCKED
    good = check_password_hash(row.password_hash, password)
    with writing(engine) as conn:
        return _count_outcome(conn, username, row.password_hash, good, now_us)


def _count_outcome(conn: Connection, username: str, checked_hash: str, good: bool,
                   now_us: int) -> User | SignInRefusal:
    # FOR UPDATE: on PostgreSQL concurrent sign-ins of one account take turns on its row
    # (SQLite's write transaction is exclusive anyway), so no failure is lost.
    row = conn.execute(select(db.users).where(db.users.c.username == username)
                       .with_for_update()).first()
    if row is None or row.disabled_at_us is not None or row.password_hash != checked_hash:
        return SignInRefusal.WRONG
    if row.locked_until_us is not None and row.locked_until_us > now_us:
        return SignInRefusal.LOCKED  # locked while this password was being checked
    if not good:
        failures = row.failed_logins + 1
        locked = now_us + LOCK_US if failures >= MAX_FAILURES else None
        conn.execute(db.users.update().where(db.users.c.username == username).values(
            failed_logins=0 if locked else failures, locked_until_us=locked))
        return SignInRefusal.LOCKED if locked else SignInRefusal.WRONG
    if row.failed_logins or row.locked_until_us:
        conn.execute(db.users.update().where(db.users.c.username == username)
                     .values(failed_logins=0, locked_until_us=None))
    return _user(conn, row.username, Role(row.role), row.kindergarten, row.district)


def list_users(conn: Connection) -> list[dict[str, object]]:
    groups: dict[str, list[str]] = {}
    for username, group in conn.execute(select(db.user_groups.c.username,
                                               db.user_groups.c.group_name)
                                        .order_by(db.user_groups.c.group_name)):
        groups.setdefault(username, []).append(group)
    return [{"username": r.username, "role": r.role, "kindergarten": r.kindergarten,
             "district": r.district, "groups": groups.get(r.username, []),
             "disabled": r.disabled_at_us is not None}
            for r in conn.execute(select(db.users).order_by(db.users.c.username))]
