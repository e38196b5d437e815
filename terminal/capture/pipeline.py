"""Camera → decoder → door, as two threads joined by a bounded queue that drops, never lags.

The grabber thread reads frames as the source delivers them and puts them in a
queue of a few frames; when the decoder falls behind, the oldest frame is
dropped and counted, so the door always works on what the camera sees now.
The decoder thread reads QR codes and hands each new code to ``on_code``; the
same code seen in the next frames is handed over again only after
``same_code_pause_s`` (the door logic de-duplicates too, but a card held up for
two seconds should not cost thirty check-in transactions).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from qatys.logs import log
from terminal.capture.decoders import MultiPassReader
from terminal.capture.sources import Frame, FrameSource

logger = logging.getLogger("qatys.terminal.capture")

OnCode = Callable[[str, Frame], None]


@dataclass
class CaptureStats:
    frames_in: int = 0
    frames_dropped: int = 0
    frames_decoded: int = 0
    codes: int = 0
    source_ended: bool = False
    source_error: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, **counts: int) -> None:
        with self._lock:
            for name, value in counts.items():
                setattr(self, name, getattr(self, name) + value)

    def snapshot(self) -> dict[str, object]:
        with self._lock:
            return {"frames_in": self.frames_in, "frames_dropped": self.frames_dropped,
                    "frames_decoded": self.frames_decoded, "codes": self.codes,
                    "source_ended": self.source_ended, "source_error": self.source_error}


class CapturePipeline:
    def __init__(self, source: FrameSource, reader: MultiPassReader, on_code: OnCode, *,
                 queue_size: int = 2, same_code_pause_s: float = 3.0) -> None:
        self._source = source
        self._reader = reader
        self._on_code = on_code
        self._frames: queue.Queue[Frame | None] = queue.Queue(maxsize=queue_size)
        self._pause_ns = int(same_code_pause_s * 1e9)
        self._last_code: tuple[str, int] = ("", 0)
        self._stop = threading.Event()
        self.stats = CaptureStats()
        self.latest: Frame | None = None
        """The newest frame, for the kiosk's live preview."""
        self._threads = [threading.Thread(target=self._grab, name="qatys-grab", daemon=True),
                         threading.Thread(target=self._decode, name="qatys-decode",
                                          daemon=True)]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)
        self._source.close()

    def wait(self, timeout: float | None = None) -> bool:
        """Until a clip has ended and every frame was decoded; True if it did."""
        self._threads[1].join(timeout)
        return not self._threads[1].is_alive()

    def _grab(self) -> None:
        while not self._stop.is_set():
            try:
                frame = self._source.read()
            except Exception as exc:  # a camera unplugged: say so, keep the kiosk up
                self.stats.source_error = str(exc)
                log(logger, "capture.source_failed", logging.ERROR, source=self._source.name,
                    error=type(exc).__name__)
                frame = None
            if frame is None:
                self.stats.source_ended = True
                self._put(None)
                return
            self.latest = frame
            self.stats.add(frames_in=1)
            self._put(frame)

    def _put(self, frame: Frame | None) -> None:
        while True:
            try:
                self._frames.put_nowait(frame)
                return
            except queue.Full:
                try:
                    dropped = self._frames.get_nowait()
                except queue.Empty:
                    continue
                if dropped is not None:
                    self.stats.add(frames_dropped=1)

    def _decode(self) -> None:
        while not self._stop.is_set():
            try:
                frame = self._frames.get(timeout=0.2)
            except queue.Empty:
                continue
            if frame is None:
                return
            texts = self._reader.read(frame.gray)
            self.stats.add(frames_decoded=1)
            for text in texts[:1]:  # one code per frame: the door serves one family at a time
                if self._is_new(text, frame.captured_ns):
                    self.stats.add(codes=1)
                    try:
                        self._on_code(text, frame)
                    except Exception:
                        logger.exception("on_code failed")

    def _is_new(self, text: str, now_ns: int) -> bool:
        last_text, last_ns = self._last_code
        if text == last_text and now_ns - last_ns < self._pause_ns:
            self._last_code = (text, now_ns)  # still held up: keep waiting for it to go
            return False
        self._last_code = (text, now_ns)
        return True


def run_until_done(pipeline: CapturePipeline, timeout_s: float = 60.0) -> None:
    """Start, wait for a clip to end, stop (tests and benchmarks)."""
    pipeline.start()
    deadline = time.monotonic() + timeout_s
    pipeline.wait(max(0.0, deadline - time.monotonic()))
    pipeline.stop()
