"""The capture pipeline with the file-backed camera: real clips, real decoders, real threads."""

from __future__ import annotations

import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pytest

from protocol import cards
from provisioning.card_print import IssuedCard, write_png
from terminal.capture import simulated
from terminal.capture.decoders import MultiPassReader, ZxingDecoder, default_reader, read_image
from terminal.capture.pipeline import CapturePipeline, run_until_done
from terminal.capture.sources import ClipSource, Frame, PictureSource, write_clip
from terminal.errors import SetupError


def _card_pictures(directory: Path, count: int) -> tuple[list[np.ndarray], list[str]]:
    today = date(2026, 11, 23)
    pictures, texts = [], []
    for i in range(count):
        card = cards.Card("KG1", f"child-{i:05d}-x7q", cards.serial_text(bytes([i] * 5)), today,
                          today + timedelta(days=30))
        text = cards.sign_card(card, bytes(32))
        path = directory / f"card{i}.png"
        write_png(IssuedCard(card, text, f"Name{i}", "KG"), path, dpi=150)
        pictures.append(read_image(str(path)))
        texts.append(text)
    return pictures, texts


def test_clip_of_a_morning_gives_each_card_once_in_order(tmp_path: Path) -> None:
    pictures, texts = _card_pictures(tmp_path, 3)
    frames = simulated.door_clip(pictures, np.random.default_rng(5))
    clip = write_clip(frames, tmp_path / "door.avi")
    seen: list[str] = []
    pipeline = CapturePipeline(ClipSource(clip, paced=False), default_reader(),
                               lambda text, frame: seen.append(text), queue_size=len(frames))
    run_until_done(pipeline)
    assert seen == texts
    stats = pipeline.stats.snapshot()
    assert stats["frames_in"] == len(frames)
    assert stats["frames_dropped"] == 0
    assert stats["source_ended"] is True


class _SlowReader(MultiPassReader):
    def read(self, gray: np.ndarray) -> list[str]:
        time.sleep(0.02)
        return super().read(gray)


def test_a_slow_decoder_drops_frames_instead_of_lagging(tmp_path: Path) -> None:
    pictures, _texts = _card_pictures(tmp_path, 1)
    frames = simulated.door_clip(pictures, np.random.default_rng(6), idle_frames=40)
    clip = write_clip(frames, tmp_path / "door.avi")
    seen: list[str] = []
    pipeline = CapturePipeline(ClipSource(clip, paced=False), _SlowReader(ZxingDecoder()),
                               lambda text, frame: seen.append(text), queue_size=2)
    run_until_done(pipeline)
    stats = pipeline.stats.snapshot()
    assert stats["frames_dropped"] > 0
    assert stats["frames_decoded"] + stats["frames_dropped"] == stats["frames_in"]
    assert stats["frames_in"] == len(frames)


def test_same_code_held_up_is_handed_over_once(tmp_path: Path) -> None:
    _pictures, texts = _card_pictures(tmp_path, 1)
    paths = []
    for i in range(4):
        path = tmp_path / f"f{i}.png"
        write_png(IssuedCard(cards.read_card(texts[0])[0], texts[0], "N", "KG"), path, dpi=150)
        paths.append(path)
    seen: list[tuple[str, int]] = []
    pipeline = CapturePipeline(PictureSource(paths), default_reader(),
                               lambda text, frame: seen.append((text, frame.captured_ns)),
                               queue_size=10, same_code_pause_s=3600)
    run_until_done(pipeline)
    assert [t for t, _ in seen] == texts  # four frames of the same card: one check-in


class _BrokenCamera:
    name = "camera:9"

    def read(self) -> Frame | None:
        raise SetupError("camera /dev/video9 stopped delivering frames")

    def close(self) -> None:
        pass


def test_a_failing_camera_is_reported_not_fatal() -> None:
    pipeline = CapturePipeline(_BrokenCamera(), default_reader(), lambda text, frame: None)
    run_until_done(pipeline, timeout_s=10)
    stats = pipeline.stats.snapshot()
    assert "stopped delivering" in str(stats["source_error"])
    assert stats["source_ended"] is True


def test_unreadable_clip_is_a_setup_error(tmp_path: Path) -> None:
    (tmp_path / "x.avi").write_bytes(b"nothing")
    with pytest.raises(SetupError):
        ClipSource(tmp_path / "x.avi")
