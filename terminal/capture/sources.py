"""Frame sources behind one interface: a real camera (USB/UVC or the Pi camera through V4L2),
a video clip, or a list of pictures. The kiosk and the tests use them the same way."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from qatys.sentences import Sentence
from terminal.capture.decoders import read_image, to_gray
from terminal.errors import SetupError

FRAME_WIDTH, FRAME_HEIGHT = 1280, 720


@dataclass(frozen=True)
class Frame:
    gray: np.ndarray
    captured_ns: int
    """time.monotonic_ns() when the frame arrived: latency is measured from here."""
    colour: np.ndarray | None = None
    """The frame in colour (BGR) when the source has it: face check-in needs it."""


def frame_of(image: np.ndarray) -> Frame:
    """A frame from what OpenCV read: gray for the QR decoders, colour kept for faces."""
    colour = image if image.ndim == 3 and image.shape[2] == 3 else None
    return Frame(to_gray(image), time.monotonic_ns(), colour)


class FrameSource(Protocol):
    @property
    def name(self) -> str: ...

    def read(self) -> Frame | None:
        """The next frame; None when a clip has ended (a camera blocks until one comes)."""

    def close(self) -> None: ...


class CameraSource:
    """A V4L2 camera by index (/dev/videoN): USB UVC cameras and the Pi camera via libcamera's
    V4L2 compatibility; asks for 1280×720 and takes what the camera gives."""

    def __init__(self, index: int) -> None:
        self._capture = cv2.VideoCapture(index, cv2.CAP_V4L2)
        if not self._capture.isOpened():
            raise SetupError(Sentence("camera /dev/video%(index)s cannot be opened", index=index))
        self._capture.set(cv2.CAP_PROP_FRAME_WIDTH, FRAME_WIDTH)
        self._capture.set(cv2.CAP_PROP_FRAME_HEIGHT, FRAME_HEIGHT)
        self._capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # the newest frame, not a backlog
        self.name = f"camera:{index}"

    def read(self) -> Frame | None:
        ok, image = self._capture.read()
        if not ok:
            raise SetupError(Sentence("%(name)s stopped delivering frames", name=self.name))
        return frame_of(image)

    def close(self) -> None:
        self._capture.release()


class ClipSource:
    """A video file played at its own frame rate (``paced``), optionally looping: the
    simulated camera of `make run` and of the latency benchmark."""

    def __init__(self, path: Path, *, loop: bool = False, paced: bool = True) -> None:
        self._path = path
        self._capture = cv2.VideoCapture(str(path))
        if not self._capture.isOpened():
            raise SetupError(Sentence("%(path)s is not a readable video clip", path=path))
        fps = self._capture.get(cv2.CAP_PROP_FPS) or 15.0
        self._interval_ns = int(1e9 / fps) if paced else 0
        self._next_ns = time.monotonic_ns()
        self._loop = loop
        self.name = f"clip:{path.name}"

    def read(self) -> Frame | None:
        ok, image = self._capture.read()
        if not ok and self._loop:
            self._capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, image = self._capture.read()
        if not ok:
            return None
        if self._interval_ns:
            delay = self._next_ns - time.monotonic_ns()
            if delay > 0:
                time.sleep(delay / 1e9)
            self._next_ns = max(self._next_ns + self._interval_ns, time.monotonic_ns())
        return frame_of(image)

    def close(self) -> None:
        self._capture.release()


class PictureSource:
    """Pictures as frames, once each, as fast as they are asked for (tests)."""

    def __init__(self, paths: Sequence[Path]) -> None:
        self._paths = list(paths)
        self.name = "pictures"

    def read(self) -> Frame | None:
        if not self._paths:
            return None
        return Frame(read_image(str(self._paths.pop(0))), time.monotonic_ns())

    def close(self) -> None:
        self._paths.clear()


def write_clip(frames: Sequence[np.ndarray], path: Path, fps: float = 15.0) -> Path:
    """Grayscale frames to an MJPEG AVI (OpenCV writes it without extra codecs)."""
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), fps, (width, height))
    if not writer.isOpened():
        raise SetupError(Sentence("cannot write a clip to %(path)s", path=path))
    try:
        for frame in frames:
            writer.write(cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR) if frame.ndim == 2 else frame)
    finally:
        writer.release()
    return path
