"""Faces at the kiosk: a few looks a second at the newest camera frame, only while a child
with consent is enrolled (or staff are enrolling one).

A match counts once the same child has turned the head a little or blinked; the screen asks
for that, and after a few seconds without it asks for the QR card instead. Nobody who is
not recognised is shown anything: a passer-by leaves no trace. Enrolment collects frames for
a few seconds, then keeps one template (terminal/faces/enrolment.py).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from qatys.logs import log
from terminal.capture.sources import Frame
from terminal.checkin import DoorResult
from terminal.errors import FaceRefused
from terminal.faces.liveness import Presentation, SpoofSign
from terminal.faces.matching import FaceVerdict, Gallery
from terminal.faces.vault import FaceVault
from terminal.faces.withdrawal import withdraw_here
from terminal.kiosk.texts import say
from terminal.store import is_corruption

if TYPE_CHECKING:  # dlib and its models load only once a child is enrolled (about 100 MiB)
    from terminal.faces.door import FaceDoor
    from terminal.faces.enrolment import EnrolmentSession
    from terminal.kiosk.service import Kiosk

logger = logging.getLogger("qatys.terminal.kiosk.faces")

LOOK_INTERVAL_S = 0.25
GALLERY_REFRESH_S = 5.0
GIVE_UP_S = 5.0
"""A recognised face that has not turned or blinked by then is asked for the QR card."""
AWAY_S = 2.0
"""A recognised child not seen for this long has left: the next sighting is a new visit."""
COOLDOWN_S = 10.0
"""A child just checked in (or sent to QR) is not looked at again for this long."""
ENROL_SECONDS = 12.0
"""An enrolment that has not seen enough good frames and a turn or blink by then is refused."""
DOOR_WIDTH = 640


@dataclass
class _Enrolment:
    session: EnrolmentSession
    deadline: float


def door_rgb(frame: Frame) -> np.ndarray | None:
    """The frame in RGB at 640 pixels wide (a copy: the preview keeps its own)."""
    if frame.colour is None:
        return None
    bgr = frame.colour
    if bgr.shape[1] > DOOR_WIDTH:
        bgr = cv2.resize(bgr, (DOOR_WIDTH, bgr.shape[0] * DOOR_WIDTH // bgr.shape[1]),
                         interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))


class FaceWatch:
    def __init__(self, kiosk: Kiosk) -> None:
        self._kiosk = kiosk
        self.vault = FaceVault(kiosk.terminal)
        self._door_loaded: FaceDoor | None = None
        self._presentation = Presentation()
        self._started = self._seen = 0.0
        self._cooldown: dict[str, float] = {}
        self._gallery: tuple[float, Gallery | None] = (0.0, None)
        self._enrolment: _Enrolment | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="qatys-faces", daemon=True)
        self.looks_skipped = 0
        """Looks not taken because the one before overran its LOOK_INTERVAL_S (a board too
        slow for the face stage): counted, never queued; /status says it."""

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    @property
    def _door(self) -> FaceDoor:
        if self._door_loaded is None:
            from terminal.faces.door import FaceDoor

            self._door_loaded = FaceDoor(self._kiosk.terminal, self.vault)
        return self._door_loaded

    def enrolled_children(self) -> int:
        gallery = self._gallery[1]
        return len(gallery) if gallery is not None else 0

    def invalidate(self) -> None:
        self._gallery = (0.0, None)

    # --- staff actions (behind the PIN, from the page) ------------------------------

    def begin_enrolment(self, child_id: str) -> dict[str, Any]:
        """Start collecting frames for a child whose consent is in force; refuse otherwise."""
        with self._lock:
            if self._enrolment is not None:
                return _refusal("face_busy", "an enrolment is under way")
            from terminal.faces.enrolment import EnrolmentSession

            try:
                session = EnrolmentSession(self._kiosk.terminal, self.vault, child_id,
                                           require_liveness=True, camera=True)
            except FaceRefused as exc:
                return _refusal(exc.reason, str(exc))
            self._enrolment = _Enrolment(session, time.monotonic() + ENROL_SECONDS)
        log(logger, "faces.enrolment_started")
        self._kiosk.events.publish("face", {"prompt": "face_enrolling",
                                            "text": say("face_enrolling")})
        return {"result": DoorResult.STARTED, "text": say("face_enrolling")}

    def withdraw(self, child_id: str, by: str) -> dict[str, Any]:
        try:
            result = withdraw_here(self._kiosk.terminal, self.vault, child_id, by)
        except FaceRefused as exc:
            return _refusal(exc.reason, str(exc))
        self.invalidate()
        return {**result, "text": say("face_withdrawn")}

    # --- the loop ------------------------------------------------------------------------

    def _loop(self) -> None:
        """A look every LOOK_INTERVAL_S, counted from the start of the last one (a look takes
        about 120 ms on two cores; waiting the whole interval after it would add that)."""
        last: Frame | None = None
        next_look = time.monotonic()
        while not self._stop.wait(max(0.0, next_look - time.monotonic())):
            behind = time.monotonic() - next_look
            if behind >= LOOK_INTERVAL_S:  # whole looks missed: the newest frame only, counted
                self.looks_skipped += int(behind // LOOK_INTERVAL_S)
            next_look = time.monotonic() + LOOK_INTERVAL_S
            pipeline = self._kiosk.pipeline
            frame = pipeline.latest if pipeline is not None else None
            if frame is None or frame is last:
                continue
            last = frame
            try:
                if self._enrolment is not None:
                    self._collect(frame)
                else:
                    self._look(frame)
            except sqlite3.DatabaseError as exc:
                if not is_corruption(exc):
                    logger.exception("face look failed")
                    continue
                log(logger, "face.store_damaged", logging.ERROR, error=str(exc))
                self._kiosk.recover_if_asked()  # the store marked itself: recovered here
            except Exception:  # a bad frame or a locked store must not stop the kiosk
                logger.exception("face look failed")

    def _current_gallery(self) -> Gallery | None:
        checked, gallery = self._gallery
        if time.monotonic() - checked > GALLERY_REFRESH_S:
            gallery = self.vault.gallery()
            self._gallery = (time.monotonic(), gallery)
        return gallery

    def _look(self, frame: Frame) -> None:
        gallery = self._current_gallery()
        if gallery is None or not len(gallery):
            return
        rgb = door_rgb(frame)
        if rgb is None:
            return
        result, reading = self._door.identify(rgb, gallery, camera=True)
        now = time.monotonic()
        if result.child_id and self._cooldown.get(result.child_id, 0) > now:
            return
        if result.result == FaceVerdict.MATCH:
            if self._presentation.child_id is None or now - self._seen > AWAY_S:
                self._presentation, self._started = Presentation(), now  # a new visit
            self._seen = now
        result = self._door.follow(self._presentation, result, reading)
        if result.result == FaceVerdict.MATCH and result.child_id is not None:
            self._cooldown[result.child_id] = now + COOLDOWN_S
            self._presentation = Presentation()
            self._kiosk.show(self._door.check_in(result), frame.captured_ns)
        elif result.reason == SpoofSign.NO_BLINK_OR_TURN and self._presentation.child_id:
            if now - self._started > GIVE_UP_S:
                self._cooldown[self._presentation.child_id] = now + COOLDOWN_S
                self._presentation = Presentation()
                self._prompt("face_scan_qr")
            else:
                self._prompt("face_turn")
        elif result.result == FaceVerdict.UNCERTAIN:
            self._prompt("face_scan_qr")

    def _prompt(self, key: str) -> None:
        self._kiosk.events.publish("face", {"prompt": key, "text": say(key)})

    def _collect(self, frame: Frame) -> None:
        enrolment = self._enrolment
        assert enrolment is not None
        rgb = door_rgb(frame)
        ready = enrolment.session.add(rgb) if rgb is not None else False
        if not ready and time.monotonic() < enrolment.deadline:
            return
        try:
            enrolled = enrolment.session.finish()
            line: dict[str, Any] = {"result": DoorResult.ENROLLED, "reason": "face_enrolled",
                                    "child_id": enrolled.child_id,
                                    "template_id": enrolled.template_id}
        except FaceRefused as exc:
            line = {"result": DoorResult.REJECTED, "reason": exc.reason, "message": str(exc)}
        finally:
            with self._lock:
                self._enrolment = None
        self.invalidate()
        self._kiosk.show(line)


def _refusal(reason: str, message: str) -> dict[str, Any]:
    log(logger, "faces.kiosk_refused", logging.WARNING, reason=reason)
    return {"result": DoorResult.REJECTED, "reason": reason, "message": message,
            "text": say(reason)}
