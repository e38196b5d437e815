"""A face at the door: who it is (if the evidence is clear), and the check-in it makes.

Only enrolled children with consent in force are in the gallery. A face that matches nobody
is dropped at once: neither its picture nor its encoding is kept. Anything short of a clear,
live match sends the family to the QR card.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal

import numpy as np

from protocol.events import Method
from qatys.logs import log
from qatys.sentences import Sentence
from terminal.checkin import CheckinRequest, CheckinService, DoorResult
from terminal.errors import CheckinRefused, FaceRefusal, FaceRefused
from terminal.faces.engine import FaceReading, FrameReading, read_live_face
from terminal.faces.liveness import Challenge, Presentation, SpoofSign
from terminal.faces.matching import FaceVerdict, Gallery, identify
from terminal.faces.vault import FaceVault
from terminal.home import Terminal

logger = logging.getLogger("qatys.terminal.faces")



class FaceScanRefusal(StrEnum):
    """Why a face at the door checked nobody in: the family is sent to the QR card
    (docs/cli.md, ``qatys face scan``)."""
    FACE_UNKNOWN = "face_unknown"
    FACE_UNCERTAIN = "face_uncertain"
    FACE_SPOOF = "face_spoof"


REASON_OF_RESULT = {FaceVerdict.UNKNOWN: FaceScanRefusal.FACE_UNKNOWN,
                    FaceVerdict.UNCERTAIN: FaceScanRefusal.FACE_UNCERTAIN,
                    FaceVerdict.SPOOF: FaceScanRefusal.FACE_SPOOF}
"""The refusal reason a check-in line carries for each result short of a match."""


@dataclass(frozen=True)
class FaceResult:
    result: FaceVerdict
    child_id: str | None = None
    distance: float | None = None
    margin: float | None = None
    reason: FrameReading | SpoofSign | Literal[""] = ""
    """Why no face could be used (no_face, too_small, blurred, eyes_closed, several_faces) or
    why it is a spoof (picture_edges, no_blink_or_turn)."""

    def as_json(self) -> dict[str, Any]:
        return {"result": self.result, "child_id": self.child_id, "distance": self.distance,
                "margin": self.margin, "reason": self.reason or None}


class FaceDoor:
    def __init__(self, terminal: Terminal, vault: FaceVault | None = None) -> None:
        self._terminal = terminal
        self.vault = vault or FaceVault(terminal)
        self._checkins = CheckinService(terminal)

    def identify(self, rgb: np.ndarray, gallery: Gallery | None = None, *,
                 camera: bool = False) -> tuple[FaceResult, FaceReading]:
        """One frame: the result, and the reading (its landmarks feed the challenge). The
        frame is zeroed afterwards. ``gallery``: one the caller keeps; ``camera``: a live
        frame, looked at only at its own scale (the kiosk, see engine.find_faces)."""
        if gallery is None:
            gallery = self.vault.gallery()
        if gallery is None:
            raise FaceRefused(FaceRefusal.ROSTER_LOCKED,
                              Sentence("the roster is locked: face check-in works once the "
                                       "terminal has synced or been unlocked"))
        try:
            reading = read_live_face(rgb, only_one=False, thorough=not camera)
            if reading.result == FrameReading.SPOOF:
                return FaceResult(FaceVerdict.SPOOF, reason=SpoofSign.PICTURE_EDGES), reading
            if reading.encoding is None:
                return FaceResult(FaceVerdict.NO_FACE, reason=reading.result), reading
        finally:
            rgb.fill(0)
        match = identify(reading.encoding, gallery)
        reading.encoding.fill(0)  # a stranger's encoding is not kept, nor anyone's
        return FaceResult(match.result, match.child_id, match.distance, match.margin), reading

    def follow(self, presentation: Presentation, result: FaceResult,
               reading: FaceReading) -> FaceResult:
        """Add a frame to the presentation; a match counts only once the same child has
        blinked or turned (a picture held up cannot). A frame without a usable face (blurred,
        eyes shut mid-blink) leaves it as it is; anyone else, or a spoof, starts it again."""
        if result.result == FaceVerdict.NO_FACE:
            if reading.landmarks is not None and presentation.child_id is not None:
                presentation.challenge.add(reading.landmarks)  # the middle of a blink
            return result
        if result.result != FaceVerdict.MATCH or reading.landmarks is None:
            presentation.child_id, presentation.challenge = None, Challenge()
            return result
        if presentation.child_id != result.child_id:
            presentation.child_id, presentation.challenge = result.child_id, Challenge()
        if presentation.challenge.add(reading.landmarks):
            return result
        return FaceResult(FaceVerdict.SPOOF, distance=result.distance, margin=result.margin,
                          reason=SpoofSign.NO_BLINK_OR_TURN)

    def check_in(self, result: FaceResult) -> dict[str, Any]:
        """The check-in line for a result: accepted (after commit) for a match, rejected with
        a reason otherwise, none when there was no face."""
        face = {"distance": result.distance, "margin": result.margin}
        if result.result == FaceVerdict.NO_FACE:
            return {"result": DoorResult.NONE, "reason": result.reason or FrameReading.NO_FACE,
                    **face}
        if result.result != FaceVerdict.MATCH or result.child_id is None:
            reason = REASON_OF_RESULT[result.result]
            log(logger, "faces.scan_refused", logging.WARNING, reason=reason)
            return {"result": DoorResult.REJECTED, "reason": reason,
                    "message": "face not recognised with certainty: please scan the QR card",
                    **face}
        try:
            line = self._checkins.checkin(CheckinRequest(result.child_id, Method.FACE))
        except CheckinRefused as exc:
            return {"result": DoorResult.REJECTED, "reason": exc.reason, "message": str(exc),
                    **face}
        return {**line, **face}
