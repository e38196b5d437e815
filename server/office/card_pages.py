"""The cards page (/office/cards): the card list, printing cards as a PDF download, revoking
a lost card. A director's own kindergarten only."""

from __future__ import annotations

from flask import make_response, redirect, request, url_for
from sqlalchemy import select
from werkzeug.wrappers.response import Response as WebResponse

from qatys.timeutil import local_date
from server.context import ctx
from server.errors import OfficeError
from server.office import cards as office_cards
from server.office.blueprint import bp, code_of_request, director_page, garden, render, user
from server.storage import db
from server.storage.db import writing
from server.web.errors import page_status


def _page(code: str, status: int = 200, problem: str = "", field: str = "",
          **values: object) -> WebResponse:
    context = ctx()
    with context.engine.connect() as conn:
        listed = office_cards.card_list(conn, code, local_date(context.clock()))
        groups = office_cards.groups_of(conn, code)
        children = conn.execute(
            select(db.children.c.child_id, db.children.c.first_name, db.children.c.last_name,
                   db.children.c.group_name)
            .where(db.children.c.kindergarten == code)
            .where(db.children.c.withdrawn_on.is_(None))
            .order_by(db.children.c.group_name, db.children.c.last_name)).all()
    return render("cards.html", status, kindergarten=code, cards=listed, groups=groups,
                  children=children, states=office_cards.CardState, problem=problem, field=field,
                  form=request.form, **values)


@bp.get("/cards")
@director_page
def cards() -> WebResponse:
    with ctx().engine.connect() as conn:
        code = garden(conn).code
    return _page(code, revoked=request.args.get("revoked", ""))


@bp.post("/cards/print")
@director_page
def card_print() -> WebResponse:
    """New cards as a PDF download: one child's card, or a group's A4 sheet."""
    context = ctx()
    now = context.clock()
    try:
        with writing(context.engine) as conn:
            code = garden(conn).code
            issued, content = office_cards.print_cards(
                conn, user(), code, request.form.get("child", ""),
                request.form.get("group", ""), local_date(now), now)
    except OfficeError as exc:
        return _page(code_of_request(), page_status(exc.code), exc.code, exc.field)
    name = (f"card-{issued[0].card.serial}.pdf" if len(issued) == 1 and
            request.form.get("child") else f"cards-{code}-{local_date(now).isoformat()}.pdf")
    answer = make_response(content)
    answer.headers["Content-Type"] = "application/pdf"
    answer.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    answer.headers["X-Qatys-Serials"] = " ".join(i.card.serial for i in issued)
    return answer


@bp.post("/cards/revoke")
@director_page
def card_revoke() -> WebResponse:
    context = ctx()
    serial = request.form.get("serial", "")
    try:
        with writing(context.engine) as conn:
            code = garden(conn).code
            office_cards.revoke(conn, user(), code, serial, request.form.get("reason", ""),
                         context.clock())
    except OfficeError as exc:
        return _page(code_of_request(), page_status(exc.code), exc.code, exc.field)
    return redirect(url_for("office.cards", revoked=serial.strip().upper()), 303)


