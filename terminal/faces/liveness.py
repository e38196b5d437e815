"""Is a live face at the door, or a picture of one held up? Two simple, documented checks.

1. *A frame around the face* (one picture): a printed photo or a phone held up shows its
   edges, a right-angled quadrilateral closely around the face that does not reach the
   edge of the camera's view. Found on the shared set's synthetic prints; no false alarm on
   its genuine pictures. A photo held so close that its edges leave the view is not seen.
2. *A challenge over several frames* (the door): the child turns the head a little, or
   blinks. Every view of a flat picture, however it is turned, tilted or moved, is one
   perspective mapping (a homography) of any other view, so its 68
   landmarks in one frame follow from those in another up to the detector's noise. A real
   head turning shows parallax (the nose, the chin and the ears lie at other depths than the
   eyes), a blink or a change of expression moves points on their own: neither fits one
   homography. A video of the child played on a phone passes this check, and so may a
   print turned to a steep angle; docs/face-accuracy.md gives the figures and what that
   leaves to QR.

Pure numpy over landmarks, plus OpenCV for the frame search; no image is kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

import cv2
import numpy as np

from terminal.faces.landmarks import Box, Landmarks, openness

PARALLAX = 0.07
"""Mean landmark distance (in eye distances) left after the best homography between two
frames: on the shared set, prints turned up to ~45°, moved or tilted stay at or below 0.065,
real changes of pose reach 0.072-0.165 (docs/face-accuracy.md)."""
BLINK = 0.6
"""A blink: in one frame the eyes are open less than this share of how open they were
both before and after (eyes differ from child to child, so the measure is relative)."""
FRAME_NEAR = (4.5, 5.0)
"""A picture's edge counts only within this many face widths and heights around the face."""
FRAME_MAX_COS = 0.3
"""Corners of a held-up picture are near right angles (cosine below this)."""


class SpoofSign(StrEnum):
    """What gave a spoof away (``terminal.faces.door.FaceResult.reason``)."""
    PICTURE_EDGES = "picture_edges"
    """The frame shows a printed picture's or a screen's edges."""
    NO_BLINK_OR_TURN = "no_blink_or_turn"
    """The matched face neither blinked nor turned (yet): a picture held up cannot."""


def _points(marks: Landmarks) -> np.ndarray:
    return np.asarray([p for feature in sorted(marks) for p in marks[feature]],
                      dtype=np.float32)


def _eye_distance(marks: Landmarks) -> float:
    left = np.mean(np.asarray(marks["left_eye"], dtype=float), axis=0)
    right = np.mean(np.asarray(marks["right_eye"], dtype=float), axis=0)
    return float(np.linalg.norm(right - left)) + 1e-9


def not_flat(first: Landmarks, second: Landmarks) -> float:
    """How badly one homography explains the move of the landmarks from one frame to the
    other: the mean distance left, in eye distances (0 for two views of a flat picture,
    up to detector noise)."""
    a, b = _points(first), _points(second)
    if len(a) != len(b) or len(a) < 8:
        return 0.0
    homography, _ = cv2.findHomography(a, b, 0)
    if homography is None:
        return 0.0
    mapped = cv2.perspectiveTransform(a.reshape(-1, 1, 2), homography).reshape(-1, 2)
    return float(np.mean(np.linalg.norm(mapped - b, axis=1))) / _eye_distance(second)


@dataclass
class Challenge:
    """Watches the frames of one face at the door until it turns or blinks."""

    frames: list[Landmarks] = field(default_factory=list)
    eyes: list[float] = field(default_factory=list)
    parallax: float = 0.0
    """The largest departure from a flat picture seen between two frames so far."""
    keep: int = 12

    def add(self, marks: Landmarks) -> bool:
        for earlier in self.frames:
            self.parallax = max(self.parallax, not_flat(earlier, marks))
        self.frames = [*self.frames, marks][-self.keep:]
        self.eyes.append(openness(marks))
        return self.passed

    @property
    def passed(self) -> bool:
        return self.turned or self.blinked

    @property
    def turned(self) -> bool:
        return self.parallax >= PARALLAX

    @property
    def blinked(self) -> bool:
        eyes = self.eyes
        return any(value < BLINK * min(max(eyes[:i]), max(eyes[i + 1:]))
                   for i, value in enumerate(eyes[1:-1], start=1))


_DILATE = np.ones((3, 3), dtype=np.uint8)


def _angle_cos(a: np.ndarray, corner: np.ndarray, b: np.ndarray) -> float:
    d1, d2 = (a - corner).astype(float), (b - corner).astype(float)
    return float(abs(np.dot(d1, d2)) / (np.linalg.norm(d1) * np.linalg.norm(d2) + 1e-9))


def _quadrilaterals(rgb: np.ndarray) -> list[np.ndarray]:
    """Right-angled convex quadrilaterals among the picture's edges and bright/dark areas,
    searched in each colour channel (a white print on a pale wall differs in some)."""
    found = []
    for channel in cv2.split(cv2.GaussianBlur(rgb, (5, 5), 0)):
        masks = [cv2.dilate(cv2.Canny(channel, 0, 50, apertureSize=5), _DILATE)]
        masks += [cv2.threshold(channel, level, 255, cv2.THRESH_BINARY)[1]
                  for level in (64, 128, 192)]
        for mask in masks:
            contours, _ = cv2.findContours(mask, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
            for contour in contours:
                poly = cv2.approxPolyDP(contour, 0.02 * cv2.arcLength(contour, True), True)
                if len(poly) != 4 or not cv2.isContourConvex(poly) \
                        or cv2.contourArea(poly) < 1000:
                    continue
                p = poly.reshape(-1, 2)
                if max(_angle_cos(p[i], p[(i + 1) % 4], p[(i + 2) % 4])
                       for i in range(4)) < FRAME_MAX_COS:
                    found.append(poly)
    return found


def held_up_picture(rgb: np.ndarray, box: Box) -> bool:
    """True when the face sits inside the edges of something held up (a print, a phone)."""
    top, right, bottom, left = box
    width, height = right - left, bottom - top
    x0, y0 = max(0, left - 3 * width), max(0, top - 3 * height)
    x1, y1 = min(rgb.shape[1], right + 3 * width), min(rgb.shape[0], bottom + 3 * height)
    crop = np.ascontiguousarray(rgb[y0:y1, x0:x1])
    margin_x, margin_y = 0.1 * width, 0.1 * height
    corners = [(left - margin_x - x0, top - margin_y - y0), (right + margin_x - x0,
               top - margin_y - y0), (left - margin_x - x0, bottom + margin_y - y0),
               (right + margin_x - x0, bottom + margin_y - y0)]
    for poly in _quadrilaterals(crop):
        x, y, w, h = cv2.boundingRect(poly)
        if x <= 3 or y <= 3 or x + w >= crop.shape[1] - 3 or y + h >= crop.shape[0] - 3:
            continue  # reaches the edge of the view: a door, a wall, the picture itself
        if w > FRAME_NEAR[0] * width or h > FRAME_NEAR[1] * height:
            continue
        if all(cv2.pointPolygonTest(poly, (float(cx), float(cy)), False) > 0
               for cx, cy in corners):
            return True
    return False


@dataclass
class Presentation:
    """The frames of one person at the door, for the turn-or-blink challenge."""

    child_id: str | None = None
    challenge: Challenge = field(default_factory=Challenge)
