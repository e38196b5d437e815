"""What happens to a QR text read at the door: a child's card is checked offline and recorded,
a director's unlock card opens the roster, anything else is refused with a reason."""

from __future__ import annotations

import logging
from collections.abc import Callable
from enum import StrEnum
from typing import Any

from protocol import cards, phone, unlock
from protocol.crypto import sha256
from protocol.errors import CardRefusal, CardRefused
from protocol.events import Method
from qatys.logs import log
from qatys.timeutil import local_date
from terminal import clock, timekeeping
from terminal.checkin import CheckinRequest, CheckinService, DoorResult
from terminal.errors import CheckinRefused, UnlockRefusal, UnlockRefused
from terminal.home import Terminal

logger = logging.getLogger("qatys.terminal.scan")


class ScanRefusal(StrEnum):
    """Why a scan was refused here, beyond the card's own checks (:class:`CardRefusal`) and
    the check-in's (:class:`terminal.errors.CheckinRefusal`); docs/cli.md, "Scan refusals"."""
    NO_CARD_KEYS = "no_card_keys"
    """The terminal never synced."""
    UNKNOWN_PHONE = "unknown_phone"
    GUARDIAN_REMOVED = "guardian_removed"
    REPLAYED_CODE = "replayed_code"
    CLOCK_NOT_SET = "clock_not_set"
    """A phone code while the terminal's clock is not set (1970 after a boot without RTC
    battery and without network): its 30-second window cannot be checked; cards still work."""
    UNREADABLE_IMAGE = "unreadable_image"
    """`qatys terminal scan` only: the picture could not be read."""


class ScanService:
    def __init__(self, terminal: Terminal,
                 read_clock: Callable[[], clock.Reading] = clock.read) -> None:
        """``read_clock``: the machine's clocks (a test gives a 1970 one)."""
        self._terminal = terminal
        self._read_clock = read_clock
        self._checkins = CheckinService(terminal, read_clock)

    def scan(self, text: str) -> dict[str, Any]:
        """One result line: accepted (after commit), unlocked, or rejected with a reason."""
        t = self._terminal
        if unlock.looks_like_card(text):
            try:
                return {"result": DoorResult.UNLOCKED, "children": t.unlock(text)}
            except UnlockRefused as exc:
                return _rejected(exc.reason, str(exc))
        door = t.door()
        if phone.looks_like_phone_code(text):
            return self._phone(text, door)
        if door is None:
            if not cards.looks_like_card(text):
                return _rejected(CardRefusal.NOT_A_CARD, "this code is not a Qatys card")
            return _rejected(ScanRefusal.NO_CARD_KEYS, "this terminal has no card keys yet: "
                             "it needs one contact with the server")
        now, _ = self._door_time()
        try:
            card = cards.verify_card(text, door, local_date(now, t.config.zone))
        except CardRefused as exc:
            return _rejected(CardRefusal(exc.code), exc.message)
        try:
            result = self._checkins.checkin(CheckinRequest(card.child_id, Method.QR_CARD))
        except CheckinRefused as exc:
            return {"result": DoorResult.REJECTED, "reason": exc.reason, "message": str(exc)}
        result["card"] = card.serial
        return result

    def _door_time(self) -> tuple[int, bool]:
        """Now, as the door checks cards and codes (terminal/timekeeping.py door_time)."""
        reading = self._read_clock()
        return self._terminal.store.read(lambda conn: timekeeping.door_time(conn, reading))

    def _phone(self, text: str, door: cards.DoorCredentials | None) -> dict[str, Any]:
        """A guardian's rotating code: key known here, child bound to it, current window,
        signature, first use; then recorded like a card, with method qr-phone."""
        try:
            code = phone.read_phone_code(text)
        except CardRefused as exc:
            return _rejected(CardRefusal(exc.code), exc.message)
        key = door.phone_key(code.key_id) if door is not None else None
        if door is None or key is None:
            if door is not None and code.key_id in door.removed_phones:
                return _rejected(ScanRefusal.GUARDIAN_REMOVED, "this phone's access was removed")
            return _rejected(ScanRefusal.UNKNOWN_PHONE, "this phone is not known here (yet): the "
                             "terminal learns new phones at its next sync")
        if code.serial in door.revoked:
            return _rejected(ScanRefusal.GUARDIAN_REMOVED, "this phone was removed from this child")
        now, trusted = self._door_time()
        if not trusted:
            return _rejected(ScanRefusal.CLOCK_NOT_SET, "the terminal's clock is not set (no "
                             "network since it started): a phone code cannot be checked; "
                             "use the card")
        now_window = phone.window_at(now / 1_000_000)
        try:
            phone.verify_phone_code(code, key.spki, door.kindergarten, door.card_keys,
                                    now_window)
        except CardRefused as exc:
            return _rejected(CardRefusal(exc.code), exc.message)
        token = sha256(phone.code_message(code.key_id, code.child_id, code.window))
        if not self._terminal.secrets.first_use(token, code.window,
                                                now_window - phone.GRACE_WINDOWS - 1):
            return _rejected(ScanRefusal.REPLAYED_CODE,
                             "this code was used already: wait for the next")
        try:
            result = self._checkins.checkin(CheckinRequest(
                code.child_id, Method.QR_PHONE, phone_code=f"{code.serial}/{code.window}"))
        except CheckinRefused as exc:
            return {"result": DoorResult.REJECTED, "reason": exc.reason, "message": str(exc)}
        relation = key.relation_of(code.serial)
        if relation:  # a pickup adult's code: the door shows the relation, never a name
            result["relation"] = relation
        return result


def _rejected(reason: ScanRefusal | CardRefusal | UnlockRefusal,
              message: str) -> dict[str, Any]:
    log(logger, "scan.rejected", logging.WARNING, reason=reason)
    return {"result": DoorResult.REJECTED, "reason": reason, "message": message}
