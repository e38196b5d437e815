"""Sync: push pending events in signed batches until the server has acknowledged them all,
then take what the server sends back: roster, door credentials, faces, the time.

Stages per batch: pending → signed → sent → acknowledged. Batches are cut
deterministically from the first unacknowledged event, so a batch sent again
after any failure carries the same events; the server's answer decides what
is deleted here, and only a signed acknowledgement deletes anything.

Every answer is believed only once the client has checked the server's signature over it
(terminal/client.py); the state an answer brings is then checked here too: for this
kindergarten, and not older than the state kept. An answer refused either way changes
nothing, is logged with its reason, and is named in :attr:`SyncReport.refused`; the sync
goes on with its other steps, which are checked the same way.
"""

from __future__ import annotations

import base64
import logging
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from functools import partial
from typing import Any, TypeVar

from protocol import MAX_BATCH_EVENTS, acks, batches, cards, gaps, roster
from protocol.errors import AnswerRefusal, ProtocolError
from protocol.health import CameraState
from qatys.logs import log
from qatys.sentences import Sentence
from qatys.timeutil import now_us
from terminal import clock
from terminal.client import ServerClient
from terminal.errors import AnswerRefused, ServerRefused, ServerUnreachable
from terminal.health import health_report
from terminal.home import Terminal
from terminal.store import LostRange
from terminal.timekeeping import anchored, learn_server_time

logger = logging.getLogger("qatys.terminal.sync")
T = TypeVar("T")

_DAY_US = 86_400_000_000
Progress = Callable[[int, int], None]
"""Called with (events acknowledged so far in this run, events pending at its start)."""
RETRIED_REFUSALS = ("stale_request", "replayed_request")
"""Signed refusals a new request can get past: the terminal's idea of the server's time was
off (it learns the time again first), or the network delivered a request twice."""


class SyncResult(StrEnum):
    """The ``result`` of `qatys terminal sync` (docs/cli.md)."""
    OK = "ok"
    REFUSED = "refused"
    """The server refused the push (signed): its ``code`` says why."""
    UNREACHABLE = "unreachable"


class RosterStep(StrEnum):
    """How the roster step of a sync ended (``"roster"`` in its report)."""
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    FAILED = "failed"
    """The sealed roster could not be opened; the held one stays."""
    REFUSED = "refused"
    """The answer was not believed."""


class FacesStep(StrEnum):
    """How the face relay of a sync ended (``"faces"`` in its report)."""
    OK = "ok"
    FAILED = "failed"
    """It did not finish; it is tried again next time."""
    REFUSED = "refused"
    """An answer of it was not believed."""


class AnswerKind(StrEnum):
    """Which answer of a sync was not believed (``"refused"`` in its report)."""
    TIME = "time"
    ACK = "ack"
    ROSTER = "roster"
    DOOR = "door"
    FACES = "faces"
    HEALTH = "health"


@dataclass(frozen=True)
class SyncReport:
    sent_events: int
    batches: int
    acked_seq: int
    roster: RosterStep
    faces: FacesStep = FacesStep.OK
    refused: tuple[AnswerKind, ...] = ()
    """The answers not believed in this run; each changed nothing here."""


def backoff_delays(attempts: int, base: float, cap: float,
                   rng: random.Random | None = None) -> list[float]:
    """Full-jitter exponential backoff: a random wait in [0, min(cap, base·2^n)]."""
    rng = rng or random.Random()  # noqa: S311 - jitter, not a secret
    return [rng.uniform(0, min(cap, base * 2 ** n)) for n in range(max(0, attempts - 1))]


class Syncer:
    def __init__(self, terminal: Terminal, client: ServerClient | None = None, *,
                 camera: CameraState = CameraState.NONE,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._t = terminal
        self._client = client or ServerClient(
            terminal.config.server_url, terminal.config.request_timeout_seconds,
            server_key=terminal.keys.server_sign_public, clock_s=self.server_now_s)
        self._sleep = sleep
        self._camera = camera
        self._refused: list[AnswerKind] = []
        self._server_head: tuple[int, str] | None = None

    def sync(self, progress: Progress | None = None) -> SyncReport:
        """Push everything pending, then take roster, door credentials and faces; raises on a
        signed refusal of the push or when the server does not answer."""
        self._refused = []
        try:
            if self._anchored_us() is None:
                self._believing(AnswerKind.TIME, self.learn_time)
            sent, count, acked = self.push(progress)
            roster_state = self._believing(AnswerKind.ROSTER, self.refresh_roster) \
                or RosterStep.REFUSED
            self._believing(AnswerKind.DOOR, self.refresh_door)
        except ServerRefused as exc:
            if exc.code == "terminal_revoked":  # signed, so it is the server's word
                self._t.store.set_flag("revoked", "1")
                log(logger, "sync.revoked", logging.ERROR, terminal=self._t.terminal_id)
            raise
        faces = self.relay_faces()
        self._believing(AnswerKind.HEALTH, self.report_health)
        if self._server_head is not None:
            # the server's signed head: behind what it acknowledged (a restore, a failover)?
            head_seq, head_hash = self._server_head
            if self._believing(AnswerKind.HEALTH, partial(self.server_behind, head_seq,
                                                          head_hash)):
                more, more_count, acked = self.push(progress)
                sent, count = sent + more, count + more_count
                self._believing(AnswerKind.HEALTH, self.report_health)
        self.prune()
        return SyncReport(sent, count, acked, roster_state, faces, tuple(self._refused))

    def _believing(self, kind: AnswerKind, step: Callable[[], T]) -> T | None:
        """Run one step; an answer it did not believe is logged and named, not raised."""
        try:
            return step()
        except AnswerRefused as exc:
            self.refused_answer(kind, exc)
            return None

    @property
    def refused(self) -> list[AnswerKind]:
        """The kinds of answer not believed so far in this run."""
        return list(self._refused)

    def refused_answer(self, kind: AnswerKind, exc: AnswerRefused) -> None:
        self._refused.append(kind)
        log(logger, "sync.answer_refused", logging.ERROR, terminal=self._t.terminal_id,
            kind=kind, reason=exc.reason, message=exc.message)

    # --- time ---------------------------------------------------------------

    def server_now_s(self) -> int:
        """The server's time as this terminal knows it (unix seconds), for signed requests:
        carried forward from the last signed time of this boot, else the wall clock."""
        anchored_us = self._anchored_us()
        return (anchored_us if anchored_us is not None else clock.read().time_us) // 1_000_000

    def _anchored_us(self) -> int | None:
        reading = clock.read()
        return self._t.store.read(lambda conn: anchored(conn, reading))

    def learn_time(self) -> int:
        """Ask the server's time (a signed answer to a fresh nonce: it cannot be an old one)
        and anchor this boot at it; returns how far the wall clock was off (µs)."""
        t = self._t
        answer = self._retrying(lambda: self._client.signed_get(
            "/api/v1/terminal/time", t.terminal_id, t.keys.sign_seed), relearn=False)
        return self._anchor(_server_time(answer))

    def _anchor(self, server_time_us: int) -> int:
        reading = clock.read()
        offset = self._t.store.write(lambda conn: learn_server_time(conn, reading,
                                                                    server_time_us))
        log(logger, "sync.server_time", offset_s=round(offset / 1e6, 1))
        return offset

    # --- events -------------------------------------------------------------

    def push(self, progress: Progress | None = None) -> tuple[int, int, int]:
        """Batches until nothing is pending, or until an answer is not believed (then
        nothing more is sent in this run, and nothing unacknowledged is deleted)."""
        t = self._t
        start = t.store.counts()
        total, acked = start.pending, start.acked_seq
        sent = count = 0
        went_back = 0
        while True:
            if not self._declare_damaged():
                break
            pending = t.store.pending(MAX_BATCH_EVENTS)
            if not pending:
                break
            body = batches.build_batch(t.terminal_id, t.config.kindergarten,
                                       [raw for _, _, raw in pending], t.keys.sign_seed)
            try:
                try:
                    answer = self._retrying(partial(self._client.post_batch, body,
                                                    t.terminal_id))
                except ServerRefused as exc:
                    # signed (the client checked it): the server holds less than it once did
                    if exc.code != "sequence_gap" or "head_seq" not in exc.details \
                            or went_back >= 2:  # an older server names no head
                        raise
                    went_back += 1
                    if self._server_ahead(exc.details.get("head_seq"),
                                          exc.details.get("head_hash")):
                        continue
                    if not self.server_behind(exc.details.get("head_seq"),
                                              exc.details.get("head_hash")):
                        raise
                    continue
                ack = self._verified_ack(answer)
            except AnswerRefused as exc:
                self.refused_answer(AnswerKind.ACK, exc)
                break
            last_seq = pending[-1][0]
            if ack.seq < last_seq:
                raise ServerRefused("short_ack", Sentence(
                    "the server acknowledged up to %(acked)s, not %(sent)s", acked=ack.seq,
                    sent=last_seq))
            try:
                t.store.acknowledge(ack.seq, ack.head_hash, base64.b64decode(answer["ack"]),
                                    base64.b64decode(answer["signature"]), now_us(),
                                    ack.server_time_us)
            except ValueError as exc:
                raise ServerRefused("bad_ack", Sentence(
                    "the acknowledgement does not fit this terminal's events (%(problem)s); "
                    "nothing deleted", problem=exc)) from exc
            sent += len(pending)
            count += 1
            acked = ack.seq
            log(logger, "sync.batch_acknowledged", terminal=t.terminal_id,
                first_seq=pending[0][0], last_seq=last_seq, stored=ack.stored)
            if progress is not None:
                progress(sent, total)
        return sent, count, acked

    def prune(self) -> int:
        """Delete the acknowledged events kept longer than the retention window, by the
        server's time as this boot knows it (its clock is learnt again in every sync)."""
        t = self._t
        server_now = self._anchored_us() or clock.read().time_us
        pruned = t.store.prune(server_now, t.config.retention_days * _DAY_US)
        if pruned:
            log(logger, "sync.pruned", terminal=t.terminal_id, events=pruned,
                retention_days=t.config.retention_days)
        return pruned

    def server_behind(self, head_seq: object, head_hash: object) -> bool:
        """The server's signed answer names its head for this terminal: when it is behind what
        the server acknowledged, check it names this terminal's own event (where still held),
        declare what was pruned since as lost, and make the rest pending again; True when
        there is something to send again. A head naming another event is refused
        (``foreign``) and changes nothing."""
        t = self._t
        if isinstance(head_seq, bool) or not isinstance(head_seq, int) or head_seq < 0 \
                or not isinstance(head_hash, str) or len(head_hash) != 64:
            raise AnswerRefused(AnswerRefusal.MALFORMED,
                                Sentence("the answer names no valid head of this terminal's chain"))
        try:
            digest = bytes.fromhex(head_hash)
            found = t.store.server_behind(head_seq, digest, now_us())
        except ValueError as exc:
            raise AnswerRefused(AnswerRefusal.FOREIGN, Sentence(
                "the server's head for this terminal names another event (%(problem)s); "
                "nothing is sent again", problem=exc)) from exc
        if not found.behind:
            return False
        log(logger, "sync.server_behind", logging.WARNING, terminal=t.terminal_id,
            server_seq=head_seq, acked_seq=found.acked_seq,
            lost=0 if found.gap is None else found.gap.last_seq - found.gap.first_seq + 1)
        if found.gap is not None:
            self._declare_lost(found.gap)
        return True

    def _server_ahead(self, head_seq: object, head_hash: object) -> bool:
        """After a recovery, the server's signed head beyond the acknowledged one: it holds
        those events already (they are not sent again)."""
        if isinstance(head_seq, bool) or not isinstance(head_seq, int) \
                or not isinstance(head_hash, str) or len(head_hash) != 64:
            return False
        try:
            taken = self._t.store.server_ahead(head_seq, bytes.fromhex(head_hash))
        except ValueError as exc:
            raise AnswerRefused(AnswerRefusal.FOREIGN, Sentence(
                "the server's head for this terminal names another event (%(problem)s); "
                "nothing is sent again", problem=exc)) from exc
        if taken:
            log(logger, "sync.server_holds_more", logging.WARNING,
                terminal=self._t.terminal_id, server_seq=head_seq)
        return taken

    def _declare_damaged(self) -> bool:
        """Declare, signed (``store_damaged``), the range a damaged store lost that comes next
        in the chain, trimmed to what the server does not hold; True to go on sending."""
        t = self._t
        for _ in range(3):
            lost = t.store.damaged_next()
            if lost is None:
                return True
            try:
                self._declare_lost(lost, gaps.LostReason.STORE_DAMAGED)
            except ServerRefused as exc:
                if exc.code != "sequence_gap" or not self._server_ahead(
                        exc.details.get("head_seq"), exc.details.get("head_hash")):
                    raise
        return t.store.damaged_next() is None

    def _declare_lost(self, lost: LostRange,
                      reason: gaps.LostReason = gaps.LostReason.RETENTION_EXPIRED) -> None:
        """Tell the server, in a signed declaration, which events this terminal no longer
        holds; once it took it, send from after the range."""
        t = self._t
        declared_us = self._anchored_us() or clock.read().time_us
        raw, signature = gaps.sign_gap(gaps.ChainGap(
            t.terminal_id, t.config.kindergarten, lost.first_seq, lost.last_seq,
            lost.first_time_us, lost.last_time_us, lost.last_hash,
            reason, declared_us), t.keys.sign_seed)
        answer = self._retrying(lambda: self._client.signed_post(
            "/api/v1/terminal/chain-gap", t.terminal_id, t.keys.sign_seed,
            {"declaration": base64.b64encode(raw).decode("ascii"),
             "signature": base64.b64encode(signature).decode("ascii")}))
        if answer.get("head_seq") != lost.last_seq or answer.get("head_hash") != \
                lost.last_hash.hex():
            raise AnswerRefused(AnswerRefusal.MALFORMED, Sentence(
                "the server did not move its head past the declared range"))
        if reason == gaps.LostReason.STORE_DAMAGED:
            t.store.damaged_declared(lost.last_seq)
        else:
            t.store.gap_declared(lost.last_seq)
        log(logger, "sync.range_declared_lost", logging.WARNING, terminal=t.terminal_id,
            first_seq=lost.first_seq, last_seq=lost.last_seq, reason=reason,
            events=lost.last_seq - lost.first_seq + 1)

    def _verified_ack(self, answer: dict[str, Any]) -> acks.Ack:
        try:
            ack = acks.verify_ack(base64.b64decode(answer["ack"]),
                                  base64.b64decode(answer["signature"]),
                                  self._t.keys.server_sign_public)
        except (ProtocolError, KeyError, ValueError, TypeError) as exc:
            raise AnswerRefused(AnswerRefusal.BAD_SIGNATURE,
                                Sentence("the acknowledgement does not verify under the server "
                                         "key pinned at enrolment; nothing deleted")) from exc
        if ack.terminal_id != self._t.terminal_id:
            raise AnswerRefused(AnswerRefusal.FOREIGN,
                                Sentence("the acknowledgement is for another terminal"))
        return ack

    # --- what the server sends back -------------------------------------------

    def refresh_roster(self) -> RosterStep:
        """Fetch the roster when it changed or its key is gone (after a reboot); a roster of
        another kindergarten, or older than the one kept, is refused."""
        t = self._t
        known = t.roster_version()
        params = {"known": known} if known is not None else {}
        answer = self._retrying(lambda: self._client.signed_get(
            "/api/v1/terminal/roster", t.terminal_id, t.keys.sign_seed, params))
        issued_us = _server_time(answer)
        if answer.get("unchanged") is True:
            if answer.get("version") != known:
                raise AnswerRefused(AnswerRefusal.MALFORMED,
                                    Sentence("an unchanged roster names another version"))
            return RosterStep.UNCHANGED
        if issued_us < t.store.roster_issued_us():
            raise AnswerRefused(AnswerRefusal.OLDER,
                                Sentence("the roster is older than the one this terminal holds; "
                                         "the held one stays"))
        try:
            delivery = roster.open_roster(base64.b64decode(answer["sealed"]), t.terminal_id,
                                          t.keys.box_private)
        except (ProtocolError, KeyError, ValueError, TypeError) as exc:
            log(logger, "sync.roster_unreadable", logging.ERROR, error=type(exc).__name__)
            return RosterStep.FAILED
        if delivery.kindergarten != t.config.kindergarten:
            raise AnswerRefused(AnswerRefusal.FOREIGN,
                                Sentence("the roster is of kindergarten %(theirs)s, not %(ours)s",
                                         theirs=delivery.kindergarten,
                                         ours=t.config.kindergarten))
        t.keep_roster(delivery, os.urandom(12), issued_us)
        log(logger, "sync.roster_updated", terminal=t.terminal_id, children=len(delivery.children))
        return RosterStep.UPDATED

    def refresh_door(self) -> None:
        """Fetch the card keys and revoked serials; keep them only if the server signed them
        for this kindergarten, and only if they are not older than those kept (an old copy
        would bring revoked cards back)."""
        t = self._t
        answer = self._retrying(lambda: self._client.signed_get(
            "/api/v1/terminal/door", t.terminal_id, t.keys.sign_seed, {"pickup": "1"}))
        try:
            raw, signature = base64.b64decode(answer["door"]), base64.b64decode(answer["signature"])
            door = cards.verify_door(raw, signature, t.keys.server_sign_public)
        except (ProtocolError, KeyError, ValueError, TypeError) as exc:
            raise AnswerRefused(AnswerRefusal.BAD_SIGNATURE,
                                Sentence("the door credentials do not verify under the pinned "
                                         "server key (%(kind)s)", kind=type(exc).__name__)) from exc
        if door.kindergarten != t.config.kindergarten:
            raise AnswerRefused(AnswerRefusal.FOREIGN,
                                Sentence("door credentials of %(theirs)s, not %(ours)s",
                                         theirs=door.kindergarten, ours=t.config.kindergarten))
        held = t.door()
        if held is not None and door.issued_us < held.issued_us:
            raise AnswerRefused(AnswerRefusal.OLDER,
                                Sentence("the door credentials are older than those this terminal "
                                         "holds; the held ones stay"))
        t.store.put_door(raw, signature)
        log(logger, "sync.door_updated", terminal=t.terminal_id, card_keys=len(door.card_keys),
            revoked=len(door.revoked))

    def relay_faces(self) -> FacesStep:
        """Withdrawals, templates, keys and erasures (terminal/faces/relay.py); a failure is
        logged and retried at the next sync, it never holds check-ins back."""
        from terminal.faces.relay import FaceRelay

        try:
            FaceRelay(self._t, self._client, self._retrying).run()
        except AnswerRefused as exc:
            self.refused_answer(AnswerKind.FACES, exc)
            return FacesStep.REFUSED
        except (ServerRefused, ServerUnreachable) as exc:
            log(logger, "sync.faces_failed", logging.WARNING, error=type(exc).__name__,
                code=getattr(exc, "code", ""))
            return FacesStep.FAILED
        return FacesStep.OK

    def report_health(self) -> bool:
        """Tell the server how this terminal is (fleet page); a failure is only logged. The
        signed answer's time re-anchors this boot's clock."""
        t = self._t
        try:
            answer = self._retrying(lambda: self._client.signed_post(
                "/api/v1/terminal/health", t.terminal_id, t.keys.sign_seed,
                health_report(t, self._camera)))
        except (ServerRefused, ServerUnreachable) as exc:
            log(logger, "sync.health_failed", logging.WARNING, error=type(exc).__name__)
            return False
        self._anchor(_server_time(answer))
        head_seq, head_hash = answer.get("head_seq"), answer.get("head_hash")
        self._server_head = (head_seq, head_hash) if isinstance(head_seq, int) \
            and isinstance(head_hash, str) else None  # an older server names no head
        return True

    def _retrying(self, call: Callable[[], T], relearn: bool = True) -> T:
        """``call`` again after no answer (with backoff), and once after a signed refusal a
        new request gets past (RETRIED_REFUSALS)."""
        config = self._t.config
        delays = backoff_delays(config.sync_attempts, config.backoff_base_seconds,
                                config.backoff_cap_seconds)
        retried = False
        while True:
            try:
                return call()
            except ServerUnreachable as exc:
                if not delays:
                    raise
                delay = delays.pop(0)
                log(logger, "sync.retry", logging.WARNING, wait_s=round(delay, 2),
                    error=str(exc))
                self._sleep(delay)
            except ServerRefused as exc:
                if exc.code not in RETRIED_REFUSALS or retried:
                    raise
                retried = True
                log(logger, "sync.request_again", logging.WARNING, code=exc.code)
                if exc.code == "stale_request" and relearn:
                    self.learn_time()


def _server_time(answer: dict[str, Any]) -> int:
    value = answer.get("server_time_us")
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise AnswerRefused(AnswerRefusal.MALFORMED, Sentence("the answer carries no server time"))
    return value
