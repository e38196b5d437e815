"""Sync: push pending events in signed batches until the server has acknowledged them all.

Stages per batch: pending → signed → sent → acknowledged. Batches are cut
deterministically from the first unacknowledged event, so a batch sent again
after any failure carries the same events; the server's answer decides what
is deleted here, and only a signed acknowledgement deletes anything.
"""

from __future__ import annotations

import base64
import logging
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

from protocol import MAX_BATCH_EVENTS, acks, batches, cards, roster
from protocol.errors import ProtocolError
from qatys.logs import log
from qatys.timeutil import now_us
from terminal import clock
from terminal.client import ServerClient
from terminal.errors import ServerRefused, ServerUnreachable
from terminal.health import health_report
from terminal.home import Terminal
from terminal.timekeeping import learn_server_time

logger = logging.getLogger("qatys.terminal.sync")
T = TypeVar("T")

Progress = Callable[[int, int], None]
"""Called with (events acknowledged so far in this run, events pending at its start)."""


@dataclass(frozen=True)
class SyncReport:
    sent_events: int
    batches: int
    acked_seq: int
    roster: str
    """"updated", "unchanged" or "failed"."""
    faces: str = "ok"
    """"ok", or "failed" when the face relay did not finish (it is tried again next time)."""


def backoff_delays(attempts: int, base: float, cap: float,
                   rng: random.Random | None = None) -> list[float]:
    """Full-jitter exponential backoff: a random wait in [0, min(cap, base·2^n)]."""
    rng = rng or random.Random()  # noqa: S311 - jitter, not a secret
    return [rng.uniform(0, min(cap, base * 2 ** n)) for n in range(max(0, attempts - 1))]


class Syncer:
    def __init__(self, terminal: Terminal, client: ServerClient | None = None, *,
                 camera: str = "none",
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._t = terminal
        self._client = client or ServerClient(terminal.config.server_url,
                                              terminal.config.request_timeout_seconds)
        self._sleep = sleep
        self._camera = camera

    def sync(self, progress: Progress | None = None) -> SyncReport:
        """Push everything pending, then refresh the roster; raises on refusal or no answer."""
        try:
            sent, count, acked = self.push(progress)
        except ServerRefused as exc:
            if exc.code == "terminal_revoked":
                self._t.store.set_flag("revoked", "1")
                log(logger, "sync.revoked", logging.ERROR, terminal=self._t.terminal_id)
            raise
        roster_state = self.refresh_roster()
        self.refresh_door()
        faces = self.relay_faces()
        self.report_health()
        return SyncReport(sent, count, acked, roster_state, faces)

    def relay_faces(self) -> str:
        """Withdrawals, templates, keys and erasures (terminal/faces/relay.py); a failure is
        logged and retried at the next sync, it never holds check-ins back."""
        from terminal.faces.relay import FaceRelay

        try:
            FaceRelay(self._t, self._client, self._retrying).run()
        except (ServerRefused, ServerUnreachable) as exc:
            log(logger, "sync.faces_failed", logging.WARNING, error=type(exc).__name__,
                code=getattr(exc, "code", ""))
            return "failed"
        return "ok"

    def report_health(self) -> bool:
        """Tell the server how this terminal is (fleet page); a failure is only logged."""
        t = self._t
        try:
            answer = self._client.signed_post("/api/v1/terminal/health", t.terminal_id,
                                              t.keys.sign_seed, health_report(t, self._camera))
        except (ServerRefused, ServerUnreachable) as exc:
            log(logger, "sync.health_failed", logging.WARNING, error=type(exc).__name__)
            return False
        server_time = answer.get("server_time_us")
        if isinstance(server_time, int):
            reading = clock.read()
            offset = t.store.write(lambda conn: learn_server_time(conn, reading, server_time))
            log(logger, "sync.server_time", offset_s=round(offset / 1e6, 1))
        return True

    def push(self, progress: Progress | None = None) -> tuple[int, int, int]:
        t = self._t
        start = t.store.counts()
        total, acked = start.pending, start.acked_seq
        sent = count = 0
        while pending := t.store.pending(MAX_BATCH_EVENTS):
            body = batches.build_batch(t.terminal_id, t.config.kindergarten,
                                       [raw for _, _, raw in pending], t.keys.sign_seed)
            answer = self._retrying(partial(self._client.post_batch, body))
            ack = self._verified_ack(answer)
            last_seq = pending[-1][0]
            if ack.seq < last_seq:
                raise ServerRefused("short_ack", f"server acknowledged {ack.seq}, "
                                    f"not {last_seq}")
            try:
                t.store.acknowledge(ack.seq, ack.head_hash, base64.b64decode(answer["ack"]),
                                    base64.b64decode(answer["signature"]), now_us(),
                                    ack.server_time_us)
            except ValueError as exc:
                raise ServerRefused("bad_ack", f"{exc}; nothing deleted") from exc
            sent += len(pending)
            count += 1
            acked = ack.seq
            log(logger, "sync.batch_acknowledged", terminal=t.terminal_id,
                first_seq=pending[0][0], last_seq=last_seq, stored=ack.stored)
            if progress is not None:
                progress(sent, total)
        return sent, count, acked

    def refresh_roster(self) -> str:
        """Fetch the roster when it changed or its key is gone (after a reboot)."""
        t = self._t
        params = {}
        known = t.roster_version()
        if known is not None:
            params["known"] = known
        try:
            answer = self._retrying(lambda: self._client.signed_get(
                "/api/v1/terminal/roster", t.terminal_id, t.keys.sign_seed, params))
            if answer.get("unchanged"):
                return "unchanged"
            delivery = roster.open_roster(base64.b64decode(answer["sealed"]), t.terminal_id,
                                          t.keys.box_private)
        except (ProtocolError, KeyError, ValueError) as exc:
            log(logger, "sync.roster_unreadable", logging.ERROR, error=type(exc).__name__)
            return "failed"
        t.keep_roster(delivery, os.urandom(12))
        log(logger, "sync.roster_updated", terminal=t.terminal_id, children=len(delivery.children))
        return "updated"

    def refresh_door(self) -> str:
        """Fetch the card keys and revoked serials; keep them only if the server signed them."""
        t = self._t
        try:
            answer = self._retrying(lambda: self._client.signed_get(
                "/api/v1/terminal/door", t.terminal_id, t.keys.sign_seed, {}))
            raw, signature = base64.b64decode(answer["door"]), base64.b64decode(answer["signature"])
            door = cards.verify_door(raw, signature, t.keys.server_sign_public)
        except (ProtocolError, KeyError, ValueError) as exc:
            log(logger, "sync.door_unreadable", logging.ERROR, error=type(exc).__name__)
            return "failed"
        if door.kindergarten != t.config.kindergarten:
            log(logger, "sync.door_foreign", logging.ERROR, terminal=t.terminal_id)
            return "failed"
        t.store.put_door(raw, signature)
        log(logger, "sync.door_updated", terminal=t.terminal_id, card_keys=len(door.card_keys),
            revoked=len(door.revoked))
        return "updated"

    def _verified_ack(self, answer: dict[str, Any]) -> acks.Ack:
        try:
            ack = acks.verify_ack(base64.b64decode(answer["ack"]),
                                  base64.b64decode(answer["signature"]),
                                  self._t.keys.server_sign_public)
        except (ProtocolError, KeyError, ValueError) as exc:
            raise ServerRefused("bad_ack", "the acknowledgement does not verify under the "
                                "server key pinned at enrolment; nothing deleted") from exc
        if ack.terminal_id != self._t.terminal_id:
            raise ServerRefused("bad_ack", "the acknowledgement is for another terminal")
        return ack

    def _retrying(self, call: Callable[[], T]) -> T:
        config = self._t.config
        delays = backoff_delays(config.sync_attempts, config.backoff_base_seconds,
                                config.backoff_cap_seconds)
        for delay in delays:
            try:
                return call()
            except ServerUnreachable as exc:
                log(logger, "sync.retry", logging.WARNING, wait_s=round(delay, 2),
                    error=str(exc))
                self._sleep(delay)
        return call()
