"""The accounts page: the accounts the signed-in person manages (an operator: the directors
of the district's kindergartens; a director: their teachers; an administrator: all), a form
to make one (``#account-add``; the initial password is generated and shown once) and one to
disable one (``#account-disable``)."""

from __future__ import annotations

from flask import request
from sqlalchemy import Connection
from werkzeug.wrappers.response import Response as WebResponse

from qatys.sentences import say
from server.context import ctx
from server.errors import OfficeError
from server.office import accounts as service
from server.office.blueprint import (
    Garden,
    bp,
    garden,
    gardens_of,
    managers_page,
    render,
    user,
)
from server.office.roster import groups_of
from server.staff.accounts import Role
from server.staff.sessions import PageError
from server.web.errors import page_status
from server.web.language import request_language


def _chosen(conn: Connection) -> Garden | None:
    """The kindergarten the page is about, if one is chosen (an operator or administrator
    may list all of theirs)."""
    try:
        return garden(conn)
    except PageError as exc:
        if request.method == "POST" or (
                exc.key == "not_found" and not request.values.get("kindergarten")):
            return None  # a refused form's kindergarten is the form's problem, not the page's
        raise


def _page(status: int = 200, **values: object) -> WebResponse:
    who = user()
    with ctx().engine.connect() as conn:
        chosen = _chosen(conn)
        listed = service.accounts_of(conn, who)
        gardens = gardens_of(conn, who)
        groups = groups_of(conn, chosen.code) if chosen else []
    if chosen is not None and who.role != Role.ADMIN:
        listed = [a for a in listed if a.kindergarten == chosen.code]
    roles = [r for r in Role if who.manages(r)]
    return render("accounts.html", status, kindergarten=chosen.code if chosen else None,
                  garden=chosen, accounts=listed, gardens=gardens, groups=groups, roles=roles,
                  form=request.form, **values)


@bp.get("/accounts")
@managers_page
def accounts() -> WebResponse:
    return _page()


@bp.post("/accounts/add")
@managers_page
def account_add() -> WebResponse:
    context, who = ctx(), user()
    form = request.form
    try:
        password = service.create(context.engine, who, form.get("username", ""),
                                  form.get("role", ""),
                                  form.get("kindergarten", "") or who.kindergarten or "",
                                  form.get("district", ""), form.getlist("group"),
                                  context.clock())
    except OfficeError as exc:
        return _page(page_status(exc.code), code=exc.code, field=exc.field,
                     detail=say(exc.sentence, request_language()))
    return _page(created=form.get("username", "").strip(), password=password)


@bp.post("/accounts/disable")
@managers_page
def account_disable() -> WebResponse:
    context = ctx()
    username = request.form.get("username", "").strip()
    try:
        service.disable(context.engine, user(), username, context.clock())
    except OfficeError as exc:
        return _page(page_status(exc.code), code=exc.code, field=exc.field,
                     detail=say(exc.sentence, request_language()))
    return _page(disabled=username)
