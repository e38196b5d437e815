"""Parents' pages (docs/parents.md): invitation → a phone key, the rotating entry code, the
child's own record. Mobile-first, KZ/RU, usable offline for the entry code (service worker).

A guardian is signed in by a server-side session (cookie ``qatys_guardian``, path
``/parents/``, holding only a random id) opened with a signature of the phone's key over a
one-time challenge; there is no password. A call that changes something carries the session's
CSRF token in ``X-Qatys-CSRF``. Claim, challenge and sign-in are rate limited per address
and per invitation code or key id (server/web/rate_limits.py). Every page and API call checks
that the guardian is bound to the child asked for; for any other child the answer is 404, as
for a child that does not exist, so nobody learns which ids are real.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any, ParamSpec

from flask import (
    Blueprint,
    Response,
    g,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    send_file,
)
from flask_babel import get_translations
from sqlalchemy import Connection, select
from werkzeug.wrappers.response import Response as WebResponse

from protocol.phone import WINDOW_SECONDS, PickupRelation, b64url
from qatys.logs import log
from qatys.timeutil import LOCAL_ZONE, local_date, to_datetime
from server.context import ctx
from server.domain.calendar import month_days
from server.errors import MoneyInputError, RequestError, ServiceError
from server.families import absence_reports, pickup
from server.families.confirmations import MAX_COMMENT, for_month, record_confirmation, window
from server.families.consent import longest_until, record_signed, state_of
from server.families.face_templates import face_state
from server.families.guardians import (
    check_claim,
    children_of,
    claim_invitation,
    is_guardian_of,
    new_nonce,
    normalise_code,
    sign_in,
)
from server.i18n.words import Words
from server.keys import application_server_key, load_vapid_key
from server.money.statements import (
    local_midnight_us,
    next_month_start,
    parse_month,
    shift_month,
    shipped_policy,
)
from server.push import subscriptions as push_subscriptions
from server.registry.records import ABSENCE_REASONS, AbsenceReason
from server.storage import db
from server.storage.db import writing
from server.web.bodies import INT64_MAX, integer, json_object, optional_text, text, texts
from server.web.guard import secure_cookies
from server.web.language import remember_language, request_language
from server.web.responses import base64_field
from server.web.sessions import (
    RevokeReason,
    SessionKind,
    csrf_matches,
    csrf_token,
    look_up,
    open_session,
    revoke,
)

bp = Blueprint("parents", __name__, url_prefix="/parents", template_folder="templates")
logger = logging.getLogger("qatys.parents")
P = ParamSpec("P")
STATIC = Path(__file__).resolve().parent / "static" / "parents"
GUARDIAN_COOKIE = "qatys_guardian"
GUARDIAN_PATH = "/parents/"
CSRF_HEADER = "X-Qatys-CSRF"
CODE_MAX = 64
"""An invitation code as typed, spaces and dashes included."""
KEY_MAX = 512
"""A public key's or a signature's base64 (P-256: about 124 and 88 characters)."""
QR_LIBRARY = Path("/usr/share/javascript/qrcode-generator/qrcode.js")
"""Kazuhiko Arase's QR generator from the Debian package node-qrcode-generator."""


def _within(month: str) -> str | None:
    """``month`` if a record page can show it (docs/finance.md, "Months"), else None: the
    first and last months of the range link no further."""
    try:
        parse_month(month)
    except MoneyInputError:
        return None
    return month


def _page(template: str, status: int = 200, **values: Any) -> WebResponse:
    response = make_response(render_template(
        f"parents/{template}", lang=request_language(), words=Words(get_translations()),
        **values), status)
    remember_language(response)
    response.headers["Cache-Control"] = "no-store"
    return response


def _guardian() -> str | None:
    """The signed-in guardian of this request (its session active), else None."""
    context = ctx()
    token = request.cookies.get(GUARDIAN_COOKIE, "")
    if not token:
        return None
    with context.engine.connect() as conn:
        found = look_up(conn, SessionKind.GUARDIAN, token, context.clock())
    if found.subject is None:
        log(logger, "session.refused", logging.WARNING, path=request.path,
            status=found.status.value)
        return None
    g.guardian_token = token
    return found.subject


def _csrf() -> str:
    return csrf_token(ctx().session_secret, "guardian", g.guardian_token)


def guardian_only(view: Callable[P, WebResponse | tuple[Response, int]]
                  ) -> Callable[P, WebResponse | tuple[Response, int]]:
    """Only for a signed-in guardian: pages send others to sign in (/parents/), the API
    answers 401; a POST needs the session's CSRF token in the X-Qatys-CSRF header."""
    @functools.wraps(view)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> WebResponse | tuple[Response, int]:
        guardian = _guardian()
        if guardian is None:
            if request.path.startswith("/parents/api/"):
                raise RequestError("not_signed_in", "sign in with this phone first")
            return redirect("/parents/")
        g.guardian = guardian
        if request.method == "POST" and not csrf_matches(
                ctx().session_secret, "guardian", g.guardian_token,
                request.headers.get(CSRF_HEADER, "")):
            log(logger, "parents.refused", logging.WARNING, reason="csrf_invalid",
                page=request.endpoint)
            raise RequestError("csrf_invalid", "the request lacks this session's CSRF token")
        log(logger, "parents.access", guardian=guardian, page=request.endpoint)
        return view(*args, **kwargs)
    return wrapper


def _signed_in_answer(guardian_id: str, token: str) -> tuple[Response, int]:
    """The answer of a claim or sign-in: the session's cookie and its CSRF token."""
    context = ctx()
    response = jsonify({"ok": True, "guardian_id": guardian_id,
                        "csrf": csrf_token(context.session_secret, "guardian", token)})
    response.set_cookie(GUARDIAN_COOKIE, token, max_age=context.config.session_hours * 3600,
                        path=GUARDIAN_PATH, httponly=True, samesite="Lax",
                        secure=secure_cookies(context))
    return response, 200


def _lifetime_us() -> int:
    return ctx().config.session_hours * 3600 * 1_000_000


def _address() -> str:
    return request.remote_addr or ""


@bp.get("/")
def home() -> WebResponse:
    return _page("home.html", signed_in=_guardian() is not None, seconds_left=_seconds_left(),
                 relations=list(PickupRelation))


def _seconds_left() -> str:
    """The countdown's sentence for each number of seconds left, with ``{n}`` where the
    number goes (JSON for the page's script): plural forms need the whole sentence."""
    tr = get_translations()
    return json.dumps({n: tr.ngettext("%(num)s second left", "%(num)s seconds left", n)
                       % {"num": "{n}"} for n in range(1, WINDOW_SECONDS + 1)},
                      ensure_ascii=False)


@bp.get("/invite/<code>")
def invitation(code: str) -> WebResponse:
    """The invitation's page; a code that cannot be one (wrong length, look-alike letters of
    another alphabet, other scripts' digits) is answered 404 with the page's own words."""
    normal = normalise_code(code)
    return _page("invite.html", 200 if normal else 404, code=normal)


@bp.post("/api/claim")
def claim() -> tuple[Response, int]:
    context = ctx()
    body = request.get_json(silent=True)
    typed = body.get("code") if isinstance(body, dict) else None
    code = normalise_code(typed) if isinstance(typed, str) else ""
    spent = ((context.limits.parents_claim_address, _address()),
             (context.limits.parents_claim_code, code))
    context.guard.check(*spent)
    try:
        body = json_object("code", "public_key", "proof")
        typed = text(body, "code", CODE_MAX)
        spki = base64_field(text(body, "public_key", KEY_MAX), "public_key")
        code = check_claim(context.engine, typed, spki,
                           base64_field(text(body, "proof", KEY_MAX), "proof"),
                           context.clock())
        with writing(context.engine) as conn:
            guardian_id, _ = claim_invitation(conn, code, spki, context.clock())
            token = open_session(conn, SessionKind.GUARDIAN, guardian_id, context.clock(),
                                 _lifetime_us())
    except ServiceError as exc:
        context.guard.count(*spent)
        log(logger, "parents.refused", logging.WARNING, reason=exc.code, page="claim")
        raise
    log(logger, "parents.claimed", guardian=guardian_id)
    return _signed_in_answer(guardian_id, token)


@bp.get("/api/challenge")
def challenge() -> tuple[Response, int]:
    """A one-time sign-in challenge: made, not stored (guardians.new_nonce), so GET and HEAD
    change nothing but the address's rate-limit count."""
    context = ctx()
    context.guard.take(context.limits.parents_challenge_address, _address())
    response = jsonify({"ok": True, "nonce": new_nonce(context.session_secret,
                                                       context.clock())})
    response.headers["Cache-Control"] = "no-store"
    return response, 200


@bp.post("/api/login")
def login() -> tuple[Response, int]:
    context = ctx()
    body = request.get_json(silent=True)
    typed = body.get("key_id") if isinstance(body, dict) else None
    key = typed[:64] if isinstance(typed, str) else ""
    spent = ((context.limits.parents_login_address, _address()),
             (context.limits.parents_login_key, key))
    context.guard.check(*spent)
    try:
        body = json_object("key_id", "nonce", "signature")
        guardian_id, token = sign_in(context.engine, context.session_secret,
                                     text(body, "key_id", 64), text(body, "nonce", 64),
                                     base64_field(text(body, "signature", KEY_MAX),
                                                  "signature"),
                                     context.clock(), _lifetime_us())
    except ServiceError as exc:
        context.guard.count(*spent)
        log(logger, "parents.refused", logging.WARNING, reason=exc.code, page="login")
        raise
    log(logger, "parents.signed_in", guardian=guardian_id)
    return _signed_in_answer(guardian_id, token)


@bp.post("/api/logout")
@guardian_only
def logout() -> tuple[Response, int]:
    """Ends the session on the server: a copy of its cookie opens nothing afterwards."""
    context = ctx()
    with writing(context.engine) as conn:
        revoke(conn, SessionKind.GUARDIAN, g.guardian_token, RevokeReason.LOGOUT,
               context.clock())
    response = jsonify({"ok": True})
    response.delete_cookie(GUARDIAN_COOKIE, path=GUARDIAN_PATH)
    log(logger, "parents.logout", guardian=g.guardian)
    return response, 200


@bp.get("/api/me")
@guardian_only
def me() -> tuple[Response, int]:
    """The phone's children: for each the binding its entry code shows and today's state;
    a guardian's also the consent and the adults allowed to collect the child, a pickup
    adult's nothing more (docs/families.md)."""
    context = ctx()
    now = context.clock()
    today = local_date(now)
    with context.engine.connect() as conn:
        children = children_of(conn, g.guardian)
        mine = [c for c in children if c.kind == db.BindingKind.GUARDIAN]
        consent = {c.child_id: state_of(conn, c.child_id, today) for c in mine}
        face = {c.child_id: face_state(conn, c.child_id) for c in mine}
        states = pickup.today_states(conn, [c.child_id for c in children], now)
        adults = pickup.pickups_of(conn, consent, now)
    listed = []
    for c in children:
        entry: dict[str, Any] = {
            "child_id": c.child_id, "first_name": c.first_name,
            "kindergarten": c.kindergarten_name, "kindergarten_code": c.kindergarten,
            "serial": c.serial, "binding": b64url(bytes(c.binding)), "kind": c.kind,
            "today": states[c.child_id]}
        if c.kind == db.BindingKind.GUARDIAN:
            entry["consent"] = {"status": consent[c.child_id].status,
                                "until": consent[c.child_id].until or None,
                                "longest_until": longest_until(today).isoformat(),
                                "face": face[c.child_id]}
            entry["pickup"] = [_adult(a) for a in adults if a.child_id == c.child_id]
        else:
            entry["relation"] = c.relation
        listed.append(entry)
    return jsonify({"ok": True, "guardian_id": g.guardian, "csrf": _csrf(),
                    "children": listed}), 200


def _adult(adult: pickup.PickupAdult) -> dict[str, Any]:
    return {"id": adult.guardian_id or f"invitation:{adult.invitation_id}",
            "first_name": adult.first_name, "relation": adult.relation,
            "claimed": adult.guardian_id is not None,
            "relation_text": Words(get_translations()).relation(adult.relation)}


@bp.post("/api/pickup")
@guardian_only
def add_pickup() -> tuple[Response, int]:
    """A guardian adds an adult allowed to collect the child: the answer is the invitation
    (code and link) the adult's phone claims."""
    body = json_object("child_id", "first_name", "relation")
    context = ctx()
    child_id = text(body, "child_id")
    first_name = text(body, "first_name", 4 * pickup.MAX_FIRST_NAME, allow_empty=True)
    relation = text(body, "relation", 40)
    with writing(context.engine) as conn:
        invitation = pickup.add_pickup(conn, g.guardian, child_id, first_name, relation,
                                       shipped_policy().pickup_adults_per_child,
                                       context.clock())
    log(logger, "parents.pickup_added", guardian=g.guardian, relation=relation)
    return jsonify({"ok": True, "invitation": {
        "code": invitation.code, "url": f"/parents/invite/{invitation.code}",
        "expires_at": to_datetime(invitation.expires_at_us).isoformat()}}), 200


@bp.post("/api/pickup/remove")
@guardian_only
def remove_pickup() -> tuple[Response, int]:
    """A guardian removes a pickup adult (or an invitation not claimed yet) at once: the
    adult's pages stop showing the child now, the door refuses the code at its next sync."""
    body = json_object("child_id", "adult")
    context = ctx()
    child_id, adult = text(body, "child_id"), text(body, "adult", 64)
    with writing(context.engine) as conn:
        pickup.remove_pickup(conn, g.guardian, child_id, adult, context.clock())
    log(logger, "parents.pickup_removed", guardian=g.guardian)
    return jsonify({"ok": True}), 200


@bp.post("/api/consent")
@guardian_only
def consent() -> tuple[Response, int]:
    """A grant or withdrawal of face-check-in consent, signed on the phone."""
    body = json_object("child_id", "action", "until", "signed_at_ms", "signature")
    child_id, action = text(body, "child_id"), text(body, "action", 16)
    until = optional_text(body, "until", 10)
    signed_at_ms = integer(body, "signed_at_ms", 0, INT64_MAX // 1000)
    signature = base64_field(text(body, "signature", KEY_MAX), "signature")
    context = ctx()
    with writing(context.engine) as conn:
        if not is_guardian_of(conn, g.guardian, child_id):
            raise RequestError("not_found", "no such child")
        guardian = conn.execute(select(db.guardians)
                                .where(db.guardians.c.guardian_id == g.guardian)).one()
        record = record_signed(conn, guardian, child_id, action, until, signed_at_ms,
                               signature, context.clock())
    log(logger, "parents.consent", guardian=g.guardian, action=body["action"], record=record)
    return jsonify({"ok": True, "record": record}), 200


def _month(value: str | None) -> str:
    if not value:
        return local_date(ctx().clock()).strftime("%Y-%m")
    try:
        parse_month(value)
    except MoneyInputError as exc:
        raise RequestError("bad_request", str(exc)) from exc
    return value


@bp.get("/child/<child_id>")
@guardian_only
def record(child_id: str) -> WebResponse:
    try:
        month = _month(request.args.get("month"))
    except RequestError as exc:  # a page: its own words, in the reader's language
        return _page("wrong.html", 400, key=exc.code, detail=exc.message)
    context = ctx()
    with context.engine.connect() as conn:
        if not is_guardian_of(conn, g.guardian, child_id):
            return _page("missing.html", 404)
        child = conn.execute(select(db.children)
                             .where(db.children.c.child_id == child_id)).one()
        days = child_month(conn, child_id, month)
        mine = [c for c in for_month(conn, child.kindergarten, month)
                if c.guardian_id == g.guardian and c.child_id == child_id]
        reports = absence_reports.of_child(conn, child_id)
        report_window = absence_reports.window_of(conn, child_id, local_date(context.clock()),
                                                  shipped_policy())
    first, last = window(month, shipped_policy())
    year, number = parse_month(month)
    return _page("record.html", child=child, month=month, days=days,
                 previous=_within(shift_month(month, -1)),
                 next_month=_within(shift_month(month, 1)),
                 window_first=first, window_last=last,
                 window_open=first <= local_date(context.clock()) <= last,
                 all_days=month_days(year, number), standing=mine[-1] if mine else None,
                 csrf=_csrf(), reports=reports, reasons=ABSENCE_REASONS,
                 report_window=report_window)


@bp.post("/api/month")
@guardian_only
def confirm_month() -> tuple[Response, int]:
    """Confirm the month, or dispute named days with a comment (only in the window)."""
    body = json_object("child_id", "month", "kind")
    context = ctx()
    child_id, kind = text(body, "child_id"), text(body, "kind", 16)
    month = _month(text(body, "month", 16))
    days = texts(body, "days", 31, 10)
    comment = optional_text(body, "comment", MAX_COMMENT)
    with writing(context.engine) as conn:
        if not is_guardian_of(conn, g.guardian, child_id):
            raise RequestError("not_found", "no such child")
        record_id = record_confirmation(conn, g.guardian, child_id, month, kind, days, comment,
                                        shipped_policy(), context.clock())
    log(logger, "parents.month", guardian=g.guardian, kind=body["kind"], record=record_id)
    return jsonify({"ok": True, "record": record_id}), 200


def child_month(conn: Connection, child_id: str, month: str) -> list[dict[str, Any]]:
    """The month's days that have something: scans (time, direction, method, receipt) and
    absence records, in the child's local time."""
    year, number = parse_month(month)
    first = date(year, number, 1)
    following = next_month_start(month)
    rows = conn.execute(
        select(db.events.c.recorded_at_us, db.events.c.direction, db.events.c.method,
               db.events.c.receipt, db.events.c.kind, db.events.c.phone_code)
        .where(db.events.c.child_id == child_id)
        .where(db.events.c.recorded_at_us >= local_midnight_us(first))
        .where(db.events.c.recorded_at_us < local_midnight_us(following))
        .where(db.events.c.body_status == db.BodyStatus.OK)
        .order_by(db.events.c.recorded_at_us)).all()
    days: dict[str, dict[str, Any]] = {}
    bindings = pickup.bindings_by_serial(conn, [r.phone_code or "" for r in rows])
    for at_us, direction, method, receipt, kind, phone_code in rows:
        moment = to_datetime(at_us).astimezone(LOCAL_ZONE)
        day = days.setdefault(moment.date().isoformat(), {"scans": [], "absences": []})
        day["scans"].append({"time": moment.strftime("%H:%M"), "direction": direction or kind,
                             "method": method, "receipt": receipt or "",
                             "by": pickup.who(method, phone_code, bindings)})
    absences = conn.execute(select(db.absences).where(db.absences.c.child_id == child_id)
                            .where(db.absences.c.first_day < following.isoformat())
                            .where(db.absences.c.last_day >= first.isoformat())
                            .order_by(db.absences.c.id)).all()
    replaced = {a.replaces for a in absences if a.replaces is not None}
    for absence in absences:
        if absence.id in replaced or absence.reason == AbsenceReason.CANCELLED:
            continue
        day_cursor = max(date.fromisoformat(absence.first_day), first)
        last = min(date.fromisoformat(absence.last_day), following - timedelta(days=1))
        while day_cursor <= last:
            days.setdefault(day_cursor.isoformat(), {"scans": [], "absences": []})[
                "absences"].append(absence.reason)
            day_cursor += timedelta(days=1)
    return [{"date": day, **content} for day, content in sorted(days.items())]


PUSH_KEY_MAX = 200
"""A subscription's p256dh (87 characters) or auth (22) as base64url, with room to spare."""


@bp.get("/api/push/key")
def push_key() -> tuple[Response, int]:
    """The application server key a phone subscribes with (VAPID public key, base64url of
    the uncompressed P-256 point)."""
    response = jsonify({"ok": True, "key": application_server_key(
        load_vapid_key(ctx().config.vapid_key_file))})
    response.headers["Cache-Control"] = "no-store"
    return response, 200


@bp.post("/api/push/subscribe")
@guardian_only
def push_subscribe() -> tuple[Response, int]:
    """This phone's push subscription (``PushSubscription.toJSON()``: endpoint and keys)."""
    body = json_object("endpoint", "keys")
    endpoint = text(body, "endpoint", db.PUSH_ENDPOINT_LENGTH)
    keys = body["keys"]
    if not isinstance(keys, dict):
        raise RequestError("malformed", "the field keys must be an object with p256dh and auth",
                           field="keys")
    p256dh, auth = text(keys, "p256dh", PUSH_KEY_MAX), text(keys, "auth", PUSH_KEY_MAX)
    context = ctx()
    with writing(context.engine) as conn:
        subscription = push_subscriptions.subscribe(
            conn, g.guardian, endpoint, p256dh, auth, request_language(), context.clock(),
            context.config.push_allow_loopback)
    log(logger, "parents.push_subscribed", guardian=g.guardian, subscription=subscription)
    return jsonify({"ok": True, "subscription": subscription}), 200


@bp.post("/api/push/unsubscribe")
@guardian_only
def push_unsubscribe() -> tuple[Response, int]:
    body = json_object("endpoint")
    endpoint = text(body, "endpoint", db.PUSH_ENDPOINT_LENGTH)
    context = ctx()
    with writing(context.engine) as conn:
        ended = push_subscriptions.unsubscribe(conn, g.guardian, endpoint, context.clock())
    log(logger, "parents.push_unsubscribed", guardian=g.guardian, ended=ended)
    return jsonify({"ok": True, "ended": ended}), 200


@bp.get("/static/<name>")
def static_file(name: str) -> WebResponse:
    if name == "qrcode.js":
        if not QR_LIBRARY.exists():
            raise RequestError("not_found", "install the Debian package node-qrcode-generator")
        return send_file(QR_LIBRARY, mimetype="text/javascript", max_age=3600)
    path = STATIC / name
    if name not in {"app.js", "parents.css"} or not path.exists():
        raise RequestError("not_found", "no such file")
    return send_file(path, max_age=0)


@bp.get("/sw.js")
def service_worker() -> WebResponse:
    """At /parents/sw.js so that its scope is /parents/."""
    response = send_file(STATIC / "sw.js", mimetype="text/javascript", max_age=0)
    response.headers["Service-Worker-Allowed"] = "/parents/"
    return response
