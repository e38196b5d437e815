"""Server pages for people: the overview an installer or operator opens first."""

from __future__ import annotations

from flask import Blueprint, render_template
from sqlalchemy import func, select

from qatys.timeutil import local_text
from server import db
from server.context import ctx

bp = Blueprint("pages", __name__)


@bp.get("/")
def overview() -> str:
    context = ctx()
    with context.engine.connect() as conn:
        gardens = conn.execute(select(db.kindergartens).order_by(db.kindergartens.c.code)).all()
        children: dict[str, int] = dict(conn.execute(
            select(db.children.c.kindergarten, func.count())
            .group_by(db.children.c.kindergarten)).all())
        terminals = conn.execute(select(db.terminals).order_by(db.terminals.c.terminal_id)).all()
        events: dict[str, int] = dict(conn.execute(
            select(db.events.c.terminal_id, func.count())
            .group_by(db.events.c.terminal_id)).all())
    return render_template(
        "overview.html", gardens=gardens, children=children, terminals=terminals,
        events=events, when=lambda us: local_text(us) if us else "—",
    )
