"""The staff's sign-in on the web: the session cookie, the sign-in form's CSRF cookie, and
``signed_in_as`` for every page that needs a signed-in, still active account of some roles.

Cookies: ``qatys_staff`` (the session id, path ``/``: the finance and the office pages share
one sign-in; the parents' pages never read it) and ``qatys_login`` (a random
value whose HMAC is the sign-in form's CSRF token, path ``/finance/login``); both HttpOnly,
SameSite=Lax, Secure when the server is reached over https. The session's own CSRF token is
bound to its id (server/web/sessions.py). Nothing else is kept in the browser.
"""

from __future__ import annotations

import functools
import logging
import secrets
from collections.abc import Callable
from typing import ParamSpec

from flask import g, redirect, request, url_for
from werkzeug.wrappers.response import Response as WebResponse

from qatys.logs import log
from server.context import ServerContext, ctx
from server.staff.accounts import Role, User, active_user
from server.storage.db import writing
from server.web.guard import secure_cookies
from server.web.sessions import (
    RevokeReason,
    SessionKind,
    SessionStatus,
    csrf_matches,
    csrf_token,
    look_up,
    open_session,
    revoke,
)

STAFF_COOKIE = "qatys_staff"
STAFF_PATH = "/"
OLD_STAFF_PATHS = ("/finance/",)
"""Where the cookie lived before the office came: dropped there too, or a browser would keep
sending its ended session before the new one."""
LOGIN_COOKIE = "qatys_login"
LOGIN_PATH = "/finance/login"
logger = logging.getLogger("qatys.finance")
P = ParamSpec("P")


class PageError(Exception):
    """A refusal shown as a finance page (server/finance/templates/finance/error.html):
    ``key`` names its text and, in ``server.web.errors.PAGE_STATUS``, its HTTP status."""

    def __init__(self, key: str, detail: str = "") -> None:
        super().__init__(key)
        self.key, self.detail = key, detail


def _lifetime_us(context: ServerContext) -> int:
    return context.config.session_hours * 3600 * 1_000_000


def signed_in_as(roles: frozenset[Role]) -> Callable[[Callable[P, WebResponse]],
                                                     Callable[P, WebResponse]]:
    """Only for a signed-in, still active user of one of ``roles`` whose session has neither
    expired nor been revoked (another role is refused: ``forbidden``); a form (POST) must
    carry the session's CSRF token."""
    def decorate(view: Callable[P, WebResponse]) -> Callable[P, WebResponse]:
        @functools.wraps(view)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> WebResponse:
            user = _session_user()
            if isinstance(user, WebResponse):
                return user
            if user.role not in roles:
                raise PageError("forbidden")
            if request.method == "POST" and not csrf_matches(
                    ctx().session_secret, "staff", g.staff_token, request.form.get("csrf", "")):
                raise PageError("bad_request", "csrf")
            return view(*args, **kwargs)
        return wrapper
    return decorate


signed_in = signed_in_as(frozenset(Role))
"""Any role."""


def _session_user() -> User | WebResponse:
    """The signed-in user (``g.user``, ``g.csrf`` set), or the way to the sign-in form."""
    context = ctx()
    token = request.cookies.get(STAFF_COOKIE, "")
    user: User | None = None
    status = SessionStatus.UNKNOWN
    if token:
        with context.engine.connect() as conn:
            found = look_up(conn, SessionKind.STAFF, token, context.clock())
            status = found.status
            if found.subject is not None:
                user = active_user(conn, found.subject)
    if user is None:
        if token:
            log(logger, "session.refused", logging.WARNING, path=request.path,
                status=status.value if status is not SessionStatus.ACTIVE else "disabled")
            response = redirect(url_for("finance.login", next=request.path, expired=1))
            drop_cookie(response)
            return response
        return redirect(url_for("finance.login", next=request.path))
    g.user = user
    g.staff_token = token
    g.csrf = csrf_token(context.session_secret, "staff", token)
    return user


def drop_cookie(response: WebResponse) -> None:
    for path in (STAFF_PATH, *OLD_STAFF_PATHS):
        response.delete_cookie(STAFF_COOKIE, path=path)


def login_form_token() -> tuple[str, str | None]:
    """The sign-in form's CSRF token, from this browser's ``qatys_login`` cookie, and the new
    cookie value to set when it has none yet."""
    value = request.cookies.get(LOGIN_COOKIE, "")
    new = None
    if len(value) < 20:
        value = new = secrets.token_urlsafe(24)
    return csrf_token(ctx().session_secret, "login", value), new


def login_csrf_ok() -> bool:
    return csrf_matches(ctx().session_secret, "login", request.cookies.get(LOGIN_COOKIE, ""),
                        request.form.get("csrf", ""))


def set_login_cookie(response: WebResponse, value: str) -> None:
    response.set_cookie(LOGIN_COOKIE, value, path=LOGIN_PATH, httponly=True, samesite="Lax",
                        secure=secure_cookies(ctx()))


def start(response: WebResponse, user: User) -> None:
    """Open a session for ``user`` and give its id to the browser; a session its cookie held
    before (a copy of which may be elsewhere) ends."""
    context = ctx()
    now = context.clock()
    old = request.cookies.get(STAFF_COOKIE, "")
    with writing(context.engine) as conn:
        if old:
            revoke(conn, SessionKind.STAFF, old, RevokeReason.SIGNED_IN_AGAIN, now)
        token = open_session(conn, SessionKind.STAFF, user.username, now, _lifetime_us(context))
    if old:  # perhaps one of an older path, which the browser would send first
        for path in OLD_STAFF_PATHS:
            response.delete_cookie(STAFF_COOKIE, path=path)
    response.set_cookie(STAFF_COOKIE, token, max_age=context.config.session_hours * 3600,
                        path=STAFF_PATH, httponly=True, samesite="Lax",
                        secure=secure_cookies(context))


def end(response: WebResponse) -> None:
    """Revoke the signed-in session (every copy of its cookie) and drop the cookie."""
    context = ctx()
    token: str = g.staff_token
    with writing(context.engine) as conn:
        revoke(conn, SessionKind.STAFF, token, RevokeReason.LOGOUT, context.clock())
    drop_cookie(response)
