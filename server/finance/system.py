"""Server pages for people: the system overview an installer or operator opens first.

It names kindergartens, terminals and their counts, so it is for signed-in staff only: ``/``
sends everyone to ``/finance/system``, which (like every finance page) sends whoever is not
signed in to the staff sign-in. Each account sees the kindergartens its role covers (a
director their own, an operator their district's).
"""

from __future__ import annotations

from flask import Blueprint, g, redirect, render_template, url_for
from sqlalchemy import func, select
from werkzeug.wrappers.response import Response as WebResponse

from qatys.timeutil import local_text
from server.context import ctx
from server.i18n import LANGUAGES, catalogue
from server.staff.accounts import User
from server.staff.sessions import signed_in
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
    with ctx().engine.connect() as conn:
        gardens = [r for r in conn.execute(gardens_query) if user.may_see(r.code)]
        children: dict[str, int] = dict(conn.execute(
            select(db.children.c.kindergarten, func.count())
            .group_by(db.children.c.kindergarten)).all())
        terminals = [r for r in conn.execute(terminals_query) if user.may_see(r.kindergarten)]
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
