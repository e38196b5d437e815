"""Server pages for people: the system overview an installer or operator opens first.

It names kindergartens, terminals and their counts, so it is for signed-in staff only: ``/``
sends everyone to ``/finance/system``, which (like every finance page) sends whoever is not
signed in to the finance sign-in. The staff cookie is sent only to ``/finance/``, so the page
lives there. A director sees their own kindergarten only.
"""

from __future__ import annotations

from flask import Blueprint, g, redirect, render_template, url_for
from sqlalchemy import func, select
from werkzeug.wrappers.response import Response as WebResponse

from qatys.timeutil import local_text
from server.context import ctx
from server.finance.accounts import Role, User
from server.finance.sessions import signed_in
from server.i18n import LANGUAGES, catalogue
from server.storage import db

bp = Blueprint("pages", __name__, template_folder="templates")


@bp.get("/")
def root() -> WebResponse:
    return redirect(url_for("pages.overview"))


@bp.get("/finance/system")
@signed_in
def overview() -> WebResponse:
    user: User = g.user
    gardens_query = select(db.kindergartens).order_by(db.kindergartens.c.code)
    terminals_query = select(db.terminals).order_by(db.terminals.c.terminal_id)
    if user.role == Role.DIRECTOR:
        gardens_query = gardens_query.where(db.kindergartens.c.code == user.kindergarten)
        terminals_query = terminals_query.where(db.terminals.c.kindergarten == user.kindergarten)
    with ctx().engine.connect() as conn:
        gardens = conn.execute(gardens_query).all()
        children: dict[str, int] = dict(conn.execute(
            select(db.children.c.kindergarten, func.count())
            .group_by(db.children.c.kindergarten)).all())
        terminals = conn.execute(terminals_query).all()
        events: dict[str, int] = dict(conn.execute(
            select(db.events.c.terminal_id, func.count())
            .group_by(db.events.c.terminal_id)).all())
    body = render_template(
        "overview.html", gardens=gardens, children=children, terminals=terminals,
        events=events, when=lambda us: local_text(us) if us else "—", say=_both,
        N_=lambda message: message,
    )
    response = WebResponse(body, mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    return response


def _both(message: str) -> dict[str, str]:
    """``message`` in each language (the overview shows both at once, Kazakh first)."""
    return {lang: catalogue(lang).gettext(message) for lang in LANGUAGES}
