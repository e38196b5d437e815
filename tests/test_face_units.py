"""Face check-in without a server: the template and key formats and every way they refuse,
the rule for when a template stands on its consent, the gallery, and the liveness checks
on the shared public pictures (and pictures of them held up)."""

from __future__ import annotations

import os
from datetime import date

import cv2
import face_recognition
import numpy as np
import pytest

from protocol import consent, crypto, faces
from protocol.errors import EncodingError, ProtocolError, SealError
from server.domain.face_consent import LedgerRecord, template_standing
from terminal.faces.engine import load_rgb, read_face
from terminal.faces.landmarks import Landmarks
from terminal.faces.liveness import PARALLAX, Challenge, held_up_picture, not_flat
from terminal.faces.matching import Gallery, identify
from tests.face_pictures import FACES, FR, held_up, turned_print

KEY = bytes(range(32))
TEMPLATE = faces.Template("ab" * 16, "KG1", "child-1", 7, "T-ONE", 1_700_000_000_000_000,
                          faces.pack_encodings([[0.01 * i for i in range(128)]] * 2))


def _box(seed: int) -> tuple[bytes, bytes]:
    private = bytes([seed]) * 32
    return private, crypto.box_public_key(private)


# --- formats -------------------------------------------------------------------


def test_a_template_opens_only_under_its_key_id_and_kindergarten() -> None:
    blob = faces.encrypt_template(TEMPLATE, "0123456789abcdef", KEY, os.urandom(12))
    assert faces.decrypt_template(blob, "KG1", "0123456789abcdef", "ab" * 16, KEY) == TEMPLATE
    assert TEMPLATE.encodings not in blob  # the encodings are not there in the clear
    for kindergarten, key_id, template_id, key in [
            ("KG2", "0123456789abcdef", "ab" * 16, KEY),
            ("KG1", "fedcba9876543210", "ab" * 16, KEY),
            ("KG1", "0123456789abcdef", "cd" * 16, KEY),
            ("KG1", "0123456789abcdef", "ab" * 16, bytes(32))]:
        with pytest.raises(SealError):
            faces.decrypt_template(blob, kindergarten, key_id, template_id, key)
    altered = bytearray(blob)
    altered[-1] ^= 1
    with pytest.raises(SealError):
        faces.decrypt_template(bytes(altered), "KG1", "0123456789abcdef", "ab" * 16, KEY)


@pytest.mark.parametrize("encodings", [
    [], [[0.0] * 127], [[float("nan")] + [0.0] * 127], [[0.0] * 128] * 11,
    [[float("inf")] * 128]])
def test_encodings_that_are_not_face_encodings_are_refused(
        encodings: list[list[float]]) -> None:
    with pytest.raises(EncodingError):
        faces.pack_encodings(encodings)


def test_a_face_key_opens_only_for_the_terminal_it_was_sealed_to() -> None:
    mine, mine_pub = _box(1)
    other, _ = _box(2)
    sealed = faces.wrap_face_key(KEY, "0123456789abcdef", "KG1", "T-ONE", mine_pub,
                                 os.urandom(32), os.urandom(12))
    assert faces.unwrap_face_key(sealed, "0123456789abcdef", "KG1", "T-ONE", mine) == KEY
    for key_id, kindergarten, terminal, private in [
            ("0123456789abcdef", "KG1", "T-ONE", other),  # the server or another terminal
            ("0123456789abcdef", "KG1", "T-TWO", mine),
            ("0123456789abcdef", "KG2", "T-ONE", mine),
            ("fedcba9876543210", "KG1", "T-ONE", mine)]:
        with pytest.raises(ProtocolError):
            faces.unwrap_face_key(sealed, key_id, kindergarten, terminal, private)
    with pytest.raises(EncodingError):
        faces.wrap_face_key(b"short", "0123456789abcdef", "KG1", "T-ONE", mine_pub,
                            os.urandom(32), os.urandom(12))


def test_a_withdrawal_notice_opens_only_at_the_server_for_its_terminal() -> None:
    server, server_pub = _box(3)
    notice = consent.Withdrawal("ef" * 16, "child-1", "Гүлнар", 1_700_000_000_000_000)
    sealed = consent.seal_withdrawal(notice, "T-ONE", server_pub, os.urandom(32),
                                     os.urandom(12))
    assert b"child-1" not in sealed
    assert consent.open_withdrawal(sealed, "T-ONE", server) == notice
    with pytest.raises(SealError):
        consent.open_withdrawal(sealed, "T-TWO", server)
    with pytest.raises(SealError):
        consent.open_withdrawal(sealed, "T-ONE", _box(4)[0])


# --- when a template stands --------------------------------------------------------


TODAY = date(2026, 12, 1)


@pytest.mark.parametrize(("records", "under", "verdict"), [
    ([LedgerRecord(1, "grant", "2027-06-30", "2026-11-01")], 1, None),
    ([LedgerRecord(1, "grant", "2026-11-30", "2026-11-01")], 1, "expired"),
    ([LedgerRecord(1, "grant", "2027-06-30", "2026-11-01"),
      LedgerRecord(2, "withdraw", "", "2026-11-20")], 1, "withdrawn"),
    # withdrawn, then granted again: the old template does not come back
    ([LedgerRecord(1, "grant", "2027-06-30", "2026-11-01"),
      LedgerRecord(2, "withdraw", "", "2026-11-20"),
      LedgerRecord(3, "grant", "2027-11-20", "2026-11-21")], 1, "withdrawn"),
    # extended before it ran out: still standing
    ([LedgerRecord(1, "grant", "2026-11-30", "2026-01-01"),
      LedgerRecord(2, "grant", "2027-11-28", "2026-11-29")], 1, None),
    # granted again only after it had run out: a gap ends it
    ([LedgerRecord(1, "grant", "2026-11-10", "2026-01-01"),
      LedgerRecord(2, "grant", "2027-11-28", "2026-11-29")], 1, "expired"),
    ([LedgerRecord(1, "withdraw", "", "2026-11-01")], 1, "no_consent"),
    ([], 1, "no_consent"),
    ([LedgerRecord(1, "grant", "2027-06-30", "2026-11-01")], 5, "no_consent"),
])
def test_a_template_stands_only_on_an_unbroken_grant(
        records: list[LedgerRecord], under: int, verdict: str | None) -> None:
    assert template_standing(records, under, TODAY) == verdict


# --- the gallery ---------------------------------------------------------------------


def test_the_matrix_gallery_agrees_with_comparing_one_by_one() -> None:
    rng = np.random.default_rng(7)
    people = {f"c{i}": [rng.normal(0, 0.1, 128) for _ in range(3)] for i in range(50)}
    gallery = Gallery(people)
    for _ in range(20):
        probe = people["c17"][0] + rng.normal(0, 0.01, 128)
        expected = sorted((min(float(np.linalg.norm(e - probe)) for e in encodings), child)
                          for child, encodings in people.items())
        match = identify(probe, gallery, threshold=10, margin=0)
        assert match.child_id == expected[0][1] == "c17"
        assert match.distance == pytest.approx(expected[0][0], abs=1e-3)
        assert match.margin == pytest.approx(expected[1][0] - expected[0][0], abs=1e-3)


# --- liveness ------------------------------------------------------------------------

needs_faces = pytest.mark.skipif(not FACES.is_dir(), reason="shared face images not present")


def _marks(rgb: np.ndarray) -> Landmarks:
    reading = read_face(rgb, only_one=False)
    assert reading.landmarks is not None, reading.result
    return reading.landmarks


@needs_faces
def test_a_head_turn_between_frames_passes_the_challenge() -> None:
    challenge = Challenge()
    assert not challenge.add(_marks(load_rgb(FR / "tests__test_images__obama.jpg")))
    assert challenge.add(_marks(load_rgb(FR / "tests__test_images__obama2.jpg")))
    assert challenge.turned


@needs_faces
@pytest.mark.parametrize("name", ["tests__test_images__obama.jpg",
                                  "examples__knn_examples__train__alex_lacamoire__img1.jpg",
                                  "examples__knn_examples__train__rose_leslie__img1.jpg"])
def test_a_flat_picture_turned_moved_or_tilted_does_not(name: str) -> None:
    face = load_rgb(FR / name)
    views = [face, turned_print(face, 0.05), turned_print(face, 0.1), turned_print(face, 0.15),
             cv2.resize(face, None, fx=0.8, fy=0.8),
             cv2.warpAffine(face, cv2.getRotationMatrix2D(
                 (face.shape[1] / 2, face.shape[0] / 2), 12, 1.0),
                 (face.shape[1], face.shape[0]))]
    challenge = Challenge()
    for view in views:
        assert not challenge.add(_marks(np.ascontiguousarray(view)))
    assert challenge.parallax < PARALLAX


@needs_faces
def test_a_blink_passes_and_still_eyes_do_not() -> None:
    marks = _marks(load_rgb(FR / "tests__test_images__obama.jpg"))
    shut = {k: list(v) for k, v in marks.items()}
    for eye in ("left_eye", "right_eye"):
        points = shut[eye]
        middle = (points[0][1] + points[3][1]) // 2
        shut[eye] = [(x, middle) for x, _ in points]
    still = Challenge()
    for _ in range(5):
        still.add(marks)
    assert not still.passed
    blink = Challenge()
    for frame in (marks, shut, marks):
        blink.add(frame)
    assert blink.blinked
    assert not_flat(marks, marks) == pytest.approx(0, abs=1e-6)


@needs_faces
@pytest.mark.parametrize("held", [
    {"bezel": (255, 255, 255), "border": 14, "size": (320, 400), "at": (150, 40)},
    {"bezel": (10, 10, 10), "border": 18, "size": (320, 400), "at": (150, 40)},
    {"bezel": (255, 255, 255), "border": 14, "tilt": 0.06, "size": (320, 400),
     "at": (150, 40)},
])
def test_a_picture_held_up_in_front_of_the_camera_shows_its_edges(
        held: dict[str, object]) -> None:
    frame = held_up(load_rgb(FR / "tests__test_images__obama2.jpg"), **held)  # type: ignore[arg-type]
    reading = read_face(frame.copy(), only_one=False)
    assert reading.box is not None
    assert held_up_picture(frame, reading.box)


@needs_faces
def test_no_genuine_picture_of_the_set_is_taken_for_a_held_up_one() -> None:
    checked = 0
    for path in sorted(FR.iterdir()):
        rgb = load_rgb(path)
        rgb = cv2.resize(rgb, (640, 640 * rgb.shape[0] // rgb.shape[1]))  # a door frame
        for box in face_recognition.face_locations(rgb, 1):
            assert not held_up_picture(rgb, box), path.name
            checked += 1
    assert checked >= 25
