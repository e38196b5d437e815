"""``qatys face …``: enrol, identify, check in and withdraw by face on a terminal (``--home``).

Thin over :mod:`terminal.faces`: each picture is read into memory, used and zeroed; nothing
of it is written. One JSON line per picture (or per command); refusals exit 2.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from qatys.cliutil import EXIT_BAD_INPUT, emit
from qatys.logs import log
from terminal.checkin import DoorResult
from terminal.cli import opened
from terminal.errors import CheckinRefusal, FaceRefused
from terminal.faces.door import FaceDoor, FaceResult
from terminal.faces.engine import load_rgb
from terminal.faces.enrolment import enrol_face
from terminal.faces.liveness import Presentation
from terminal.faces.matching import FaceVerdict
from terminal.faces.vault import FaceVault
from terminal.faces.withdrawal import withdraw_here
from terminal.scan import ScanRefusal

logger = logging.getLogger("qatys.terminal.faces")


def _pictures(images: tuple[Path, ...]) -> Iterator[tuple[Path, np.ndarray | None, str]]:
    for image in images:
        try:
            yield image, load_rgb(image), ""
        except ValueError as exc:
            yield image, None, str(exc)


def enroll_command(home: Path, child_id: str, images: tuple[Path, ...],
                   liveness: bool) -> None:
    """One JSON line: enrolled (template id, encodings kept, each picture's verdict) or
    rejected with a reason; exit 2 when refused."""
    with opened(home) as terminal:
        vault = FaceVault(terminal)
        frames, verdicts = [], []
        for image, rgb, problem in _pictures(images):
            if rgb is None:
                emit({"result": DoorResult.REJECTED, "reason": ScanRefusal.UNREADABLE_IMAGE,
                      "message": problem, "image": str(image)})
                raise SystemExit(EXIT_BAD_INPUT)
            frames.append(rgb)
            verdicts.append(str(image))
        try:
            enrolled = enrol_face(terminal, vault, child_id, frames, require_liveness=liveness)
        except FaceRefused as exc:
            emit({"result": DoorResult.REJECTED, "reason": exc.reason, "message": str(exc),
                  "child_id": child_id,
                  "frames": [{"image": i, "verdict": v} for i, v in zip(verdicts, exc.frames,
                                                                        strict=False)]})
            raise SystemExit(exc.exit_code) from None
    emit({"result": DoorResult.ENROLLED, "child_id": enrolled.child_id,
          "template_id": enrolled.template_id, "encodings": enrolled.encodings,
          "consent_record": enrolled.consent_record,
          "frames": [{"image": i, "verdict": v} for i, v in zip(verdicts, enrolled.frames,
                                                                strict=True)]})


def _results(door: FaceDoor, images: tuple[Path, ...],
             sequence: bool) -> Iterator[tuple[Path, FaceResult | None, str]]:
    """Each picture's result; with ``sequence`` the pictures are frames of one person at
    the door and a match needs a blink or a turn across them, as at the kiosk."""
    presentation = Presentation()
    for image, rgb, problem in _pictures(images):
        if rgb is None:
            yield image, None, problem
            continue
        result, reading = door.identify(rgb)
        if sequence:
            result = door.follow(presentation, result, reading)
        yield image, result, ""


def identify_command(home: Path, images: tuple[Path, ...], sequence: bool) -> None:
    """One JSON line per picture: {image, result, child_id, distance, margin, reason};
    exit 2 when a picture is unreadable or the roster is locked."""
    failed = False
    with opened(home) as terminal:
        door = FaceDoor(terminal)
        try:
            for image, result, problem in _results(door, images, sequence):
                if result is None:
                    failed = True
                    emit({"image": str(image), "result": FaceVerdict.NO_FACE, "child_id": None,
                          "distance": None, "margin": None, "reason": ScanRefusal.UNREADABLE_IMAGE,
                          "message": problem})
                    continue
                log(logger, "faces.identified", result=result.result)
                emit({"image": str(image), **result.as_json()})
        except FaceRefused as exc:
            emit({"result": DoorResult.REJECTED, "reason": exc.reason, "message": str(exc)})
            raise SystemExit(exc.exit_code) from None
    if failed:
        raise SystemExit(EXIT_BAD_INPUT)


SCAN_FIELDS = ("event_id", "child_id", "direction", "reason", "distance", "margin")


def scan_command(home: Path, images: tuple[Path, ...], sequence: bool) -> None:
    """Check in by face from pictures, as the camera would: one JSON line per picture, each
    accepted line only after its commit; exit 0 when nothing was refused, 2 otherwise (4 when
    the terminal was revoked)."""
    exit_code = 0
    with opened(home) as terminal:
        door = FaceDoor(terminal)
        try:
            for image, result, problem in _results(door, images, sequence):
                line: dict[str, Any]
                if result is None:
                    line = {"result": DoorResult.REJECTED, "reason": ScanRefusal.UNREADABLE_IMAGE,
                            "message": problem}
                else:
                    line = door.check_in(result)
                if line["result"] == DoorResult.REJECTED:
                    revoked = line["reason"] == CheckinRefusal.TERMINAL_REVOKED
                    exit_code = max(exit_code, 4 if revoked else EXIT_BAD_INPUT)
                emit({"image": str(image), **{k: None for k in SCAN_FIELDS}, **line})
        except FaceRefused as exc:
            emit({"result": DoorResult.REJECTED, "reason": exc.reason, "message": str(exc)})
            raise SystemExit(exc.exit_code) from None
    if exit_code:
        raise SystemExit(exit_code)


def withdraw_command(home: Path, child_id: str, by: str) -> None:
    """Erase the child's templates on this terminal now and queue the withdrawal for the
    consent ledger; one JSON line (exit 2 when refused)."""
    with opened(home) as terminal:
        try:
            emit(withdraw_here(terminal, FaceVault(terminal), child_id, by))
        except FaceRefused as exc:
            emit({"result": DoorResult.REJECTED, "reason": exc.reason, "message": str(exc)})
            raise SystemExit(exc.exit_code) from None


def list_command(home: Path) -> None:
    """The templates on this terminal, one JSON line each: template id, whether the server
    has it and, while the roster is unlocked, the child and the consent record."""
    with opened(home) as terminal:
        vault = FaceVault(terminal)
        opened_by_id = {t.template_id: t for t in vault.templates() or []}
        for row in vault.stored():
            template = opened_by_id.get(row.template_id)
            emit({"template_id": row.template_id, "key_id": row.key_id,
                  "uploaded": row.uploaded,
                  "child_id": template.child_id if template else None,
                  "consent_record": template.consent_record if template else None,
                  "encodings": template.count if template else None})
