"""Door to greeting by face, through the kiosk's own code: a real terminal (enrolled with a
real server, consent granted, one child enrolled from two pictures), the capture pipeline
with its QR decoder busy on every frame, the face stage, the check-in commit, the screen's
event. The "camera" is a person at the door who turns the head (two public pictures of
one adult, half a second each) after a second of empty doorway, at 15 frames a second."""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import cv2
import numpy as np

from terminal.capture.decoders import default_reader
from terminal.capture.pipeline import CapturePipeline
from terminal.capture.sources import Frame, frame_of
from terminal.faces.engine import load_rgb
from terminal.faces.enrolment import enrol_face
from terminal.home import open_terminal
from terminal.kiosk.face_watch import FaceWatch
from terminal.kiosk.service import Kiosk
from tests.face_pictures import FR
from tests.helpers import ServerProcess, run

CHILD = "child-00003-x7q"
FPS = 15.0
PICTURES = ("tests__test_images__obama.jpg", "tests__test_images__obama2.jpg")


def _door_frame(name: str | None) -> np.ndarray:
    """640×480 BGR: the doorway, with the picture of a person standing in it."""
    frame = np.full((480, 640, 3), (190, 200, 200), dtype=np.uint8)
    if name is not None:
        rgb = load_rgb(FR / name)
        rgb = cv2.resize(rgb, (rgb.shape[1] * 480 // rgb.shape[0], 480))
        left = (640 - rgb.shape[1]) // 2
        frame[:, left:left + rgb.shape[1]] = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    return frame


class DoorVisit:
    """A paced frame source: empty doorway, then the person; remembers when they appeared."""

    name = "door-visit"

    def __init__(self) -> None:
        empty, people = _door_frame(None), [_door_frame(n) for n in PICTURES]
        self._frames = [empty] * int(FPS) + [people[i // 8 % 2] for i in range(int(FPS) * 8)]
        self._first_face = int(FPS)
        self._index = 0
        self._next_ns = time.monotonic_ns()
        self.appeared_ns = self.turned_ns = 0

    def read(self) -> Frame | None:
        if self._index >= len(self._frames):
            return None
        delay = self._next_ns - time.monotonic_ns()
        if delay > 0:
            time.sleep(delay / 1e9)
        self._next_ns += int(1e9 / FPS)
        frame = frame_of(self._frames[self._index])
        if self._index == self._first_face:
            self.appeared_ns = frame.captured_ns
        if self._index == self._first_face + 8:
            self.turned_ns = frame.captured_ns
        self._index += 1
        return frame

    def close(self) -> None:
        self._frames = []


def bench_face_door(server: ServerProcess, base: Path, visits: int = 5) -> None:
    if not FR.is_dir():
        print("face door: shared test images not present; skipped")
        return
    home = base / "face-door"
    token = run("terminal", "token", "--data", str(server.data_dir), "--kindergarten",
                "KG1").stdout.strip().splitlines()[-1]
    run("terminal", "enroll", "--home", str(home), "--server", server.url, "--token", token)
    run("consent", "grant", "--data", str(server.data_dir), "--child", CHILD, "--paper", "b-1")
    run("terminal", "sync", "--home", str(home), "--quiet")
    terminal = open_terminal(home, log=False)
    kiosk = Kiosk(terminal)
    try:
        enrol_face(terminal, kiosk.faces.vault, CHILD, [load_rgb(FR / n) for n in PICTURES],
                   require_liveness=False)
        greetings, after_turn = [], []
        for _ in range(visits):
            kiosk.faces = FaceWatch(kiosk)  # a new visit: no cool-down from the last one
            visit = DoorVisit()
            kiosk.pipeline = CapturePipeline(visit, default_reader(), kiosk.on_code)
            inbox = kiosk.events.subscribe()
            kiosk.pipeline.start()
            kiosk.faces.start()
            deadline = time.monotonic() + 30
            greeted = 0
            while not greeted and time.monotonic() < deadline:
                message = inbox.get(timeout=30)
                if message.startswith("event: scan") and '"accepted"' in message:
                    greeted = time.monotonic_ns()
            kiosk.faces.stop()
            kiosk.pipeline.stop()
            kiosk.events.unsubscribe(inbox)
            if greeted:
                greetings.append((greeted - visit.appeared_ns) / 1e6)
                after_turn.append((greeted - visit.turned_ns) / 1e6)
        if not greetings:
            print(f"face door: 0/{visits} visits greeted")
            return
        print(f"face door: {len(greetings)}/{visits} visits greeted; from the person appearing "
              f"to the green screen: median {statistics.median(greetings):.0f} ms (worst "
              f"{max(greetings):.0f}), of which after the head turned (0.53 s in) "
              f"{statistics.median(after_turn):.0f} ms; QR decoder on every frame beside it")
    finally:
        terminal.close()
