"""Terminal endpoints besides batches: enrolment, roster and door credentials, status."""

from __future__ import annotations

import base64
import logging
import re

from flask import Blueprint, Response, request
from sqlalchemy import select

from protocol import PROTOCOL_VERSION, cards
from protocol.health import CAMERA_STATES, HEALTH_FIELDS, OPTIONAL_HEALTH_FIELDS
from provisioning.errors import InvalidInput, TokenRefused
from qatys import __version__
from qatys.logs import log
from qatys.timeutil import local_date
from server.context import ctx
from server.errors import RequestError, SyncError
from server.registry.cards import door_credentials
from server.registry.terminals import enrol_terminal
from server.storage import db
from server.sync import lost_ranges, roster_delivery
from server.sync.auth import authenticated_terminal
from server.sync.clock_corrections import correct_boot
from server.web.bodies import integer, json_object, optional_text, text
from server.web.responses import base64_field, ok

bp = Blueprint("terminal", __name__, url_prefix="/api/v1")
logger = logging.getLogger("qatys.server.terminal")


@bp.post("/terminals/enrol")
def enrol() -> tuple[Response, int]:
    body = json_object("token", "sign_pub", "box_pub", "proof")
    token = text(body, "token", 256)
    sign_pub = base64_field(text(body, "sign_pub", 256), "sign_pub")
    box_pub = base64_field(text(body, "box_pub", 256), "box_pub")
    proof = base64_field(text(body, "proof", 256), "proof")
    software = optional_text(body, "software_version", 40)
    context = ctx()
    try:
        with db.writing(context.engine) as conn:
            result = enrol_terminal(conn, token, sign_pub, box_pub, proof, software,
                                    context.clock())
    except TokenRefused as exc:
        log(logger, "terminal.enrol_refused", logging.WARNING, code=exc.code)
        raise SyncError(exc.code, exc.sentence) from exc
    except InvalidInput as exc:
        raise RequestError("malformed", str(exc)) from exc
    log(logger, "terminal.enrolled", terminal=result.terminal_id,
        kindergarten=result.kindergarten)
    return ok(
        201,
        terminal_id=result.terminal_id,
        kindergarten=result.kindergarten,
        kindergarten_name=result.kindergarten_name,
        server_sign_pub=base64.b64encode(context.keys.sign_public).decode(),
        server_box_pub=base64.b64encode(context.keys.box_public).decode(),
        server_time_us=context.clock(),
        protocol=PROTOCOL_VERSION,
    )


@bp.get("/terminal/roster")
def roster() -> tuple[Response, int]:
    terminal = authenticated_terminal()
    context = ctx()
    with context.engine.connect() as conn:
        snapshot = roster_delivery.current_snapshot(conn, terminal.kindergarten, context.clock())
    version = snapshot.version
    if request.args.get("known") == version:
        return ok(unchanged=True, version=version, server_time_us=context.clock())
    sealed = roster_delivery.sealed_delivery(snapshot, terminal.terminal_id, terminal.box_pub)
    log(logger, "roster.delivered", terminal=terminal.terminal_id, children=len(snapshot.entries),
        unlock_cards=len(snapshot.cards))
    return ok(unchanged=False, version=version, server_time_us=context.clock(),
              sealed=base64.b64encode(sealed).decode("ascii"))


@bp.get("/terminal/time")
def server_time() -> tuple[Response, int]:
    """The server's clock, for a terminal whose own is off (its signed requests would be
    refused as stale): the request is checked but not for freshness, and changes nothing;
    the signed answer names the request's nonce, so it cannot be an old one."""
    terminal = authenticated_terminal(fresh=False)
    return ok(terminal_id=terminal.terminal_id, server_time_us=ctx().clock())


@bp.get("/terminal/status")
def status() -> tuple[Response, int]:
    terminal = authenticated_terminal()
    return ok(terminal_id=terminal.terminal_id, kindergarten=terminal.kindergarten,
              head_seq=terminal.head_seq, server_time_us=ctx().clock(),
              server_version=__version__)


@bp.get("/terminal/door")
def door() -> tuple[Response, int]:
    """The kindergarten's card keys and revoked card serials, signed by the server; with
    ``?pickup=1`` (a terminal that knows pickup adults) each phone key's pickup bindings'
    relation codes too (an older terminal asks without and reads the bytes it always did)."""
    terminal = authenticated_terminal()
    context = ctx()
    now = context.clock()
    with context.engine.connect() as conn:
        credentials = door_credentials(conn, terminal.kindergarten, local_date(now), now,
                                       with_pickup=request.args.get("pickup") == "1")
    raw, signature = cards.sign_door(credentials, context.keys.sign_seed)
    log(logger, "door.delivered", terminal=terminal.terminal_id,
        card_keys=len(credentials.card_keys), revoked=len(credentials.revoked))
    return ok(door=base64.b64encode(raw).decode("ascii"),
              signature=base64.b64encode(signature).decode("ascii"), server_time_us=now)


_BOOT_ID = re.compile(r"[0-9a-f]{32}")
TIME_MAX_US = 2**62
"""A terminal's clock (µs since the epoch) in a health report: its skew from the server's
must still fit the 64-bit column."""


@bp.post("/terminal/health")
def health() -> tuple[Response, int]:
    """A terminal's report of itself (fleet page): numbers and states, no personal data."""
    terminal = authenticated_terminal()
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not set(HEALTH_FIELDS) <= set(body) \
            or not set(body) <= set(HEALTH_FIELDS) | set(OPTIONAL_HEALTH_FIELDS) or any(
            isinstance(body[k], bool) or not isinstance(body[k], kind)
            for k, kind in {**HEALTH_FIELDS, **OPTIONAL_HEALTH_FIELDS}.items() if k in body):
        raise RequestError("malformed", "send " + ", ".join(HEALTH_FIELDS) + " as JSON")
    if "server_behind" in body:
        integer(body, "server_behind", 0, 2**31 - 1)
    if "server_behind_us" in body:
        integer(body, "server_behind_us", 0, TIME_MAX_US)
    for name in ("pending", "head_seq", "storage_free_bytes", "mono_ns"):
        integer(body, name)
    integer(body, "terminal_time_us", 0, TIME_MAX_US)
    if body["camera"] not in CAMERA_STATES or len(body["software_version"]) > 40 \
            or not _BOOT_ID.fullmatch(body["boot_id"]):
        raise RequestError("malformed", "a health field is out of range")
    context = ctx()
    now = context.clock()
    values = {"reported_at_us": now, "terminal_time_us": body["terminal_time_us"],
              "skew_us": body["terminal_time_us"] - now, "pending": body["pending"],
              "software_version": body["software_version"], "camera": body["camera"],
              "storage_free_bytes": body["storage_free_bytes"],
              "server_behind": body.get("server_behind"),
              "server_behind_us": body.get("server_behind_us")}
    with db.writing(context.engine) as conn:
        checked = conn.execute(select(db.terminal_health.c.checked_seq).where(
            db.terminal_health.c.terminal_id == terminal.terminal_id)).scalar() or 0
        correct_boot(conn, terminal.terminal_id, terminal.kindergarten,
                     bytes.fromhex(body["boot_id"]), body["mono_ns"], now, checked, now)
        head, head_hash = conn.execute(select(db.terminals.c.head_seq, db.terminals.c.head_hash)
                                       .where(db.terminals.c.terminal_id
                                              == terminal.terminal_id)).one()
        conn.execute(db.terminal_health.delete()
                     .where(db.terminal_health.c.terminal_id == terminal.terminal_id))
        conn.execute(db.terminal_health.insert().values(terminal_id=terminal.terminal_id,
                                                        checked_seq=head, **values))
        conn.execute(db.terminals.update()
                     .where(db.terminals.c.terminal_id == terminal.terminal_id)
                     .values(last_contact_us=now,
                             software_version=body["software_version"]))
    # The server's head for the terminal, signed with the answer: a terminal whose acknowledged
    # head is ahead (a restore, a failover) sends its retained events again (docs/protocol.md).
    return ok(server_time_us=now, head_seq=head, head_hash=bytes(head_hash).hex())


@bp.post("/terminal/chain-gap")
def chain_gap() -> tuple[Response, int]:
    """A terminal's signed declaration that it no longer holds a range of its chain the server
    has lost (protocol/gaps.py): recorded as a lost range, the head moves past it."""
    terminal = authenticated_terminal()
    body = json_object("declaration", "signature")
    raw = base64_field(text(body, "declaration", 4096), "declaration")
    signature = base64_field(text(body, "signature", 256), "signature")
    context = ctx()
    now = context.clock()
    with db.writing(context.engine) as conn:
        gap, head = lost_ranges.declare(conn, terminal, raw, signature, now)
    return ok(head_seq=head.seq, head_hash=head.hash.hex(), lost=gap.count,
              server_time_us=context.clock())
