"""The finance pages: sign-in by role, the district month overview, табель, statement with
drill-down to evidence, anomaly flags, exports and approval (server-rendered, KZ/RU).

Roles (server/staff/accounts.py): a finance officer sees every kindergarten and approves; a
director sees only their own kindergarten, with children's names; an auditor reads
everything and changes nothing; an administrator reads and refreshes the month overview.
Finance staff and auditors see child ids, not names: paying needs no names.
"""

from __future__ import annotations

import json
import logging
import tempfile
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import segno
from flask import (
    Blueprint,
    g,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import get_translations, gettext, ngettext
from sqlalchemy import Connection, select
from werkzeug.wrappers.response import Response as WebResponse

from qatys.logs import log
from qatys.timeutil import local_date, local_text
from server.context import ctx
from server.domain.funding import Statement
from server.errors import ApprovalError, MoneyInputError
from server.families.confirmations import for_month
from server.families.consent import state_of
from server.families.guardians import create_invitation
from server.families.pickup import who_by_day
from server.i18n.words import Words
from server.money.approvals import ApprovalStatus, approve, idempotency_key, revisions
from server.money.exports import FORMATS, day_mark, write_statement, write_tabel
from server.money.jobs import job_state, latest_job, start_month_job
from server.money.outages import ledger_entries, storage_alerts
from server.money.statements import (
    anomaly_flags,
    local_midnight_us,
    next_month_start,
    parse_month,
    shift_month,
    shipped_policy,
    statement_for,
)
from server.queue_core.outbox import outbox_rows
from server.staff.accounts import FINANCE_ROLES, Role, SignInRefusal, User, sign_in
from server.staff.sessions import (
    PageError,
    login_csrf_ok,
    login_form_token,
    set_login_cookie,
    signed_in,
    signed_in_as,
)
from server.staff.sessions import end as end_session
from server.staff.sessions import start as start_session
from server.storage import db
from server.storage.db import writing
from server.storage.replica import ReadSource
from server.sync import lost_ranges
from server.web.errors import page_status
from server.web.language import remember_language, request_language
from server.web.rate_limits import RateLimited

finance_page = signed_in_as(FINANCE_ROLES)
"""Money is for finance staff, directors, auditors and administrators."""
fleet_page = signed_in_as(FINANCE_ROLES | {Role.OPERATOR})
"""The terminals: an operator's too (the office's terminal pages link back here)."""
bp = Blueprint("finance", __name__, url_prefix="/finance", template_folder="templates",
               static_folder="static", static_url_path="/static")
logger = logging.getLogger("qatys.finance")
_MIME = {"json": "application/json", "csv": "text/csv; charset=utf-8", "pdf": "application/pdf",
         "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


@bp.after_request
def _remember_language(response: WebResponse) -> WebResponse:
    remember_language(response)
    response.headers["Cache-Control"] = "no-store"
    return response


def _problems() -> dict[str, str]:
    """What a refusal's key (a sign-in problem, a PageError, an ApprovalError) says."""
    return {
        "login_wrong": gettext("Wrong username or password."),
        "login_locked": gettext("Too many failed attempts: try again in 15 minutes."),
        "session_expired": gettext("Your session ended; please sign in again."),
        "forbidden": gettext("You have no access to this page."),
        "not_found": gettext("There is no such page."),
        "bad_request": gettext("The request is wrong."),
        "read_only": gettext("Read only: changes are not possible."),
        "not_over": gettext("The month is not over yet: it cannot be approved."),
        "unchanged": gettext("This statement is already approved and nothing has changed "
                             "since."),
        "note_required": gettext("Write the reason for the correction."),
    }


def _render(template: str, status: int = 200, **values: Any) -> WebResponse:
    body = render_template(f"finance/{template}", lang=request_language(),
                           words=Words(get_translations()), problems=_problems(),
                           user=g.get("user"), csrf=g.get("csrf", ""), money=_money,
                           read_from=g.get("read_from", ReadSource.PRIMARY),
                           replica_configured=ctx().report_reads.replica is not None,
                           **values)
    return make_response(body, status)


@bp.errorhandler(PageError)
def _page_error(exc: PageError) -> WebResponse:
    status = page_status(exc.key)
    log(logger, "page.refused", logging.WARNING, path=request.path, status=status,
        reason=exc.key)
    return _render("error.html", status, key=exc.key, detail=exc.detail)


def _user() -> User:
    user: User = g.user
    return user


@bp.route("/login", methods=["GET", "POST"])
def login() -> WebResponse:
    problem, status = "", 200
    if request.method == "POST":
        context = ctx()
        username = request.form.get("username", "").strip().lower()[:64]
        spent = ((context.limits.finance_login_address, request.remote_addr or ""),
                 (context.limits.finance_login_account, username))
        try:  # first, and cheap: a flood that is refused already costs no more than this
            context.guard.check(*spent)
        except RateLimited as exc:
            return _rate_limited(exc)
        if not login_csrf_ok():
            raise PageError("bad_request", "csrf")
        outcome = sign_in(context.engine, username, request.form.get("password", "")[:1024],
                          context.clock())
        if isinstance(outcome, User):
            log(logger, "login.ok", role=outcome.role)
            target = request.args.get("next", "")
            response = redirect(target if target.startswith(("/finance/", "/office/")) else
                                _landing(outcome))
            start_session(response, outcome)
            return response
        context.guard.count(*spent)
        log(logger, "login.refused", logging.WARNING, reason=outcome.value)
        problem = "login_locked" if outcome is SignInRefusal.LOCKED else "login_wrong"
        status = page_status(problem)
    elif request.args.get("expired") == "1":
        problem = "session_expired"
    g.csrf, new_cookie = login_form_token()
    response = _render("login.html", status, problem=problem)
    if new_cookie:
        set_login_cookie(response, new_cookie)
    return response


def _landing(user: User) -> str:
    """Where a sign-in leads when it names no page: the office for those who work there
    only, the month for the others."""
    if user.role in FINANCE_ROLES:
        return url_for("finance.overview")
    return "/office/today" if user.role == Role.TEACHER else "/office/"


def _rate_limited(exc: RateLimited) -> WebResponse:
    """A sign-in flood refused (429) in the reader's language: a small page of its own, as
    cheap to make as can be."""
    if exc.worth_logging:
        log(logger, "login.refused", logging.WARNING, reason="rate_limited", limit=exc.rule,
            repeat=exc.repeat)
    minutes = max(1, -(-exc.retry_after // 60))
    message = ngettext("Too many sign-in attempts from this address or with this username: "
                       "try again in %(num)s minute.",
                       "Too many sign-in attempts from this address or with this username: "
                       "try again in %(num)s minutes.", minutes)
    response = make_response(render_template("finance/rate_limited.html",
                                             lang=request_language(), message=message),
                             page_status("rate_limited"))
    response.headers["Retry-After"] = str(exc.retry_after)
    return response


@bp.post("/logout")
@signed_in
def logout() -> WebResponse:
    response = redirect(url_for("finance.login"))
    end_session(response)
    log(logger, "logout", role=_user().role)
    return response


def _month(text_value: str | None) -> str:
    if not text_value:
        first = local_date(ctx().clock()).replace(day=1)
        return (first - timedelta(days=1)).strftime("%Y-%m")
    try:
        parse_month(text_value)
    except MoneyInputError as exc:
        raise PageError("bad_request", str(exc)) from exc
    return text_value


@bp.get("/")
@finance_page
def overview() -> WebResponse:
    user = _user()
    month = _month(request.args.get("month"))
    if user.role == Role.DIRECTOR:
        assert user.kindergarten is not None
        return redirect(url_for("finance.statement", code=user.kindergarten, month=month))
    with ctx().engine.connect() as conn:
        gardens = conn.execute(select(db.kindergartens)
                               .order_by(db.kindergartens.c.district,
                                         db.kindergartens.c.code)).all()
        totals = {r.kindergarten: r for r in conn.execute(
            select(db.month_totals).where(db.month_totals.c.month == month))}
        approved: dict[str, Any] = {}
        for row in conn.execute(select(db.approvals).where(db.approvals.c.month == month)
                                .order_by(db.approvals.c.revision)):
            approved[row.kindergarten] = row
        job = latest_job(conn, month)
    districts: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for garden in gardens:
        figures = totals.get(garden.code)
        last = approved.get(garden.code)
        status = ApprovalStatus.NOT_APPROVED
        if last is not None:
            status = ApprovalStatus.APPROVED if figures is None or \
                figures.inputs_digest == last.inputs_digest else ApprovalStatus.CHANGED
        districts[garden.district].append({"garden": garden, "figures": figures,
                                           "approval": last, "status": status})
    sums = {name: sum((Decimal(r["figures"].total) for r in rows if r["figures"]),
                      Decimal(0)) for name, rows in districts.items()}
    computed = [t.computed_at_us for t in totals.values()]
    return _render("month.html", month=month, previous=shift_month(month, -1),
                   next_month=shift_month(month, 1), districts=districts, sums=sums,
                   grand=sum(sums.values(), Decimal(0)), chart=_chart(sums),
                   computed_at=local_text(min(computed)) if computed else "",
                   complete=len(totals) == len(gardens) and bool(gardens), job=job)


def _chart(sums: dict[str, Decimal]) -> list[dict[str, Any]]:
    """Bars for the district totals, widths in percent of the largest (drawn as SVG)."""
    largest = max(sums.values(), default=Decimal(0))
    return [{"district": name, "total": total,
             "width": float(total / largest * 100) if largest else 0.0}
            for name, total in sorted(sums.items(), key=lambda item: -item[1])]


@bp.post("/month/<month>/compute")
@finance_page
def compute(month: str) -> WebResponse:
    user = _user()
    if not user.can_compute:
        raise PageError("read_only")
    month = _month(month)
    job_id = start_month_job(ctx().engine, month, user.username, ctx().clock(),
                             ctx().config.job_stale_seconds * 1_000_000)
    return redirect(url_for("finance.overview", month=month, job=job_id))


@bp.get("/jobs/<int:job_id>")
@finance_page
def job(job_id: int) -> WebResponse:
    if _user().role == Role.DIRECTOR:
        raise PageError("forbidden")
    with ctx().engine.connect() as conn:
        state = job_state(conn, job_id)
    if state is None:
        raise PageError("not_found")
    return jsonify({"id": state.id, "month": state.month, "status": state.status,
                    "done": state.done, "total": state.total, "error": state.error})


@contextmanager
def _report() -> Iterator[Connection]:
    """A report's connection: the replica once it holds everything the primary had committed
    now, else the primary (server/storage/replica.py); the page says which (``#read-from``)."""
    with ctx().report_reads.report() as (conn, source):
        g.read_from = source
        yield conn


def _statement(conn: Connection, code: str, month: str) -> Statement:
    if not _user().may_see(code):
        raise PageError("forbidden")
    year, number = parse_month(_month(month))
    try:
        return statement_for(conn, code, year, number, shipped_policy())
    except MoneyInputError as exc:
        raise PageError("not_found", str(exc)) from exc


def _names(conn: Connection, code: str) -> dict[str, str]:
    """Children's names, for the kindergarten's own director only."""
    if not _user().sees_names:
        return {}
    return {r.child_id: f"{r.last_name} {r.first_name}" for r in conn.execute(
        select(db.children.c.child_id, db.children.c.last_name, db.children.c.first_name)
        .where(db.children.c.kindergarten == code))}


@bp.get("/k/<code>/<month>")
@finance_page
def statement(code: str, month: str) -> WebResponse:
    with _report() as conn:
        current = _statement(conn, code, month)
        year, number = parse_month(month)
        flags = anomaly_flags(conn, code, year, number)
        trail = revisions(conn, code, month)
        deliveries = {r.idempotency_key: r for r in outbox_rows(conn, code, month)}
        names = _names(conn, code)
        confirmations = for_month(conn, code, month)
        ledger = ledger_entries(conn, code, local_midnight_us(date(year, number, 1)),
                                local_midnight_us(next_month_start(month)))
        garden = conn.execute(select(db.kindergartens)
                              .where(db.kindergartens.c.code == code)).one()
        lost = _lost_rows(lost_ranges.for_kindergarten(
            conn, code, local_midnight_us(date(year, number, 1)),
            local_midnight_us(next_month_start(month))))
    last = trail[-1] if trail else None
    changed = last is not None and bytes(last.statement) != current.to_json()
    approved_amounts: dict[str, str] = {}
    if changed and last is not None:
        approved_amounts = {c["child_id"]: c["amount"]
                            for c in json.loads(bytes(last.statement))["children"]}
    history = [{"row": r, "delivery": deliveries.get(
        idempotency_key(code, month, r.revision, r.inputs_digest))} for r in trail]
    over = local_date(ctx().clock()).strftime("%Y-%m") > month
    return _render("statement.html", garden=garden, statement=current, month=month,
                   flags=flags, history=history, last=last, changed=changed,
                   approved_amounts=approved_amounts, names=names, formats=FORMATS,
                   confirmations=confirmations, ledger=ledger, lost=lost,
                   month_over=over, when=local_text)


def _lost_rows(rows: list[Any]) -> list[dict[str, Any]]:
    """Lost ranges for a page: terminal, how many events, the period and the days it covers
    (local dates), the reason."""
    return [{"terminal_id": r.terminal_id, "count": r.last_seq - r.first_seq + 1,
             "first_seq": r.first_seq, "last_seq": r.last_seq,
             "first_day": local_date(r.first_time_us).isoformat(),
             "last_day": local_date(r.last_time_us).isoformat(), "reason": r.reason,
             "first_time_us": r.first_time_us, "last_time_us": r.last_time_us} for r in rows]


@bp.post("/k/<code>/<month>/approve")
@finance_page
def approve_statement(code: str, month: str) -> WebResponse:
    user = _user()
    if not user.can_approve:
        raise PageError("read_only")
    context = ctx()
    with context.engine.connect() as conn:
        current = _statement(conn, code, month)
    try:
        with writing(context.engine) as conn:
            approved = approve(conn, current, user.username, request.form.get("note", "")[:1000],
                               context.clock(), context.keys.sign_seed)
    except ApprovalError as exc:
        raise PageError(exc.reason) from exc
    log(logger, "statement.approved", kindergarten=code, month=month,
        revision=approved.revision, total=approved.total)
    return redirect(url_for("finance.statement", code=code, month=month))


@bp.get("/k/<code>/<month>/tabel")
@finance_page
def tabel(code: str, month: str) -> WebResponse:
    with _report() as conn:
        current = _statement(conn, code, month)
        names = _names(conn, code)
    days = [d.day for d in current.children[0].days] if current.children else []
    return _render("tabel.html", statement=current, month=month, code=code, days=days,
                   names=names, mark=day_mark,
                   legend=Words(get_translations()).legend())


@bp.get("/k/<code>/<month>/child/<child_id>")
@finance_page
def child(code: str, month: str, child_id: str) -> WebResponse:
    with _report() as conn:
        current = _statement(conn, code, month)
        names = _names(conn, code)
        line = next((c for c in current.children if c.child_id == child_id), None)
        if line is None:
            raise PageError("not_found")
        records = sorted({int(d.absence_record.removeprefix("ABS-")) for d in line.days
                          if d.absence_record.startswith("ABS-")})
        consent = state_of(conn, child_id, local_date(ctx().clock()))
        # which records have an uploaded certificate: its director opens it (the office's
        # page, audited); finance staff only see that there is one (medical data)
        documented = {f"ABS-{r.id}": r.id for r in conn.execute(
            select(db.absences.c.id).where(db.absences.c.id.in_(records))
            .where(db.absences.c.document_id.is_not(None)))}
        first_day = date.fromisoformat(f"{month}-01")
        adults = who_by_day(conn, child_id, local_midnight_us(first_day),
                            local_midnight_us(next_month_start(month)))
    return _render("child.html", statement=current, line=line, month=month, code=code,
                   name=names.get(child_id, ""), mark=day_mark, consent=consent,
                   documented=documented, opens_documents=_user().role == Role.DIRECTOR,
                   adults=adults)


@bp.post("/k/<code>/<month>/child/<child_id>/invite")
@finance_page
def invite_guardian(code: str, month: str, child_id: str) -> WebResponse:
    """The director invites a guardian of one of their children: a code and a QR to print."""
    user = _user()
    if user.role != Role.DIRECTOR or not user.may_see(code):
        raise PageError("forbidden")
    context = ctx()
    with writing(context.engine) as conn:
        child_row = conn.execute(select(db.children.c.kindergarten)
                                 .where(db.children.c.child_id == child_id)).first()
        if child_row is None or child_row.kindergarten != code:
            raise PageError("not_found")
        invitation = create_invitation(conn, child_id, user.username, context.clock())
    url = f"{context.config.public_url.rstrip('/')}/parents/invite/{invitation.code}"
    log(logger, "guardian.invited", kindergarten=code)
    return _render("invitation.html", code=invitation.code, url=url, month=month,
                   garden_code=code, child_id=child_id,
                   qr=segno.make(url, error="m").svg_inline(scale=5, border=4),
                   until=local_text(invitation.expires_at_us))


@bp.get("/fleet")
@fleet_page
def fleet() -> WebResponse:
    """Every terminal (a director: their kindergarten's) with its last report; alerts for
    terminals silent longer than ``fleet_silent_seconds`` and for terminals whose storage they
    last reported low or full (the ``storage_low`` / ``storage_full`` ledger events)."""
    user, context = _user(), ctx()
    now = context.clock()
    query = (select(db.terminals.c.terminal_id, db.terminals.c.kindergarten,
                    db.terminals.c.last_contact_us, db.terminals.c.revoked_at_us,
                    db.terminals.c.software_version, db.kindergartens.c.name,
                    db.terminal_health.c.reported_at_us, db.terminal_health.c.skew_us,
                    db.terminal_health.c.pending, db.terminal_health.c.camera,
                    db.terminal_health.c.storage_free_bytes,
                    db.terminal_health.c.server_behind, db.terminal_health.c.server_behind_us)
             .join(db.kindergartens, db.kindergartens.c.code == db.terminals.c.kindergarten)
             .outerjoin(db.terminal_health,
                        db.terminal_health.c.terminal_id == db.terminals.c.terminal_id)
             .order_by(db.terminals.c.kindergarten, db.terminals.c.terminal_id))
    with context.engine.connect() as conn:
        rows = [r for r in conn.execute(query) if user.may_see(r.kindergarten)]
        storage = storage_alerts(conn)
        lost = lost_ranges.by_terminal(conn)
    limit = context.config.fleet_silent_seconds * 1_000_000
    terminals = [{"row": r, "silent": r.revoked_at_us is None and (
        r.last_contact_us is None or now - r.last_contact_us > limit),
        "storage": storage.get(r.terminal_id) if r.revoked_at_us is None else None,
        "lost": _lost_rows(lost.get(r.terminal_id, []))} for r in rows]
    return _render("fleet.html", terminals=terminals, when=local_text,
                   lost=[(r, item) for r in rows
                         for item in _lost_rows(lost.get(r.terminal_id, []))],
                   silent_minutes=context.config.fleet_silent_seconds // 60,
                   alerts=[t for t in terminals if t["silent"]],
                   storage_alerts=[t for t in terminals if t["storage"] is not None])


@bp.get("/k/<code>/<month>/export/<what>.<fmt>")
@finance_page
def export(code: str, month: str, what: str, fmt: str) -> WebResponse:
    if what not in ("statement", "tabel") or fmt not in FORMATS:
        raise PageError("not_found")
    with _report() as conn:
        current = _statement(conn, code, month)
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / f"export.{fmt}"
        (write_statement if what == "statement" else write_tabel)(current, fmt, out)
        body = out.read_bytes()
    log(logger, "export", kindergarten=code, month=month, what=what, format=fmt,
        read_from=g.read_from)
    response = make_response(body)
    response.headers["Content-Type"] = _MIME[fmt]
    response.headers["X-Qatys-Read-From"] = g.read_from
    response.headers["Content-Disposition"] = \
        f'attachment; filename="{code}-{month}-{what}.{fmt}"'
    return response


@bp.get("/k/<code>/<month>/approved/r<int:revision>.json")
@finance_page
def approved_copy(code: str, month: str, revision: int) -> WebResponse:
    """The approved statement exactly as approved (the bytes sent to the queue core)."""
    if not _user().may_see(code):
        raise PageError("forbidden")
    month = _month(month)
    with ctx().engine.connect() as conn:
        row = next((r for r in revisions(conn, code, month) if r.revision == revision), None)
    if row is None:
        raise PageError("not_found")
    response = make_response(bytes(row.statement))
    response.headers["Content-Type"] = _MIME["json"]
    response.headers["Content-Disposition"] = \
        f'attachment; filename="{code}-{month}-approved-r{revision}.json"'
    return response


def _money(value: Decimal | str) -> str:
    """12345.5 → "12 345.50": thin groups, as finance staff read amounts."""
    return f"{Decimal(value):,.2f}".replace(",", "\u202f")
