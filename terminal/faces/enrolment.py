"""Enrolling a child's face at the terminal: only with consent in force, only good frames.

Staff start it for one child; the terminal refuses, and says why, unless the roster shows a
consent granted for that child and not run out. Each frame must hold exactly one face,
large, sharp, eyes open, not inside the edges of a held-up picture; the usable frames must
all be the same person and nobody else already enrolled. Frames are zeroed once encoded;
nothing of them is written anywhere.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from protocol.roster import ConsentStatus
from qatys.logs import log
from qatys.sentences import Sentence
from qatys.timeutil import local_date, now_us
from terminal.consent.state import TerminalConsent, consent_of
from terminal.errors import FaceRefusal, FaceRefused
from terminal.faces.engine import FrameReading, read_live_face
from terminal.faces.landmarks import Landmarks
from terminal.faces.liveness import Challenge
from terminal.faces.matching import THRESHOLD
from terminal.faces.vault import FaceVault
from terminal.home import Terminal

logger = logging.getLogger("qatys.terminal.faces")

KEEP_ENCODINGS = 5
"""At most this many encodings per template: the frames nearest the child's average face."""
READY_FRAMES = 5
"""The kiosk finishes an enrolment once this many good frames are in and it saw liveness."""
CONSENT_REFUSAL = {
    ConsentStatus.NONE: FaceRefusal.NO_CONSENT,
    ConsentStatus.WITHDRAWN: FaceRefusal.CONSENT_WITHDRAWN,
    ConsentStatus.EXPIRED: FaceRefusal.CONSENT_EXPIRED,
}
"""The refusal for each consent status that does not allow enrolment (every one but granted)."""


@dataclass(frozen=True)
class Enrolled:
    child_id: str
    template_id: str
    encodings: int
    consent_record: int
    frames: list[FrameReading] = field(default_factory=list)
    """What each frame was: ok, or why it was not used (no_face, blurred, spoof, …)."""


def consent_for_enrolment(terminal: Terminal, vault: FaceVault,
                          child_id: str) -> TerminalConsent:
    """The child's consent if it allows enrolment now; otherwise :class:`FaceRefused`."""
    entries = terminal.roster_entries()
    if entries is None:
        raise FaceRefused(FaceRefusal.ROSTER_LOCKED,
                          Sentence("the roster is locked: sync with the server or unlock with a "
                                   "director's card, so the consent can be checked"))
    entry = next((e for e in entries if e.child_id == child_id), None)
    if entry is None:
        raise FaceRefused(FaceRefusal.UNKNOWN_CHILD,
                          Sentence("this child is not on the kindergarten's roster"))
    consent = consent_of(entry, local_date(now_us(), terminal.config.zone))
    if vault.withdrawal_pending(child_id):
        raise FaceRefused(FaceRefusal.CONSENT_WITHDRAWN,
                          Sentence("the consent was withdrawn at this terminal; a parent must "
                                   "give it again before enrolment"))
    if consent.status == ConsentStatus.NONE:
        raise FaceRefused(FaceRefusal.NO_CONSENT,
                          Sentence("there is no consent to face check-in for this child: a parent "
                                   "gives it on the phone or on a paper form"))
    if consent.status != ConsentStatus.GRANTED:
        raise FaceRefused(CONSENT_REFUSAL[consent.status], _not_in_force(consent.status))
    return consent


def frame_verdict(rgb: np.ndarray, *, camera: bool = False
                  ) -> tuple[FrameReading, np.ndarray | None, Landmarks | None]:
    """(ok or the problem, the encoding, the landmarks) of one enrolment frame."""
    reading = read_live_face(rgb, only_one=True, thorough=not camera)
    return reading.result, reading.encoding, reading.landmarks  # landmarks also mid-blink


class EnrolmentSession:
    """One enrolment, frame by frame (the kiosk's camera) or from pictures (the CLI)."""

    def __init__(self, terminal: Terminal, vault: FaceVault, child_id: str, *,
                 require_liveness: bool, camera: bool = False) -> None:
        self._terminal, self._vault, self.child_id = terminal, vault, child_id
        self.consent = consent_for_enrolment(terminal, vault, child_id)
        self._require_liveness = require_liveness
        self._camera = camera
        self.verdicts: list[FrameReading] = []
        self._encodings: list[np.ndarray] = []
        self._challenge = Challenge()

    def add(self, rgb: np.ndarray) -> bool:
        """Read one frame (zeroed afterwards); True once there is enough to finish."""
        verdict, encoding, marks = frame_verdict(rgb, camera=self._camera)
        rgb.fill(0)  # the frame is not needed any more: leave nothing of it in memory
        self.verdicts.append(verdict)
        if marks is not None:
            self._challenge.add(marks)
        if encoding is not None:
            self._encodings.append(encoding)
        return len(self._encodings) >= READY_FRAMES and (
            self._challenge.passed or not self._require_liveness)

    def finish(self) -> Enrolled:
        """Keep one template from the good frames; :class:`FaceRefused` says why not."""
        encodings, verdicts = self._encodings, self.verdicts
        try:
            if not encodings:
                raise _refused(FaceRefusal.NO_USABLE_FRAME,
                               Sentence("no picture showed exactly one face, large, sharp and "
                                        "with eyes open: %(verdicts)s",
                                        verdicts=", ".join(verdicts)), verdicts)
            if any(np.linalg.norm(a - b) >= THRESHOLD
                   for a, b in itertools.combinations(encodings, 2)):
                raise _refused(FaceRefusal.SEVERAL_PEOPLE,
                               Sentence("the pictures do not all show the same person"), verdicts)
            if self._require_liveness and not self._challenge.passed:
                raise _refused(FaceRefusal.NO_LIVENESS,
                               Sentence("no blink or head turn was seen: a live child must look "
                                        "at the camera"), verdicts)
            _refuse_lookalike(self._vault, self.child_id, encodings, verdicts)
            kept = _nearest_to_mean(encodings, KEEP_ENCODINGS)
            template_id = self._vault.add(self.child_id, self.consent.record, kept)
        finally:
            for encoding in encodings:
                encoding.fill(0)
        log(logger, "faces.enrolled", template=template_id, encodings=len(kept),
            frames=len(verdicts))
        return Enrolled(self.child_id, template_id, len(kept), self.consent.record, verdicts)


def enrol_face(terminal: Terminal, vault: FaceVault, child_id: str,
               frames: Iterable[np.ndarray], *, require_liveness: bool) -> Enrolled:
    """Check consent, read the frames, keep one template; :class:`FaceRefused` otherwise.

    ``require_liveness`` (the camera at the kiosk) asks for a blink or head turn across the
    frames; single pictures given on the command line cannot show one.
    """
    session = EnrolmentSession(terminal, vault, child_id, require_liveness=require_liveness)
    for rgb in frames:
        session.add(rgb)
    return session.finish()


def _refuse_lookalike(vault: FaceVault, child_id: str, encodings: list[np.ndarray],
                      verdicts: list[FrameReading]) -> None:
    """Another enrolled child this near would be confused with this one at the door."""
    gallery = vault.gallery()
    if gallery is None or not len(gallery):
        return
    others = [i for i, c in enumerate(gallery.children) if c != child_id]
    if not others:
        return
    nearest = min(float(gallery.nearest(e)[others].min()) for e in encodings)
    if nearest < THRESHOLD:
        raise _refused(FaceRefusal.LOOKS_LIKE_ANOTHER_CHILD,
                       Sentence("this face is too near another enrolled child's: the door could "
                                "confuse them, so this child uses QR"), verdicts)


def _nearest_to_mean(encodings: list[np.ndarray], keep: int) -> list[np.ndarray]:
    mean = np.mean(encodings, axis=0)
    return sorted(encodings, key=lambda e: float(np.linalg.norm(e - mean)))[:keep]


def _not_in_force(status: ConsentStatus) -> Sentence:
    if status == ConsentStatus.EXPIRED:
        return Sentence("the consent to face check-in has expired: a parent must give it again "
                        "before enrolment")
    return Sentence("the consent to face check-in was withdrawn: a parent must give it again "
                    "before enrolment")


def _refused(reason: FaceRefusal, message: Sentence, verdicts: list[FrameReading]) -> FaceRefused:
    log(logger, "faces.enrol_refused", logging.WARNING, reason=reason, frames=len(verdicts))
    return FaceRefused(reason, message, verdicts)
