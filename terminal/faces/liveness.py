"""Is a live face at the door, or a picture of one held up? Two simple, documented checks.

1. *A frame around the face* (one picture): a printed photo or a phone held up shows its
   edges, a right-angled quadrilateral closely around the face that does not reach the
   edge of the camera's view. Found on the shared set's synthetic prints; no false alarm on
   its genuine pictures. A photo held so close that its edges leave the view is not seen.
2. *A challenge over several frames* (the door): a blink, or a turn of the head. A flat
   picture cannot blink, and turning or tilting a flat picture keeps the nose's offset from
   the eyes, measured in eye distances, the same (foreshortening scales both alike), while a
   real head turning changes it. A video of the child played on a phone passes this check;
   docs/face-accuracy.md says so and what that leaves to QR.

Pure numpy over landmarks, plus OpenCV for the frame search; no image is kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from terminal.faces.engine import Box, Landmarks, openness

TURN = 0.10
"""Change of the nose's offset (in eye distances) between frames that counts as a turn."""
EYES_CLOSED = 0.16
EYES_OPEN = 0.22
"""A blink: eye openness below EYES_CLOSED in one frame, above EYES_OPEN before and after."""
FRAME_NEAR = (4.5, 5.0)
"""A picture's edge counts only within this many face widths and heights around the face."""
FRAME_MAX_COS = 0.3
"""Corners of a held-up picture are near right angles (cosine below this)."""


def nose_offset(marks: Landmarks) -> float:
    """Where the nose tip sits along the line between the eyes, from their midpoint, in eye
    distances: about 0 facing the camera, ±0.2 for a head turned by some 20°."""
    left = np.mean(np.asarray(marks["left_eye"], dtype=float), axis=0)
    right = np.mean(np.asarray(marks["right_eye"], dtype=float), axis=0)
    nose = np.asarray(marks["nose_bridge"][-1], dtype=float)
    across = right - left
    distance = float(np.linalg.norm(across)) + 1e-9
    return float(np.dot(nose - (left + right) / 2, across / distance) / distance)


@dataclass
class Challenge:
    """Watches the frames of one face at the door until it blinks or turns."""

    samples: list[tuple[float, float]] = field(default_factory=list)
    """(eye openness, nose offset) of each frame so far."""

    def add(self, marks: Landmarks) -> bool:
        self.samples.append((openness(marks), nose_offset(marks)))
        return self.passed

    @property
    def passed(self) -> bool:
        return self.turned or self.blinked

    @property
    def turned(self) -> bool:
        offsets = [offset for _, offset in self.samples]
        return len(offsets) > 1 and max(offsets) - min(offsets) >= TURN

    @property
    def blinked(self) -> bool:
        eyes = [o for o, _ in self.samples]
        for i, value in enumerate(eyes):
            if value < EYES_CLOSED and any(v > EYES_OPEN for v in eyes[:i]) \
                    and any(v > EYES_OPEN for v in eyes[i + 1:]):
                return True
        return False


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
