"""QR decoders as small plugins behind one interface, and the multi-pass reader built on them.

Every decoder is restricted to QR codes: with all symbologies enabled both
libraries are about 15× slower, and a kindergarten door only sees QR codes.
The reader runs one cheap pass per frame and spends extra passes only on
frames where that pass found nothing, so the average cost stays at the first
pass's while the hard frames (dark phone screens, glare, blur, perspective)
still get read. Which passes, in which order, comes from the measurements in
docs/performance.md (`make bench`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import cv2
import numpy as np
import zxingcpp

Gray = np.ndarray
"""An 8-bit single-channel image (height × width)."""

QR_ONLY = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)


class Decoder(Protocol):
    @property
    def name(self) -> str: ...

    def decode(self, gray: Gray) -> list[str]:
        """The texts of the QR codes found in the image (empty when none)."""


@dataclass(frozen=True)
class ZxingDecoder:
    """zxing-cpp, QR only; ``binarizer`` picks how the image is thresholded."""

    binarizer: zxingcpp.Binarizer = zxingcpp.Binarizer.LocalAverage
    name: str = "zxing"
    try_invert: bool = True
    """Also look for light-on-dark codes; ours are never inverted, and skipping it saves 40 %."""
    try_rotate: bool = True

    def decode(self, gray: Gray) -> list[str]:
        return self.scan(gray)[0]

    def scan(self, gray: Gray) -> tuple[list[str], list[Box]]:
        """Texts read, and boxes around codes it found but could not read."""
        found = zxingcpp.read_barcodes(gray, formats=QR_ONLY, binarizer=self.binarizer,
                                       try_invert=self.try_invert, try_rotate=self.try_rotate,
                                       return_errors=True)
        texts = [b.text for b in found if b.valid and b.text]
        unread = [_box(b.position, gray.shape) for b in found if not b.valid]
        return texts, unread


Box = tuple[int, int, int, int]
"""x0, y0, x1, y1 in pixels."""


def _box(position: zxingcpp.Position, shape: tuple[int, ...]) -> Box:
    points = [position.top_left, position.top_right, position.bottom_right,
              position.bottom_left]
    xs, ys = [p.x for p in points], [p.y for p in points]
    margin = max(max(xs) - min(xs), max(ys) - min(ys)) // 3 + 8
    return (max(0, min(xs) - margin), max(0, min(ys) - margin),
            min(shape[1], max(xs) + margin), min(shape[0], max(ys) + margin))


@dataclass(frozen=True)
class ZbarDecoder:
    """zbar through pyzbar, QR only."""

    name: str = "zbar"

    def decode(self, gray: Gray) -> list[str]:
        from pyzbar import pyzbar

        try:
            found = pyzbar.decode(gray, symbols=[pyzbar.ZBarSymbol.QRCODE])
        except ValueError:  # pyzbar 0.1.9 fails on a symbol of unknown orientation
            return []
        texts = []
        for symbol in found:
            try:
                texts.append(symbol.data.decode("utf-8"))
            except UnicodeDecodeError:
                continue  # not one of ours: our codes are ASCII
        return texts


def equalised(gray: Gray) -> Gray:
    """Local contrast equalisation (CLAHE): dark phone screens, dawn light."""
    clahe = cv2.createCLAHE(clipLimit=3.0, tileGridSize=(8, 8))
    return np.asarray(clahe.apply(gray))


def sharpened(gray: Gray) -> Gray:
    """Unsharp mask: slight motion or focus blur."""
    blurred = cv2.GaussianBlur(gray, (0, 0), 2.0)
    return np.asarray(cv2.addWeighted(gray, 1.8, blurred, -0.8, 0))


def upscaled(gray: Gray) -> Gray:
    """Twice the size: a small code far from the camera."""
    return np.asarray(cv2.resize(gray, None, fx=2.0, fy=2.0, interpolation=cv2.INTER_CUBIC))


Preprocess = Callable[[Gray], Gray]


@dataclass(frozen=True)
class Pass:
    decoder: Decoder
    preprocess: Preprocess | None = None

    @property
    def name(self) -> str:
        step = self.preprocess.__name__ if self.preprocess else "plain"
        return f"{self.decoder.name}:{step}"

    def run(self, gray: Gray) -> list[str]:
        return self.decoder.decode(self.preprocess(gray) if self.preprocess else gray)


@dataclass
class MultiPassReader:
    """One zxing-cpp pass on every frame. Only when it saw a code it could not read do the
    extra passes run, on a crop around that code: an idle camera costs one pass a frame.
    ``when_nothing_seen`` passes run on the whole frame when the first pass saw no code at
    all: for still pictures (the CLI), never for the live camera, which gets the next frame."""

    first: ZxingDecoder
    extra: Sequence[Pass] = ()
    when_nothing_seen: Sequence[Pass] = ()
    hits: dict[str, int] = field(default_factory=dict)

    def read(self, gray: Gray) -> list[str]:
        texts, unread = self.first.scan(gray)
        if texts:
            return self._hit(self.first.name + ":plain", texts)
        for x0, y0, x1, y1 in unread:
            crop = np.ascontiguousarray(gray[y0:y1, x0:x1])
            for step in self.extra:
                texts = step.run(crop)
                if texts:
                    return self._hit(step.name, texts)
        if not unread:
            for step in self.when_nothing_seen:
                texts = step.run(gray)
                if texts:
                    return self._hit(step.name + " (whole frame)", texts)
        return []

    def _hit(self, name: str, texts: list[str]) -> list[str]:
        self.hits[name] = self.hits.get(name, 0) + 1
        return list(dict.fromkeys(texts))


def default_reader(still: bool = False) -> MultiPassReader:
    """zxing-cpp first (for the live camera without the inverted and rotated scans).
    On a code seen but not read, the live camera tries the passes that read frames in
    `make bench` (another binarizer, a 2× crop); a still picture (the CLI) also tries
    sharpening, contrast equalisation and zbar, and, when zxing-cpp saw nothing, zbar and
    the other binarizer on the whole picture (scratches across a finder pattern hide a
    code from zxing-cpp that zbar still reads)."""
    extra = [Pass(ZxingDecoder(zxingcpp.Binarizer.GlobalHistogram, name="zxing-global")),
             Pass(ZxingDecoder(), upscaled)]
    if not still:
        # Our codes are never light-on-dark; QR detection finds any rotation without the
        # extra rotated scans: the same frames read in 40-50 % less time (docs/performance.md).
        fast = ZxingDecoder(try_invert=False, try_rotate=False, name="zxing-fast")
        return MultiPassReader(fast, extra)
    extra += [Pass(ZxingDecoder(), sharpened), Pass(ZxingDecoder(), equalised),
              Pass(ZbarDecoder())]
    nothing_seen = [Pass(ZbarDecoder()),
                    Pass(ZxingDecoder(zxingcpp.Binarizer.GlobalHistogram, name="zxing-global"))]
    return MultiPassReader(ZxingDecoder(), extra, nothing_seen)


def to_gray(image: np.ndarray) -> Gray:
    if image.ndim == 2:
        return image
    if image.shape[2] == 4:
        return np.asarray(cv2.cvtColor(image, cv2.COLOR_BGRA2GRAY))
    return np.asarray(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY))


def read_image(path: str) -> Gray:
    """A picture file as grayscale; :class:`ValueError` when it is not a readable image."""
    image = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if image is None:  # OpenCV refuses some valid files (e.g. a 1×1 WebP); Pillow may not
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(path) as picture:
                return np.asarray(picture.convert("L"))
        except (OSError, UnidentifiedImageError) as exc:
            raise ValueError(f"{path} is not a readable image") from exc
    if image.dtype != np.uint8:
        image = cv2.convertScaleAbs(image, alpha=255.0 / max(float(image.max()), 1.0))
    return to_gray(image)
