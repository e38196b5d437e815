"""Decoding benchmark: our reader beside plain zxing-cpp and plain pyzbar (both QR only) on the
same simulated 1280×720 door frames and on empty frames, file read included, interleaved."""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import cv2
import numpy as np

from protocol import cards
from provisioning.card_print import IssuedCard, write_png
from terminal.capture import simulated as door_photos
from terminal.capture.decoders import ZbarDecoder, ZxingDecoder, default_reader, read_image

FRAMES_PER_CONDITION = 20
EMPTY_FRAMES = 100


def _card(directory: Path) -> tuple[np.ndarray, str]:
    today = date(2026, 11, 23)
    card = cards.Card("KG-ALMATY-017", "child-00001-x7q", "ABCDEFGH", today,
                      today + timedelta(days=730))
    text = cards.sign_card(card, bytes(32))
    path = directory / "card.png"
    write_png(IssuedCard(card, text, "Әлихан", "Күншуақ балабақшасы"), path)
    return cv2.imread(str(path), cv2.IMREAD_GRAYSCALE), text


def _frames(directory: Path, card: np.ndarray) -> dict[str, list[Path]]:
    rng = np.random.default_rng(2026)
    conditions = {**door_photos.CONDITIONS, **door_photos.HARD_CONDITIONS}
    out: dict[str, list[Path]] = {}
    for name, make in conditions.items():
        out[name] = []
        for i in range(FRAMES_PER_CONDITION):
            path = directory / f"{name}-{i:02d}.png"
            cv2.imwrite(str(path), make(card, rng))
            out[name].append(path)
    out["empty"] = []
    for i in range(EMPTY_FRAMES):
        path = directory / f"empty-{i:03d}.png"
        cv2.imwrite(str(path), door_photos.empty_frame(rng))
        out["empty"].append(path)
    return out


def bench_decoding() -> None:
    with tempfile.TemporaryDirectory(prefix="qatys-decode-") as tmp:
        directory = Path(tmp)
        card, expected = _card(directory)
        frames = _frames(directory, card)
        pipeline = default_reader()
        readers: dict[str, Callable[[np.ndarray], list[str]]] = {
            "qatys reader": pipeline.read,
            "qatys still reader": default_reader(still=True).read,
            "zxing-cpp QR only": ZxingDecoder().decode,
            "pyzbar QR only": ZbarDecoder().decode,
        }
        hits = {(r, c): 0 for r in readers for c in frames}
        times: dict[tuple[str, bool], list[float]] = {(r, e): [] for r in readers
                                                      for e in (False, True)}
        for condition, paths in frames.items():
            for path in paths:
                for name, read in readers.items():  # interleaved: same disk and CPU weather
                    t0 = time.perf_counter()
                    texts = read(read_image(str(path)))
                    times[(name, condition == "empty")].append(time.perf_counter() - t0)
                    hits[(name, condition)] += expected in texts
        easy, hard = list(door_photos.CONDITIONS), list(door_photos.HARD_CONDITIONS)
        print(f"QR decoding, {FRAMES_PER_CONDITION} frames of 1280x720 per condition, "
              "file read included:")
        for name in readers:
            read_easy = sum(hits[(name, c)] for c in easy)
            read_hard = sum(hits[(name, c)] for c in hard)
            ms = [t * 1000 for t in times[(name, False)]]
            empty = [t * 1000 for t in times[(name, True)]]
            print(f"  {name:19s} door {read_easy}/{len(easy) * FRAMES_PER_CONDITION} "
                  f"hard {read_hard}/{len(hard) * FRAMES_PER_CONDITION}; "
                  f"mean {statistics.mean(ms):.1f} ms p95 {_p95(ms):.1f} ms; "
                  f"empty frames mean {statistics.mean(empty):.1f} ms p95 {_p95(empty):.1f} ms")
            print("    " + " ".join(f"{c}:{hits[(name, c)]}" for c in easy + hard))
        print(f"  extra passes that read a frame: {pipeline.hits}")


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
