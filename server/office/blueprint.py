"""What every office page shares: the blueprint, who may open it, which kindergarten a page
is about, and how a page or a refusal is rendered in the reader's language.

A director and a teacher work in their own kindergarten; an operator and an administrator
choose one of theirs (``?kindergarten=CODE``, kept in every link and form). A refusal of a
form (:class:`~server.errors.OfficeError`) is shown on the form's own page with its text and
the field at fault; a refusal of the page itself (``PageError``) as an error page.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ParamSpec

from flask import Blueprint, current_app, g, make_response, render_template, request
from flask_babel import get_translations, gettext
from sqlalchemy import Connection, select
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers.response import Response as WebResponse

from qatys.logs import log
from server.context import ctx
from server.i18n.words import Words
from server.office.documents import MAX_BYTES
from server.staff.accounts import OFFICE_ROLES, Role, User
from server.staff.sessions import PageError, signed_in_as
from server.storage import db
from server.web.errors import page_status
from server.web.language import remember_language, request_language

P = ParamSpec("P")
bp = Blueprint("office", __name__, url_prefix="/office", template_folder="templates",
               static_folder="static", static_url_path="/static")
logger = logging.getLogger("qatys.office")
office_page = signed_in_as(OFFICE_ROLES)
"""Directors, teachers, district operators and administrators."""
managers_page = signed_in_as(frozenset({Role.DIRECTOR, Role.OPERATOR, Role.ADMIN}))
"""The roster, terminals, accounts and the audit trail: not a teacher's."""
director_page = signed_in_as(frozenset({Role.DIRECTOR}))
"""Closures, cards, consent forms, guardians: the director of the kindergarten."""
children_page = signed_in_as(frozenset({Role.DIRECTOR, Role.TEACHER}))
"""The children's own records (absences, their documents): the kindergarten's director, and
its teachers for their groups."""


@dataclass(frozen=True)
class Garden:
    code: str
    name: str
    district: str
    closes_at: str | None


@bp.after_request
def _no_store(response: WebResponse) -> WebResponse:
    remember_language(response)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.context_processor
def _navigation() -> dict[str, object]:
    return {"office_links": office_links}


def office_links(who: User) -> list[tuple[str, str, str]]:
    """The office's sections ``who`` may open (endpoint, label, element id), in the order a
    director's day needs them."""
    teachers = frozenset({Role.DIRECTOR, Role.TEACHER})
    managers = frozenset({Role.DIRECTOR, Role.OPERATOR, Role.ADMIN})
    sections = [
        ("office.absences", gettext("Absences"), "nav-absences", teachers),
        ("office.reports", gettext("Reports from parents"), "nav-reports", teachers),
        ("office.closures", gettext("Closures"), "nav-closures", frozenset({Role.DIRECTOR})),
        ("office.cards", gettext("Cards"), "nav-cards", frozenset({Role.DIRECTOR})),
        ("office.consent", gettext("Consent forms"), "nav-consent", frozenset({Role.DIRECTOR})),
        ("office.guardians", gettext("Guardians"), "nav-guardians", frozenset({Role.DIRECTOR})),
        ("office.roster", gettext("Roster"), "nav-roster", managers),
        ("office.terminals", gettext("Enrol a terminal"), "nav-terminals", managers),
        ("office.accounts", gettext("Accounts"), "nav-accounts", managers),
        ("office.audit", gettext("Audit trail"), "nav-audit", managers),
    ]
    return [(endpoint, label, nav_id) for endpoint, label, nav_id, roles in sections
            if who.role in roles and endpoint in current_app.view_functions]


def user() -> User:
    signed: User = g.user
    return signed


def problems() -> dict[str, str]:
    """What each refusal's code says on an office page."""
    return {
        "forbidden": gettext("You have no access to this page."),
        "not_found": gettext("There is no such page."),
        "bad_request": gettext("The request is wrong."),
        "bad_form": gettext("Some fields are missing or wrong: check the marked field."),
        "future_date": gettext("The date is in the future."),
        "span_reversed": gettext("The last day is before the first day."),
        "span_too_long": gettext("A record spans at most a year."),
        "overlapping_absence": gettext("An absence is already recorded for some of these "
                                       "days: correct or cancel that record instead."),
        "unknown_child": gettext("There is no such child on the roster."),
        "not_your_child": gettext("This child is not in your kindergarten or your groups."),
        "document_type": gettext("The file must be a photo (JPEG, PNG) or a PDF."),
        "document_too_large": gettext("The file is larger than 10 MB."),
        "document_missing": gettext("Attach the document."),
        "unknown_record": gettext("There is no such record."),
        "roster_refused": gettext("The roster was not imported: nothing changed."),
        "already_revoked": gettext("This card was already revoked."),
        "unknown_group": gettext("This group is not on the kindergarten's roster."),
        "child_withdrawn": gettext("This child has left the kindergarten."),
        "reference_missing": gettext("Enter the paper form's reference."),
        "bad_consent_period": gettext("A consent runs from today for at most one year: "
                                      "choose a last day between today and a year ahead."),
        "nothing_to_withdraw": gettext("There is no consent in force to withdraw."),
        "not_bound": gettext("This person is not a guardian of this child."),
        "role_not_managed": gettext("You do not make accounts of this role."),
        "outside_scope": gettext("This kindergarten is not one of yours."),
        "username_taken": gettext("This username is taken: choose another."),
        "decision_note_missing": gettext("Say why the report is declined: the parent sees "
                                         "it."),
    }


def render(template: str, status: int = 200, **values: Any) -> WebResponse:
    body = render_template(f"office/{template}", lang=request_language(),
                           words=Words(get_translations()), problems=problems(),
                           user=g.get("user"), csrf=g.get("csrf", ""), **values)
    return make_response(body, status)


@bp.errorhandler(PageError)
def _page_error(exc: PageError) -> WebResponse:
    status = page_status(exc.key)
    log(logger, "page.refused", logging.WARNING, path=request.path, status=status,
        reason=exc.key)
    return render("error.html", status, key=exc.key)


def gardens_of(conn: Connection, who: User) -> list[Garden]:
    """The kindergartens ``who`` works in, by code."""
    rows = conn.execute(select(db.kindergartens).order_by(db.kindergartens.c.code))
    return [Garden(r.code, r.name, r.district, r.closes_at) for r in rows if who.may_see(r.code)]


def code_of_request() -> str:
    """The kindergarten of this request, read again (after a refused transaction)."""
    with ctx().engine.connect() as conn:
        return garden(conn).code


def garden(conn: Connection) -> Garden:
    """The kindergarten this request is about: the user's own, or the one chosen with
    ``?kindergarten=`` (a form's hidden field) among theirs; refused otherwise."""
    who = user()
    chosen = request.values.get("kindergarten", "") or who.kindergarten or ""
    if not chosen:
        mine = gardens_of(conn, who)
        if len(mine) != 1:
            raise PageError("not_found")
        return mine[0]
    if not who.may_see(chosen):
        raise PageError("forbidden")
    row = conn.execute(select(db.kindergartens)
                       .where(db.kindergartens.c.code == chosen)).first()
    if row is None:
        raise PageError("not_found")
    return Garden(row.code, row.name, row.district, row.closes_at)


UPLOAD_LIMIT = MAX_BYTES + 256 * 1024
"""A form with a document: the document's limit and room for the form's other fields (a
larger file is refused by its size before it is read: ``document_too_large``)."""


def takes_upload(view: Callable[P, WebResponse]) -> Callable[P, WebResponse]:
    """A form that carries a document: its body may be as large as a document may be (the
    server's usual limit is smaller). Outside the sign-in check, which reads the form."""
    @functools.wraps(view)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> WebResponse:
        request.max_content_length = UPLOAD_LIMIT
        return view(*args, **kwargs)
    return wrapper


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(exc: RequestEntityTooLarge) -> WebResponse:
    """A form's body over its limit: the file is too large, said on the office's page."""
    log(logger, "page.refused", logging.WARNING, path=request.path, status=413,
        reason="document_too_large")
    return render("error.html", page_status("document_too_large"), key="document_too_large")
