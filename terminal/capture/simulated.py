"""Simulated door-camera frames of a printed card or a phone screen (OpenCV, seeded).

Each condition takes a clean picture of a card and returns a 1280×720 grayscale
frame as the kiosk camera might see it: the card held at an angle, in dawn
light, behind a scratched sleeve with glare, moving, compressed, or shown on a
phone screen with moiré. The simulated camera of `make run`, the tests and
`make bench` are made of these.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

FRAME_W, FRAME_H = 1280, 720
Picture = np.ndarray


def place(card: Picture, rng: np.random.Generator, width: int = 420, tilt: float = 0.0,
          background: int = 120) -> Picture:
    """The card, `width` pixels wide, somewhere in a frame, its corners moved by `tilt`."""
    return placed(card, rng, width, tilt, background)[0]


def placed(card: Picture, rng: np.random.Generator, width: int = 420, tilt: float = 0.0,
           background: int = 120) -> tuple[Picture, np.ndarray]:
    """Like :func:`place`, with the card's four corners in the frame."""
    h, w = card.shape[:2]
    height = int(width * h / w)
    x = int(rng.integers(80, FRAME_W - width - 80))
    y = int(rng.integers(40, max(41, FRAME_H - height - 40)))
    src = np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=np.float32)
    jitter = rng.uniform(-tilt, tilt, size=(4, 2)) * np.array([width, height])
    dst = (np.array([[x, y], [x + width, y], [x + width, y + height], [x, y + height]])
           + jitter).astype(np.float32)
    matrix = cv2.getPerspectiveTransform(src, dst)
    frame = np.full((FRAME_H, FRAME_W), background, dtype=np.uint8)
    noise = rng.normal(0, 6, size=frame.shape)
    frame = np.clip(frame + noise, 0, 255).astype(np.uint8)
    return np.asarray(cv2.warpPerspective(card, matrix, (FRAME_W, FRAME_H), dst=frame,
                                          borderMode=cv2.BORDER_TRANSPARENT)), dst


def straight(card: Picture, rng: np.random.Generator) -> Picture:
    return place(card, rng)


def perspective(card: Picture, rng: np.random.Generator) -> Picture:
    return place(card, rng, tilt=0.12)


def far_and_small(card: Picture, rng: np.random.Generator) -> Picture:
    return place(card, rng, width=300)


def dawn_light(card: Picture, rng: np.random.Generator) -> Picture:
    frame: np.ndarray = place(card, rng, background=40).astype(np.float32)
    frame = frame * 0.25 + rng.normal(0, 4, size=frame.shape)
    return np.clip(frame, 0, 255).astype(np.uint8)


def glare_through_sleeve(card: Picture, rng: np.random.Generator) -> Picture:
    picture, corners = placed(card, rng)
    frame = picture.astype(np.float32)
    yy, xx = np.mgrid[0:FRAME_H, 0:FRAME_W]
    cx, cy = corners.mean(axis=0) + rng.uniform(-120, 120, size=2)  # on or beside the card
    frame += 110 * np.exp(-(((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * 60.0 ** 2)))
    for _ in range(25):  # scratches on the plastic
        p1 = (int(rng.integers(0, FRAME_W)), int(rng.integers(0, FRAME_H)))
        p2 = (p1[0] + int(rng.integers(-200, 200)), p1[1] + int(rng.integers(-60, 60)))
        cv2.line(frame, p1, p2, 230.0, 1)
    return np.clip(frame, 0, 255).astype(np.uint8)


def motion_blur(card: Picture, rng: np.random.Generator) -> Picture:
    kernel = np.zeros((5, 5), dtype=np.float32)
    kernel[2, :] = 1 / 5  # a card moving by most of a module during the exposure
    return np.asarray(cv2.filter2D(place(card, rng), -1, kernel))


def jpeg(card: Picture, rng: np.random.Generator) -> Picture:
    ok, data = cv2.imencode(".jpg", place(card, rng, tilt=0.05),
                            [cv2.IMWRITE_JPEG_QUALITY, 35])
    assert ok
    return np.asarray(cv2.imdecode(data, cv2.IMREAD_GRAYSCALE))


def phone_screen(card: Picture, rng: np.random.Generator) -> Picture:
    """A dark phone screen: low contrast, a pixel grid (moiré) and a reflection."""
    frame = place(card, rng, background=25).astype(np.float32)
    frame = 30 + frame * 0.45
    frame[::3, :] *= 0.8
    frame[:, ::3] *= 0.85
    frame += np.linspace(0, 40, FRAME_W)[None, :]
    return np.clip(frame + rng.normal(0, 5, size=frame.shape), 0, 255).astype(np.uint8)


CONDITIONS: dict[str, Callable[[Picture, np.random.Generator], Picture]] = {
    "straight": straight, "perspective": perspective, "far_and_small": far_and_small,
    "dawn_light": dawn_light, "glare_through_sleeve": glare_through_sleeve,
    "motion_blur": motion_blur, "jpeg": jpeg, "phone_screen": phone_screen,
}


def empty_frame(rng: np.random.Generator) -> Picture:
    """The idle camera: a door, a wall, people's coats, no code."""
    frame = np.full((FRAME_H, FRAME_W), 110, dtype=np.uint8)
    for _ in range(12):
        x, y = int(rng.integers(0, FRAME_W)), int(rng.integers(0, FRAME_H))
        cv2.rectangle(frame, (x, y), (x + int(rng.integers(40, 300)),
                                      y + int(rng.integers(40, 300))),
                      int(rng.integers(20, 230)), -1)
    return np.clip(frame + rng.normal(0, 8, size=frame.shape), 0, 255).astype(np.uint8)


def hard_perspective(card: Picture, rng: np.random.Generator) -> Picture:
    return place(card, rng, tilt=0.22)


def tiny(card: Picture, rng: np.random.Generator) -> Picture:
    return place(card, rng, width=230)


def very_dark_phone(card: Picture, rng: np.random.Generator) -> Picture:
    frame = place(card, rng, background=15).astype(np.float32) * 0.18 + 10
    frame[::2, :] *= 0.7
    return np.clip(frame + rng.normal(0, 3, frame.shape), 0, 255).astype(np.uint8)


def rotated(card: Picture, rng: np.random.Generator) -> Picture:
    frame = place(card, rng, width=340)
    turn = cv2.getRotationMatrix2D((FRAME_W / 2, FRAME_H / 2), float(rng.uniform(20, 70)), 0.9)
    return np.asarray(cv2.warpAffine(frame, turn, (FRAME_W, FRAME_H), borderValue=120))


def strong_motion(card: Picture, rng: np.random.Generator) -> Picture:
    kernel = np.zeros((7, 7), dtype=np.float32)
    kernel[3, :] = 1 / 7
    return np.asarray(cv2.filter2D(place(card, rng), -1, kernel))


HARD_CONDITIONS: dict[str, Callable[[Picture, np.random.Generator], Picture]] = {
    "hard_perspective": hard_perspective, "tiny": tiny, "very_dark_phone": very_dark_phone,
    "rotated": rotated, "strong_motion": strong_motion,
}
"""Harder than the door usually is; measured in `make bench`, not required by tests."""


def door_clip(card_pictures: list[Picture], rng: np.random.Generator, *, idle_frames: int = 10,
              held_frames: int = 12) -> list[Picture]:
    """A morning at the door: an empty view, then each card held up for a moment in one of
    the door conditions, then the empty view again."""
    names = sorted(CONDITIONS)
    frames = [empty_frame(rng) for _ in range(idle_frames)]
    for i, card in enumerate(card_pictures):
        condition = CONDITIONS[names[i % len(names)]]
        frames += [condition(card, rng) for _ in range(held_frames)]
        frames += [empty_frame(rng) for _ in range(idle_frames)]
    return frames
