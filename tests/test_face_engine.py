"""Faces through the real dlib models on public images (../shared/testdata/faces: adults
only; no child images are available, see docs/face-accuracy.md): quality refusals, and
identification with the strict threshold and margin."""

from __future__ import annotations

import numpy as np
import pytest

from terminal.faces.engine import load_rgb, read_face
from terminal.faces.matching import identify
from tests.helpers import SHARED_TESTDATA

FACES = SHARED_TESTDATA / "faces"
FR = FACES / "face_recognition"

pytestmark = pytest.mark.skipif(not FACES.is_dir(), reason="shared face images not present")


def encode(name: str) -> np.ndarray:
    reading = read_face(load_rgb(FR / name), only_one=True)
    assert reading.result == "ok", (name, reading.result)
    assert reading.encoding is not None
    return reading.encoding


@pytest.fixture(scope="module")
def gallery() -> dict[str, list[np.ndarray]]:
    """Four enrolled people, one picture each."""
    return {"A-obama": [encode("tests__test_images__obama.jpg")],
            "B-biden": [encode("tests__test_images__biden.jpg")],
            "C-alex": [encode("examples__knn_examples__train__alex_lacamoire__img1.jpg")],
            "D-rose": [encode("examples__knn_examples__train__rose_leslie__img1.jpg")]}


@pytest.mark.parametrize(("name", "expected"), [
    ("tests__test_images__obama2.jpg", "A-obama"),
    ("examples__obama-720p.jpg", "A-obama"),
    ("examples__knn_examples__test__alex_lacamoire1.jpg", "C-alex"),
    ("examples__knn_examples__train__rose_leslie__img2.jpg", "D-rose"),
])
def test_enrolled_people_are_found_on_other_pictures(
        gallery: dict[str, list[np.ndarray]], name: str, expected: str) -> None:
    match = identify(encode(name), gallery)
    assert (match.result, match.child_id) == ("match", expected)
    assert match.distance is not None
    assert match.distance < 0.45


@pytest.mark.parametrize("name", ["examples__knn_examples__train__kit_harington__john1.jpeg",
                                  "examples__lin-manuel-miranda.png"])
def test_people_not_enrolled_are_unknown(gallery: dict[str, list[np.ndarray]],
                                         name: str) -> None:
    match = identify(encode(name), gallery)
    assert (match.result, match.child_id) == ("unknown", None)


def test_pictures_that_cannot_be_used() -> None:
    assert read_face(load_rgb(FACES / "dlib" / "examples__faces__dogs.jpg"),
                     only_one=True).result == "no_face"
    assert read_face(load_rgb(FR / "examples__two_people.jpg"), only_one=True).result == \
        "several_faces"
    assert read_face(load_rgb(FR / "examples__obama-240p.jpg"), only_one=True).result == \
        "too_small"


def test_a_close_second_is_uncertain() -> None:
    """Two children whose templates are nearly equally near: fall back to the QR card."""
    probe = np.zeros(128)
    near = {"X": [probe + 0.02], "Y": [probe + 0.025]}
    match = identify(probe, near)
    assert match.result == "uncertain"
    assert match.child_id is None
    assert identify(probe, {}).result == "unknown"
