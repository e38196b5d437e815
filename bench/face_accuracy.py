"""Face accuracy and speed on the shared public set (adults only), ``python -m bench faces``.

- Verification: false match and false non-match rates over all pairs of single-face
  pictures of named people, at the library's default threshold and stricter ones.
- Identification as at the door: each person enrolled from one picture, every other
  picture identified with threshold and margin; people left out of the gallery probe it as
  strangers.
- Liveness: how far from "flat" genuine pose changes and turned, moved, tilted prints are;
  the held-up picture check on synthetic prints and on every genuine picture.
- Speed: detect + quality + encode of a 640×480 frame; the whole per-frame door path;
  identification among 600 children; the same with the QR decoder busy on the other core.
"""

from __future__ import annotations

import itertools
import statistics
import threading
import time
from collections.abc import Callable

import cv2
import face_recognition
import numpy as np

from terminal.capture.decoders import default_reader
from terminal.faces.engine import load_rgb, read_face, read_live_face
from terminal.faces.liveness import PARALLAX, held_up_picture, not_flat
from terminal.faces.matching import (
    LIBRARY_DEFAULT_THRESHOLD,
    MARGIN,
    THRESHOLD,
    Gallery,
    identify,
)
from tests.face_pictures import FR, held_up, turned_print

PEOPLE = {"obama": "obama", "biden": "biden", "alex": "alex", "kit_harington": "kit",
          "johnsnow": "kit", "john": "kit", "rose_leslie": "rose", "lin-manuel": "lin"}
SETTINGS = ((LIBRARY_DEFAULT_THRESHOLD, 0.0), (0.5, 0.0), (0.5, MARGIN), (THRESHOLD, 0.0),
            (THRESHOLD, MARGIN), (0.4, MARGIN))


def _person(name: str) -> str | None:
    if "_and_" in name or "with" in name or "two_people" in name:
        return None
    return next((who for key, who in PEOPLE.items() if key in name), None)


def _median_ms(job: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        job()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def _readings() -> list[tuple[str, str, np.ndarray, dict[str, list[tuple[int, int]]]]]:
    found = []
    for path in sorted(FR.iterdir()):
        who = _person(path.name)
        if who is None:
            continue
        reading = read_face(load_rgb(path), only_one=True)
        if reading.encoding is not None and reading.landmarks is not None:
            found.append((who, path.name, reading.encoding, reading.landmarks))
    return found


def _verification(encodings: list[tuple[str, np.ndarray]]) -> None:
    pairs = [(a[0] == b[0], float(np.linalg.norm(a[1] - b[1])))
             for a, b in itertools.combinations(encodings, 2)]
    genuine = [d for same, d in pairs if same]
    impostor = [d for same, d in pairs if not same]
    print(f"faces: {len(encodings)} usable pictures of {len({w for w, _ in encodings})} people, "
          f"{len(genuine)} genuine and {len(impostor)} impostor pairs; nearest impostor "
          f"{min(impostor):.3f}, farthest genuine {max(genuine):.3f}")
    for threshold in (LIBRARY_DEFAULT_THRESHOLD, 0.5, THRESHOLD, 0.4):
        fmr = sum(d < threshold for d in impostor) / len(impostor)
        fnmr = sum(d >= threshold for d in genuine) / len(genuine)
        print(f"  pairs, threshold {threshold:.2f}: FMR {fmr:.1%}  FNMR {fnmr:.1%}")


def _identification(encodings: list[tuple[str, np.ndarray]]) -> None:
    """Enrol each person from their first picture; identify all other pictures, and every
    picture of a person left out of the gallery (a stranger at the door)."""
    first: dict[str, np.ndarray] = {}
    for who, encoding in encodings:
        first.setdefault(who, encoding)
    for threshold, margin in SETTINGS:
        false_match = genuine_miss = genuine = strangers = 0
        for left_out in [None, *sorted(first)]:
            gallery = Gallery({w: [e] for w, e in first.items() if w != left_out})
            for who, encoding in encodings:
                if any(encoding is e for e in first.values()) and who != left_out:
                    continue  # the enrolment picture itself
                match = identify(encoding, gallery, threshold, margin)
                if who == left_out:
                    strangers += 1
                    false_match += match.result == "match"
                elif left_out is None:
                    genuine += 1
                    false_match += match.result == "match" and match.child_id != who
                    genuine_miss += match.result != "match"
        print(f"  door, threshold {threshold:.2f} margin {margin:.2f}: false matches "
              f"{false_match} of {genuine + strangers} probes ({strangers} by strangers); "
              f"FNMR {genuine_miss}/{genuine} = {genuine_miss / genuine:.1%}")


def _liveness(readings: list[tuple[str, str, np.ndarray, dict[str, list[tuple[int, int]]]]],
              ) -> None:
    genuine = [not_flat(a[3], b[3]) for a, b in itertools.combinations(readings, 2)
               if a[0] == b[0]]
    flat = []
    for _, name, _, marks in readings:
        face = load_rgb(FR / name)
        views = [turned_print(face, s) for s in (0.05, 0.1, 0.15)]
        views.append(cv2.resize(face, None, fx=0.8, fy=0.8))
        for view in views:
            seen = read_face(np.ascontiguousarray(view), only_one=False).landmarks
            if seen is not None:
                flat.append(not_flat(marks, seen))
    print(f"  liveness: departure from one homography, genuine pose pairs median "
          f"{statistics.median(genuine):.3f} (min {min(genuine):.3f}, "
          f"{sum(g >= PARALLAX for g in genuine)}/{len(genuine)} ≥ {PARALLAX}); flat prints "
          f"turned/moved median {statistics.median(flat):.3f} (max {max(flat):.3f}, "
          f"{sum(f >= PARALLAX for f in flat)}/{len(flat)} ≥ {PARALLAX})")
    prints = caught = 0
    for name in sorted(FR.iterdir()):
        if _person(name.name) is None:
            continue
        face = load_rgb(name)
        for kwargs in ({}, {"bezel": (10, 10, 10), "border": 18}, {"tilt": 0.06}):
            frame = held_up(face, size=(320, 400), at=(150, 40), **kwargs)  # type: ignore[arg-type]
            boxes = face_recognition.face_locations(frame, 1)
            if boxes:
                prints += 1
                caught += held_up_picture(frame, boxes[0])
    alarms = checked = 0
    for path in sorted(FR.iterdir()):
        rgb = load_rgb(path)
        rgb = cv2.resize(rgb, (640, 640 * rgb.shape[0] // rgb.shape[1]))
        for box in face_recognition.face_locations(rgb, 1):
            checked += 1
            alarms += held_up_picture(rgb, box)
    print(f"  held-up picture check: {caught}/{prints} synthetic prints and phones caught; "
          f"{alarms}/{checked} genuine faces taken for one")


def _speed(probe: np.ndarray) -> None:
    frame = cv2.resize(load_rgb(FR / "examples__obama-720p.jpg"), (640, 360))
    frame = cv2.copyMakeBorder(frame, 60, 60, 0, 0, cv2.BORDER_CONSTANT, value=(90, 90, 90))
    rng = np.random.default_rng(1)
    gallery = Gallery({f"child-{i:04d}": [rng.normal(0, 0.09, 128) for _ in range(5)]
                       for i in range(600)})

    def door_frame() -> None:
        reading = read_live_face(frame.copy(), only_one=False, thorough=False)
        assert reading.encoding is not None
        identify(reading.encoding, gallery)

    encode = _median_ms(lambda: read_face(frame.copy(), only_one=False, thorough=False), 10)
    doubled = _median_ms(lambda: face_recognition.face_locations(frame, 1), 10)
    own = _median_ms(lambda: face_recognition.face_locations(frame, 0), 10)
    whole = _median_ms(door_frame, 10)
    ident = _median_ms(lambda: identify(probe, gallery), 500)
    stop = threading.Event()
    qr_frame = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
    reader = default_reader()

    def decode_loop() -> None:
        while not stop.is_set():
            reader.read(qr_frame)

    busy = threading.Thread(target=decode_loop, daemon=True)
    busy.start()
    whole_busy = _median_ms(door_frame, 10)
    stop.set()
    busy.join()
    print(f"  speed (640x480): detection at the frame's own scale {own:.0f} ms (doubled scale "
          f"{doubled:.0f} ms); detect + quality + encode median {encode:.0f} ms; whole door "
          f"frame (+ held-up check + identify) {whole:.0f} ms, {whole_busy:.0f} ms with the QR "
          f"decoder busy beside it; identify among 600 children (3,000 encodings) "
          f"{ident:.2f} ms")


def bench_face_accuracy() -> None:
    if not FR.is_dir():
        print("faces: shared test images not present; skipped")
        return
    readings = _readings()
    encodings = [(who, encoding) for who, _, encoding, _ in readings]
    _verification(encodings)
    _identification(encodings)
    _liveness(readings)
    _speed(encodings[0][1])
