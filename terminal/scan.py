"""What happens to a QR text read at the door: a child's card is checked offline and recorded,
a director's unlock card opens the roster, anything else is refused with a reason."""

from __future__ import annotations

import logging
from typing import Any

from protocol import cards, unlock
from protocol.errors import CardRefused
from qatys.logs import log
from qatys.timeutil import local_date, now_us
from terminal.checkin import CheckinRequest, CheckinService
from terminal.errors import CheckinRefused, UnlockRefused
from terminal.home import Terminal

logger = logging.getLogger("qatys.terminal.scan")


class ScanService:
    def __init__(self, terminal: Terminal) -> None:
        self._terminal = terminal
        self._checkins = CheckinService(terminal)

    def scan(self, text: str) -> dict[str, Any]:
        """One result line: accepted (after commit), unlocked, or rejected with a reason."""
        t = self._terminal
        if unlock.looks_like_card(text):
            try:
                return {"result": "unlocked", "children": t.unlock(text)}
            except UnlockRefused as exc:
                return _rejected(exc.reason, str(exc))
        door = t.door()
        if door is None:
            if not cards.looks_like_card(text):
                return _rejected("not_a_card", "this code is not a Qatys card")
            return _rejected("no_card_keys", "this terminal has no card keys yet: "
                             "it needs one contact with the server")
        try:
            card = cards.verify_card(text, door, local_date(now_us(), t.config.zone))
        except CardRefused as exc:
            return _rejected(exc.code, exc.message)
        try:
            result = self._checkins.checkin(CheckinRequest(card.child_id, "qr-card"))
        except CheckinRefused as exc:
            return {"result": "rejected", "reason": exc.reason, "message": str(exc)}
        result["card"] = card.serial
        return result


def _rejected(reason: str, message: str) -> dict[str, Any]:
    log(logger, "scan.rejected", logging.WARNING, reason=reason)
    return {"result": "rejected", "reason": reason, "message": message}
