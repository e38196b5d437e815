"""Face boxes and landmarks as plain data, and what is measured on them (pure numpy).

Kept apart from the engine so that the kiosk and the liveness rules can use them without
loading dlib and its models (they load only once a child is enrolled, see face_watch).
"""

from __future__ import annotations

import numpy as np

Box = tuple[int, int, int, int]
"""top, right, bottom, left in pixels, as face_recognition gives them."""

Landmarks = dict[str, list[tuple[int, int]]]
"""dlib's 68 points by feature (left_eye, nose_bridge, …), as face_recognition names them."""


def eye_openness(points: list[tuple[int, int]]) -> float:
    """Height over width of one eye's six-point outline (the eye aspect ratio)."""
    p = np.asarray(points, dtype=float)
    height = np.linalg.norm(p[1] - p[5]) + np.linalg.norm(p[2] - p[4])
    return float(height / (2 * np.linalg.norm(p[0] - p[3]) + 1e-9))


def openness(marks: Landmarks) -> float:
    """The less open of the two eyes."""
    return min(eye_openness(marks["left_eye"]), eye_openness(marks["right_eye"]))
