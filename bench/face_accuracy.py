"""Face accuracy harness on the shared public set (adults only): false match rate and false
non-match rate over all pairs of single-face pictures of named people, at the library's
default threshold and stricter ones; time to detect + encode a 640×480 frame; time to
identify among 600 enrolled children. ``python -m bench faces``."""

from __future__ import annotations

import itertools
import statistics
import time

import cv2
import numpy as np

from terminal.faces.engine import load_rgb, read_face
from terminal.faces.matching import LIBRARY_DEFAULT_THRESHOLD, MARGIN, THRESHOLD, identify
from tests.helpers import SHARED_TESTDATA

FR = SHARED_TESTDATA / "faces" / "face_recognition"
PEOPLE = {"obama": "obama", "biden": "biden", "alex": "alex", "kit_harington": "kit",
          "johnsnow": "kit", "john": "kit", "rose_leslie": "rose", "lin-manuel": "lin"}


def _person(name: str) -> str | None:
    if "_and_" in name or "with" in name or "two_people" in name:
        return None
    return next((who for key, who in PEOPLE.items() if key in name), None)


def bench_face_accuracy() -> None:
    if not FR.is_dir():
        print("faces: shared test images not present; skipped")
        return
    encodings: list[tuple[str, np.ndarray]] = []
    for path in sorted(FR.iterdir()):
        who = _person(path.name)
        if who is None:
            continue
        reading = read_face(load_rgb(path), only_one=True)
        if reading.encoding is not None:
            encodings.append((who, reading.encoding))
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
        print(f"  threshold {threshold:.2f}: FMR {fmr:.3%}  FNMR {fnmr:.3%}")

    frame = cv2.resize(load_rgb(FR / "examples__obama-720p.jpg"), (640, 480))
    times = []
    for _ in range(10):
        t0 = time.perf_counter()
        read_face(frame, only_one=False)
        times.append((time.perf_counter() - t0) * 1000)
    rng = np.random.default_rng(1)
    gallery = {f"child-{i:04d}": [rng.normal(0, 0.09, 128) for _ in range(2)]
               for i in range(600)}
    probe = encodings[0][1]
    ident = []
    for _ in range(200):
        t0 = time.perf_counter()
        identify(probe, gallery, THRESHOLD, MARGIN)
        ident.append((time.perf_counter() - t0) * 1000)
    print(f"  detect + quality + encode, 640x480 frame: median {statistics.median(times):.0f} ms; "
          f"identify among 600 children (1,200 templates): median "
          f"{statistics.median(ident):.2f} ms")
