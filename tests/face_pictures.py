"""Pictures for face tests and benchmarks, made from the shared public images: a photo held
up at the door (a print with a white border, a phone with a dark bezel, tilted), and a flat
photo turned about its vertical axis (what a print does in a hand)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from terminal.faces.engine import load_rgb
from tests.helpers import SHARED_TESTDATA

FACES = SHARED_TESTDATA / "faces"
FR = FACES / "face_recognition"
BACKGROUND = FACES / "dlib" / "examples__faces__dogs.jpg"
"""No person in it: the room behind the held-up picture."""


def held_up(face: np.ndarray, *, bezel: tuple[int, int, int] = (255, 255, 255),
            border: int = 14, tilt: float = 0.0, size: tuple[int, int] = (260, 320),
            at: tuple[int, int] = (180, 80)) -> np.ndarray:
    """A 640×480 camera frame: ``face`` printed (or on a screen) with a border, held up in
    front of a background, optionally tilted (``tilt``: fraction of its width)."""
    frame = cv2.resize(load_rgb(BACKGROUND), (640, 480))
    card = cv2.resize(face, (size[0] - 2 * border, size[1] - 2 * border))
    card = cv2.copyMakeBorder(card, border, border, border, border, cv2.BORDER_CONSTANT,
                              value=bezel)
    h, w = card.shape[:2]
    d = tilt * w
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    dst = np.float32([[at[0] + d, at[1]], [at[0] + w - d, at[1] + d],
                      [at[0] + w - d, at[1] + h - d], [at[0] + d, at[1] + h]])
    matrix = cv2.getPerspectiveTransform(src, dst)
    warped = cv2.warpPerspective(card, matrix, (640, 480))
    mask = cv2.warpPerspective(np.ones((h, w), np.uint8), matrix, (640, 480))
    frame[mask > 0] = warped[mask > 0]
    return frame


def turned_print(face: np.ndarray, squeeze: float) -> np.ndarray:
    """A flat photo turned about its vertical axis: narrower, one side nearer (perspective),
    filling the view so that no edge shows."""
    h, w = face.shape[:2]
    d = squeeze * w
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    dst = np.float32([[d, 0], [w - d, d * 0.3], [w - d, h - d * 0.3], [d, h]])
    return cv2.warpPerspective(face, cv2.getPerspectiveTransform(src, dst), (w, h),
                               borderMode=cv2.BORDER_REPLICATE)


def save(rgb: np.ndarray, path: Path) -> Path:
    cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    return path
