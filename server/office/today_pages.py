"""The office's home and today's list, with its live updates (server-sent events).

The stream does not hold a database connection: every second it asks when the
kindergarten's terminals last brought events and, when that changes, tells the page, which
fetches its rows again. It ends after a few minutes; the browser's EventSource reconnects.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from flask import Response, redirect, request, stream_with_context, url_for
from werkzeug.wrappers.response import Response as WebResponse

from qatys.timeutil import LOCAL_ZONE, to_datetime
from server.context import ctx
from server.domain.today import ChildState
from server.office.blueprint import bp, garden, gardens_of, office_page, render, user
from server.office.today import Today, last_sync, today_list
from server.staff.accounts import Role

STREAM_SECONDS = 300
"""How long one stream lasts before the browser reconnects (a worker is not held forever)."""
POLL_SECONDS = 1.0
HEARTBEAT_POLLS = 5
"""A comment line every this many quiet polls, so that a proxy keeps the stream open and a
closed browser is noticed."""


@bp.get("/")
@office_page
def home() -> WebResponse:
    """A director or teacher goes to today's list; an operator chooses a kindergarten."""
    who = user()
    if who.role in (Role.DIRECTOR, Role.TEACHER):
        return redirect(url_for("office.today"))
    with ctx().engine.connect() as conn:
        gardens = gardens_of(conn, who)
    return render("home.html", gardens=gardens)


def _today() -> Today:
    who = user()
    with ctx().engine.connect() as conn:
        chosen = garden(conn)
        groups = who.groups if who.role == Role.TEACHER else None
        return today_list(conn, chosen.code, groups, ctx().clock(), chosen.closes_at)


def clock_text(us: int | None) -> str:
    """A time of today as the door showed it (HH:MM, Asia/Almaty)."""
    return to_datetime(us).astimezone(LOCAL_ZONE).strftime("%H:%M") if us else ""


def _listed(template: str) -> WebResponse:
    listed = _today()
    return render(template, today=listed, states=ChildState, clock=clock_text,
                  kindergarten=listed.kindergarten)


@bp.get("/today")
@office_page
def today() -> WebResponse:
    return _listed("today.html")


@bp.get("/today/rows")
@office_page
def today_rows() -> WebResponse:
    """The list's body alone, for the live page to put in place."""
    return _listed("today_rows.html")


@bp.get("/today/stream")
@office_page
def today_stream() -> WebResponse:
    context = ctx()
    with context.engine.connect() as conn:
        code = garden(conn).code
    since = request.args.get("since", "")

    def events() -> Iterator[str]:
        seen, quiet = since, 0
        yield "retry: 2000\n\n"
        deadline = time.monotonic() + STREAM_SECONDS
        while time.monotonic() < deadline:
            with context.engine.connect() as conn:
                latest = str(last_sync(conn, code) or 0)
            if latest != seen:
                seen, quiet = latest, 0
                yield f"event: synced\ndata: {latest}\n\n"
            elif (quiet := quiet + 1) % HEARTBEAT_POLLS == 0:
                yield ": waiting\n\n"
            time.sleep(POLL_SECONDS)

    response = Response(stream_with_context(events()), mimetype="text/event-stream")
    response.headers["X-Accel-Buffering"] = "no"  # a proxy in front passes each event on
    return response
