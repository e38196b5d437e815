"""Recording a check-in: decide, seal, append to the chain, commit — then confirm.

The result is returned (and the kiosk turns green, the CLI prints) only after
the transaction that holds the event has committed with ``synchronous=FULL``.
"""

from __future__ import annotations

import logging
import os
import re
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from protocol import crypto, events
from protocol.events import Assurance, Direction, Method
from qatys.logs import log
from qatys.sentences import Sentence
from qatys.timeutil import iso_utc, local_date
from terminal import clock, door, timekeeping
from terminal.errors import CheckinRefusal, CheckinRefused
from terminal.home import Terminal
from terminal.sealer import Sealer
from terminal.store import get_meta

logger = logging.getLogger("qatys.terminal.checkin")

_CHILD_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
ASSURANCE_OF_METHOD = {Method.QR_PHONE: Assurance.HIGH, Method.FACE: Assurance.MEDIUM,
                       Method.QR_CARD: Assurance.MEDIUM, Method.MANUAL: Assurance.LOW}


class DoorResult(StrEnum):
    """The ``result`` of a scan, a check-in or a kiosk action (docs/cli.md, docs/kiosk.md)."""
    ACCEPTED = "accepted"
    """Recorded (or a repeat acknowledged again), after commit."""
    REJECTED = "rejected"
    """Refused, with a ``reason``; nothing recorded."""
    NONE = "none"
    """No code (or no face) in the picture."""
    UNLOCKED = "unlocked"
    """A director's card unlocked the roster."""
    STARTED = "started"
    """A face enrolment began (the kiosk)."""
    ENROLLED = "enrolled"
    """A face enrolment finished."""
    WITHDRAWN = "withdrawn"
    """Face consent withdrawn at the terminal, templates erased."""


def valid_child_id(child_id: str) -> bool:
    return bool(_CHILD_ID.match(child_id))


@dataclass(frozen=True)
class CheckinRequest:
    child_id: str
    method: Method
    reason: str = ""
    by: str = ""
    direction: Direction | None = None
    phone_code: str = ""
    """``SERIAL/WINDOW`` of a guardian's phone code (sealed in the body, for the server)."""


class CheckinService:
    def __init__(self, terminal: Terminal,
                 read_clock: Callable[[], clock.Reading] = clock.read) -> None:
        """``read_clock`` gives each check-in its wall time, boot id and monotonic time: the
        machine's clocks at a door; a given history's (``qatys demo run`` records a past
        month of its terminal before the kiosk starts). The recorded time still follows
        :func:`terminal.timekeeping.event_time`."""
        self._terminal = terminal
        self._sealer = Sealer(terminal.keys.server_box_public)
        self._read_clock = read_clock

    def checkin(self, request: CheckinRequest) -> dict[str, Any]:
        """Record (or re-acknowledge) a check-in; raises :class:`CheckinRefused` otherwise."""
        t = self._terminal
        self._validate(request)
        roster = t.roster()
        if roster is not None and request.child_id not in roster:
            raise _refused(CheckinRefusal.UNKNOWN_CHILD,
                           Sentence("this child is not on the kindergarten's roster"))
        t.storage.before_write()  # storage_full / storage_readonly before SQLite could fail
        reading = self._read_clock()
        receipt = door.receipt_code(os.urandom(8))
        sealed = self._sealer.seal(
            events.Body(request.child_id, reason=request.reason, by=request.by,
                        receipt=receipt, code=request.phone_code), t.terminal_id)
        with t.storage.writing():
            seq, decision, time_us = t.store.write(
                lambda conn: self._record(conn, request, reading, sealed, receipt))
        result: dict[str, Any] = {
            "result": DoorResult.ACCEPTED,
            "event_id": events.event_id(t.terminal_id, seq),
            "child_id": request.child_id,
            "direction": decision.direction,
            "method": request.method,
            "assurance": ASSURANCE_OF_METHOD[request.method],
            "recorded_at": iso_utc(time_us),
            "repeat": not decision.record,
            "receipt": receipt if decision.record else decision.receipt,
        }
        if roster is not None:
            result["first_name"] = roster[request.child_id]
        log(logger, "checkin.accepted", seq=seq, direction=decision.direction,
            method=request.method, repeat=not decision.record)
        return result

    def _validate(self, request: CheckinRequest) -> None:
        if not valid_child_id(request.child_id):
            raise _refused(CheckinRefusal.BAD_CHILD_ID,
                           Sentence("a child id is 1-64 letters, digits, '.', '_' or '-'"))
        if request.method not in ASSURANCE_OF_METHOD:
            raise _refused(CheckinRefusal.BAD_METHOD, Sentence("unknown method %(method)s",
                                                               method=request.method))
        if request.method == Method.MANUAL and not request.reason.strip():
            raise _refused(CheckinRefusal.REASON_REQUIRED,
                           Sentence("a manual entry needs a reason"))
        if len(request.reason) > events.MAX_TEXT or len(request.by) > events.MAX_TEXT:
            raise _refused(CheckinRefusal.TOO_LONG,
                           Sentence("reason and staff name are at most %(max_text)s characters",
                                    max_text=events.MAX_TEXT))
        if request.direction not in (None, *Direction):
            raise _refused(CheckinRefusal.BAD_DIRECTION, Sentence("direction is in or out"))

    def _record(self, conn: sqlite3.Connection, request: CheckinRequest,
                reading: clock.Reading, sealed: bytes,
                receipt: str) -> tuple[int, door.Decision, int]:
        """Runs inside the writer's transaction, so day state and chain move together."""
        t = self._terminal
        if get_meta(conn, "revoked") == b"1":
            raise _refused(CheckinRefusal.TERMINAL_REVOKED,
                           Sentence("this terminal was revoked by the server; data is kept"), 4)
        time_us = timekeeping.event_time(conn, reading)
        day = local_date(time_us, t.config.zone).isoformat()
        day_key = t.secrets.day_key()
        if day_key is None or day_key.day != day:
            # Rows under a lost key (reboot) or of an earlier day can never be read again.
            t.store.purge_day_state(conn, day if day_key is not None else "")
            day_key = t.secrets.new_day_key(day)
        tag = crypto.hmac_tag(day_key.key, request.child_id.encode("utf-8"))
        previous = t.store.day_state(conn, tag)
        rules = door.Rules(t.config.dedupe_window_seconds * 1_000_000,
                           t.config.departure_gap_minutes * 60_000_000)
        decision = door.decide(previous, time_us, rules, request.direction)
        if not decision.record:
            assert decision.repeat_of is not None
            return decision.repeat_of, decision, time_us
        kind = events.KIND_OF_DIRECTION[decision.direction]

        def make(seq: int, prev: bytes) -> bytes:
            return events.encode_event(events.Event(
                terminal_id=t.terminal_id, seq=seq, prev_hash=prev, time_us=time_us,
                boot_id=reading.boot_id, mono_ns=reading.mono_ns, kind=kind,
                method=request.method, assurance=ASSURANCE_OF_METHOD[request.method],
                body=sealed))

        appended = t.store.append(conn, make)
        t.store.put_day_state(conn, tag, day, door.DayState(
            appended.seq, decision.direction, time_us, receipt))
        timekeeping.recorded(conn, time_us)
        return appended.seq, decision, time_us


def parse_direction(value: object) -> Direction | None:
    """A direction staff gave (the kiosk's form): none, ``in`` or ``out``; refused otherwise."""
    if value is None or value == "":
        return None
    if isinstance(value, str) and value in _DIRECTION_OF_TEXT:
        return _DIRECTION_OF_TEXT[value]
    raise _refused(CheckinRefusal.BAD_DIRECTION, Sentence("direction is in or out"))


_DIRECTION_OF_TEXT = {d.value: d for d in Direction}


def _refused(reason: CheckinRefusal, message: Sentence,
             exit_code: int | None = None) -> CheckinRefused:
    log(logger, "checkin.refused", logging.WARNING, reason=reason)
    return CheckinRefused(reason, message, exit_code)
