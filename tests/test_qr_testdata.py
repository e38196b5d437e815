"""The decoders on public QR test images (zxing and zxing-cpp sets in ../shared/testdata/qr)."""

from __future__ import annotations

import json

import pytest

from terminal.capture.decoders import default_reader, read_image
from tests.helpers import SHARED_TESTDATA

TESTDATA = SHARED_TESTDATA / "qr"
MEASURED_FLOOR = 178
"""Of the 190 single-symbol positives our still-picture reader decoded 179 exactly
(2026-11-23); the floor leaves one image of slack for library updates, and a drop below it
fails the build."""


def _manifest() -> list[dict[str, str]]:
    path = TESTDATA / "manifest.jsonl"
    if not path.exists():
        pytest.skip("shared QR test images not present")
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_decode_rate_on_public_positives() -> None:
    positives = [m for m in _manifest() if m["kind"] == "qr_positive"]
    reader = default_reader(still=True)
    read = [m["local"] for m in positives
            if m["expected_text"].strip() in
            [t.strip() for t in reader.read(read_image(str(TESTDATA / m["local"])))]]
    assert len(positives) == 190
    assert len(read) >= MEASURED_FLOOR, f"only {len(read)} of 190 read"


def test_no_false_positives_on_images_without_a_code() -> None:
    negatives = [m for m in _manifest() if m["kind"] == "negative_no_barcode"]
    reader = default_reader(still=True)  # the most eager reader: no false positive either
    found = {m["local"]: reader.read(read_image(str(TESTDATA / m["local"])))
             for m in negatives}
    assert len(negatives) == 46
    assert {k: v for k, v in found.items() if v} == {}
