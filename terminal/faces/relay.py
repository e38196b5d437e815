"""Face templates at each contact with the server: withdrawals taken here go to the consent
ledger, new templates and face keys go up, erasures are reported, and what the server says
no longer stands is erased here; siblings' templates come down, keys go to siblings.

Nothing sent is readable by the server: templates are under the kindergarten's face key,
keys are sealed to one terminal each, withdrawal notices are sealed to the server.
"""

from __future__ import annotations

import base64
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from protocol import crypto, faces
from protocol.errors import ProtocolError
from protocol.faces import EraseReason
from qatys.logs import log
from qatys.timeutil import local_date, now_us
from terminal.client import ServerClient
from terminal.errors import ServerRefused
from terminal.faces.vault import ERASE_REASONS, FaceVault
from terminal.faces.withdrawal import notice_delivered, pending_notices
from terminal.home import Terminal

logger = logging.getLogger("qatys.terminal.faces")

MAX_ROUNDS = 20
_DEAD_NOTICE = ("bad_notice", "unknown_child", "malformed")
"""Refusals a notice can never get past: it is dropped (and logged), not sent forever."""


@dataclass
class RelayReport:
    notices: int = 0
    uploaded: int = 0
    received: int = 0
    erased: int = 0
    reported: int = 0
    keys_passed: int = 0

    def as_json(self) -> dict[str, int]:
        return dict(self.__dict__)


class FaceRelay:
    def __init__(self, terminal: Terminal, client: ServerClient,
                 retrying: Callable[[Callable[[], Any]], Any]) -> None:
        self._t = terminal
        self._client = client
        self._retrying = retrying
        self.vault = FaceVault(terminal)

    def _post(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        t = self._t
        answer: dict[str, Any] = self._retrying(lambda: self._client.signed_post(
            path, t.terminal_id, t.keys.sign_seed, payload))
        return answer

    def run(self) -> RelayReport:
        report = RelayReport()
        report.notices = self._deliver_notices()
        entries = self._t.roster_entries()
        if entries is not None:
            report.erased += self.vault.enforce_consent(
                entries, local_date(now_us(), self._t.config.zone))
        self._register_keys()
        uploaded, refused = self._upload()
        report.uploaded, report.erased = uploaded, report.erased + refused
        for _ in range(MAX_ROUNDS):
            more = self._sync_round(report)
            if not more and not self.vault.pending_erasures():
                break
        log(logger, "faces.relayed", **report.as_json())
        return report

    def _deliver_notices(self) -> int:
        delivered = 0
        for request_id, sealed in pending_notices(self._t):
            try:
                self._post("/api/v1/terminal/consent/withdrawals",
                           {"request_id": request_id, "sealed": _b64(sealed)})
            except ServerRefused as exc:
                if exc.code not in _DEAD_NOTICE:
                    raise
                log(logger, "faces.notice_refused", logging.ERROR, code=exc.code)
            notice_delivered(self._t, request_id)
            delivered += 1
        return delivered

    def _register_keys(self) -> None:
        for key_id, own_wrap in self.vault.unregistered_keys():
            self._post("/api/v1/terminal/faces/keys", {"wraps": [
                {"key_id": key_id, "terminal_id": self._t.terminal_id, "sealed": _b64(own_wrap)}]})
            self.vault.key_registered(key_id)

    def _upload(self) -> tuple[int, int]:
        """Templates enrolled here go to the server; one it refuses is erased here. Only
        those not yet uploaded are opened (every sync comes here)."""
        keys = self.vault.keys() or {}
        uploaded = refused = 0
        for row in self.vault.stored():
            template = None if row.uploaded else self.vault.open(row, keys)
            if template is None:
                continue
            try:
                self._post("/api/v1/terminal/faces/templates", {
                    "template_id": row.template_id, "key_id": row.key_id,
                    "child_id": template.child_id, "consent_record": template.consent_record,
                    "blob": _b64(row.blob)})
            except ServerRefused as exc:
                if exc.code not in ("consent_not_in_force", "unknown_child",
                                    "template_conflict"):
                    raise
                refused += self.vault.erase([(row.template_id,
                                              _erase_reason(exc.details.get("reason")))])
                continue
            self.vault.uploaded(row.template_id)
            uploaded += 1
        return uploaded, refused

    def _sync_round(self, report: RelayReport) -> bool:
        keys = self.vault.keys()
        receipts = self.vault.pending_erasures()
        answer = self._post("/api/v1/terminal/faces/sync", {
            "have": self.vault.template_ids(),
            "keys": sorted(keys or {}),
            "erased": [{"template_id": i, "erased_at_us": at, "reason": r}
                       for i, at, r in receipts]})
        self.vault.erasures_reported([i for i, _, _ in receipts])
        report.reported += len(receipts)
        report.erased += self.vault.erase([(str(e["template_id"]), _erase_reason(e["reason"]))
                                           for e in answer.get("erase", [])])
        if keys is None:
            return False  # locked: nothing to open or pass on until the roster key is back
        for wrap in answer.get("key_wraps", []):
            self._keep_wrap(str(wrap["key_id"]), base64.b64decode(wrap["sealed"]))
        for item in answer.get("add", []):
            if self.vault.receive(str(item["template_id"]), str(item["key_id"]),
                                  base64.b64decode(item["blob"])):
                report.received += 1
        report.keys_passed += self._pass_keys(answer.get("wrap_for", []))
        return bool(answer.get("more"))

    def _keep_wrap(self, key_id: str, sealed: bytes) -> None:
        t = self._t
        try:
            face_key = faces.unwrap_face_key(sealed, key_id, t.config.kindergarten,
                                             t.terminal_id, t.keys.box_private)
        except ProtocolError:
            log(logger, "faces.key_wrap_unreadable", logging.ERROR, key=key_id)
            return
        self.vault.keep_key(key_id, face_key)

    def _pass_keys(self, wanted: list[dict[str, Any]]) -> int:
        """Seal each key a sibling lacks to that sibling's key, as the server listed them."""
        keys = self.vault.keys() or {}
        t = self._t
        wraps = []
        for item in wanted:
            key_id = str(item["key_id"])
            if key_id not in keys:
                continue
            wraps.append({"key_id": key_id, "terminal_id": str(item["terminal_id"]),
                          "sealed": _b64(faces.wrap_face_key(
                              keys[key_id], key_id, t.config.kindergarten,
                              str(item["terminal_id"]), base64.b64decode(item["box_pub"]),
                              os.urandom(32), os.urandom(crypto.NONCE_SIZE)))})
        for start in range(0, len(wraps), 100):
            self._post("/api/v1/terminal/faces/keys", {"wraps": wraps[start:start + 100]})
        return len(wraps)


def _erase_reason(said: object) -> EraseReason:
    """The server's reason, when it is one this terminal records; "refused" otherwise."""
    return EraseReason(said) if isinstance(said, str) and said in ERASE_REASONS \
        else EraseReason.REFUSED


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
