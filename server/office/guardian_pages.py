"""The guardians page (/office/guardians): each child's guardians and open invitations, a
new invitation shown as its code and QR, the removal of a guardian. A director's own
kindergarten only."""

from __future__ import annotations

import segno
from flask import redirect, request, url_for
from sqlalchemy import func, select
from werkzeug.wrappers.response import Response as WebResponse

from qatys.timeutil import local_text
from server.context import ctx
from server.errors import OfficeError
from server.office import guardian_forms
from server.office.blueprint import bp, code_of_request, director_page, garden, render, user
from server.storage import db
from server.storage.db import writing
from server.web.errors import page_status


def _page(code: str, child_id: str, status: int = 200, problem: str = "", field: str = "",
          template: str = "guardians.html", **values: object) -> WebResponse:
    context = ctx()
    now = context.clock()
    with context.engine.connect() as conn:
        children = conn.execute(
            select(db.children.c.child_id, db.children.c.first_name, db.children.c.last_name,
                   db.children.c.group_name)
            .where(db.children.c.kindergarten == code)
            .order_by(db.children.c.group_name, db.children.c.last_name)).all()
        counts: dict[str, int] = dict(conn.execute(
            select(db.guardian_children.c.child_id, func.count())
            .join(db.children, db.children.c.child_id == db.guardian_children.c.child_id)
            .where(db.children.c.kindergarten == code)
            .where(db.guardian_children.c.removed_at_us.is_(None))
            .where(db.guardian_children.c.kind == db.BindingKind.GUARDIAN)  # not pickup adults
            .group_by(db.guardian_children.c.child_id)).tuples().all())
        try:
            bound = guardian_forms.guardians_of(conn, code, child_id) if child_id else []
            waiting = guardian_forms.pending(conn, child_id, now) if child_id else []
        except OfficeError:
            bound, waiting, child_id = [], [], ""
    return render(template, status, kindergarten=code, children=children, counts=counts,
                  bound=bound, waiting=waiting, chosen=child_id, problem=problem, field=field,
                  form=request.form, when=local_text, **values)


@bp.get("/guardians")
@director_page
def guardians() -> WebResponse:
    with ctx().engine.connect() as conn:
        code = garden(conn).code
    return _page(code, request.args.get("child", ""),
                 removed=request.args.get("removed", ""))


@bp.post("/guardians/invite")
@director_page
def guardian_invite() -> WebResponse:
    """A one-time invitation: its short code and QR to print or show on a phone."""
    context = ctx()
    child_id = request.form.get("child", "").strip()
    try:
        with writing(context.engine) as conn:
            code = garden(conn).code
            invitation = guardian_forms.invite(conn, user(), code, child_id, context.clock())
    except OfficeError as exc:
        return _page(code_of_request(), child_id, page_status(exc.code), exc.code, exc.field)
    url = f"{context.config.public_url.rstrip('/')}/parents/invite/{invitation.code}"
    return _page(code, child_id, template="guardian_invitation.html",
                 invitation_code=invitation.code,
                 url=url, qr=segno.make(url, error="m").svg_inline(scale=5, border=4),
                 until=local_text(invitation.expires_at_us))


@bp.post("/guardians/remove")
@director_page
def guardian_remove() -> WebResponse:
    context = ctx()
    child_id = request.form.get("child", "").strip()
    try:
        with writing(context.engine) as conn:
            code = garden(conn).code
            guardian_forms.remove(conn, user(), code, request.form.get("guardian", ""),
                                  child_id, context.clock())
    except OfficeError as exc:
        return _page(code_of_request(), child_id, page_status(exc.code), exc.code, exc.field)
    return redirect(url_for("office.guardians", child=child_id,
                            removed=request.form.get("guardian", "").strip()), 303)
