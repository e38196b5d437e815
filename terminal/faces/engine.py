"""Faces in a picture: find them, check they are good enough, turn one into an encoding.

Uses face_recognition (dlib's HOG detector, 68-point landmarks and its 128-d ResNet
encoder). Pictures stay in memory; the caller drops them after encoding.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from types import ModuleType

import cv2
import numpy as np
from PIL import Image

from terminal.faces.landmarks import Box, Landmarks, openness
from terminal.faces.liveness import held_up_picture


def _import_face_recognition() -> ModuleType:
    """face_recognition, or an ImportError that says why not. When its models package does not
    import, the library prints a line and quits the process, which would end a selfcheck (and
    an update's readiness check) or the door without a word. The models package finds its
    files through setuptools' pkg_resources (gone from setuptools 82, so pyproject.toml pins
    below it) and warns at each start that pkg_resources is deprecated: known, not logged."""
    said = io.StringIO()
    try:
        with contextlib.redirect_stdout(said), warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="pkg_resources is deprecated",
                                    category=UserWarning)
            import face_recognition
    except SystemExit:
        raise ImportError("face_recognition's models do not load: "
                          f"{said.getvalue().strip()}") from None
    module: ModuleType = face_recognition
    return module


face_recognition = _import_face_recognition()

MAX_SIDE = 1280
"""Larger pictures are scaled down first: a door camera gives 640×480, photos are bigger."""
MAX_FILE_BYTES = 30 << 20
"""A bigger file is refused before it is decoded."""
MIN_FACE_PX = 80
"""A face smaller than this (height) is too far from the camera to enrol or identify."""
MIN_SHARPNESS = 15.0
"""Variance of the Laplacian of the face crop scaled to 150 px high; below it, too blurred."""
MIN_EYE_OPENNESS = 0.13
"""Eye aspect ratio (height over width of the eye outline); below it the eyes are shut."""




class FrameReading(StrEnum):
    """What one picture or camera frame showed: a usable face, or why not (an enrolment's
    ``frames``, docs/faces.md; the door's ``reason`` for ``no_face``)."""
    OK = "ok"
    NO_FACE = "no_face"
    SEVERAL_FACES = "several_faces"
    TOO_SMALL = "too_small"
    BLURRED = "blurred"
    PARTIAL = "partial"
    """Part of the face is out of the picture."""
    EYES_CLOSED = "eyes_closed"
    SPOOF = "spoof"
    """A face inside the edges of a held-up print or phone."""


@dataclass(frozen=True)
class FaceReading:
    result: FrameReading
    box: Box | None = None
    encoding: np.ndarray | None = None
    landmarks: Landmarks | None = None


def load_rgb(path: Path) -> np.ndarray:
    """A picture file as 8-bit RGB, scaled so its longer side is at most MAX_SIDE;
    ValueError naming the file when it is too large or not a picture."""
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise ValueError(f"{path.name} is larger than {MAX_FILE_BYTES >> 20} MB")
        rgb = face_recognition.load_image_file(str(path), mode="RGB")
    except (OSError, Image.DecompressionBombError) as exc:
        raise ValueError(f"{path.name} is not a readable picture") from exc
    scale = MAX_SIDE / max(rgb.shape[:2])
    if scale < 1:
        rgb = cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(rgb)


def _blurred(rgb: np.ndarray, box: Box) -> bool:
    top, right, bottom, left = box
    crop = cv2.cvtColor(rgb[max(0, top):bottom, max(0, left):right], cv2.COLOR_RGB2GRAY)
    crop = cv2.resize(crop, (max(1, crop.shape[1] * 150 // crop.shape[0]), 150),
                      interpolation=cv2.INTER_AREA)
    return bool(cv2.Laplacian(crop, cv2.CV_64F).var() < MIN_SHARPNESS)


def find_faces(rgb: np.ndarray, *, thorough: bool = True) -> list[Box]:
    """Face boxes. The HOG detector at the picture's own scale finds every face of at least
    80 px (the smallest Qatys uses) in a quarter of the time the doubled scale takes, so the
    door looks only there; ``thorough`` (pictures) also looks at double scale when nothing was
    found, to tell a face too far away from no face at all."""
    boxes = face_recognition.face_locations(rgb, number_of_times_to_upsample=0, model="hog")
    if not boxes and thorough:
        boxes = face_recognition.face_locations(rgb, number_of_times_to_upsample=1,
                                                model="hog")
    return list(boxes)


def read_face(rgb: np.ndarray, *, only_one: bool, thorough: bool = True) -> FaceReading:
    """The encoding of the face in the picture. ``only_one`` (enrolment) refuses pictures
    with several faces; identification takes the largest face (the one at the door).
    ``thorough``: see :func:`find_faces` (the kiosk's camera frames pass False)."""
    boxes = find_faces(rgb, thorough=thorough)
    if not boxes:
        return FaceReading(FrameReading.NO_FACE)
    if only_one and len(boxes) > 1:
        return FaceReading(FrameReading.SEVERAL_FACES)
    box = max(boxes, key=lambda b: (b[2] - b[0]) * (b[1] - b[3]))
    if box[2] - box[0] < MIN_FACE_PX:
        return FaceReading(FrameReading.TOO_SMALL, box)
    if _blurred(rgb, box):
        return FaceReading(FrameReading.BLURRED, box)
    marks = face_recognition.face_landmarks(rgb, [box])[0]
    height, width = rgb.shape[:2]
    if any(not (0 <= x < width and 0 <= y < height) for points in marks.values()
           for x, y in points):
        return FaceReading(FrameReading.PARTIAL, box)
    if openness(marks) < MIN_EYE_OPENNESS:
        return FaceReading(FrameReading.EYES_CLOSED, box, landmarks=marks)
    encoding = face_recognition.face_encodings(rgb, [box], num_jitters=1, model="small")[0]
    return FaceReading(FrameReading.OK, box, np.asarray(encoding, dtype=np.float64), marks)


def read_live_face(rgb: np.ndarray, *, only_one: bool, thorough: bool = True) -> FaceReading:
    """:func:`read_face`, with a face inside the edges of a held-up print or phone turned into
    ``spoof`` (its encoding dropped): what enrolment and the door both go by."""
    reading = read_face(rgb, only_one=only_one, thorough=thorough)
    if (reading.result == FrameReading.OK and reading.box is not None
            and held_up_picture(rgb, reading.box)):
        return FaceReading(FrameReading.SPOOF, reading.box)
    return reading
