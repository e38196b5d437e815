"""The kiosk's green screen says arrival or departure in words, in Kazakh and Russian, in a
real headless Chromium: a new arrival, a new departure, and a repeat of each (a scan again
at once, which records nothing new)."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import requests

from terminal.capture import simulated
from terminal.capture.sources import write_clip
from tests.browser import Page, artefact, chromium
from tests.helpers import QATYS, ServerProcess, enrol, free_port, run, wait_for_kiosk

PIN = "2468"
CHILD = "child-00011-x7q"
WORDS = {
    "in": {"kk": "Қош келдің!", "ru": "Добро пожаловать!"},
    "out": {"kk": "Сау бол!", "ru": "До свидания!"},
    "repeat_in": {"kk": "Қош келдің! Келгенің белгіленген",
                  "ru": "Добро пожаловать! Приход уже отмечен"},
    "repeat_out": {"kk": "Сау бол! Кеткенің белгіленген", "ru": "До свидания! Уход уже отмечен"},
}


@pytest.fixture
def kiosk(sqlite_server: ServerProcess, tmp_path: Path,
          runtime_env: dict[str, str]) -> Iterator[str]:
    """A kiosk on a clip with no card in it: every check-in here is a staff entry."""
    home = tmp_path / "door"
    enrol(sqlite_server, home, runtime_env)
    run("terminal", "set-pin", "--home", str(home), "--pin", PIN, env=runtime_env)
    rng = np.random.default_rng(5)
    clip = write_clip([simulated.empty_frame(rng) for _ in range(30)], tmp_path / "empty.avi")
    port = free_port()
    process = subprocess.Popen([*QATYS, "terminal", "run", "--home", str(home), "--clip",
                                str(clip), "--port", str(port)],
                               env={**os.environ, **runtime_env},
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_kiosk(url)
        yield url
    finally:
        process.terminate()
        assert process.wait(timeout=15) == 0


def _entry(url: str, direction: str) -> dict[str, object]:
    answer = requests.post(url + "/manual", json={"pin": PIN, "child_id": CHILD,
                                                  "reason": "card forgotten",
                                                  "direction": direction}, timeout=10)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def test_arrival_and_departure_in_words(kiosk: str, tmp_path: Path) -> None:
    chromium()
    pages = {lang: Page(tmp_path / f"profile-{lang}") for lang in ("kk", "ru")}
    try:
        for lang, page in pages.items():
            page.goto(f"{kiosk}/?lang={lang}")
            page.wait_for("document.getElementById('net').textContent.length > 0")
        for direction, key in (("in", "in"), ("in", "repeat_in"), ("out", "out"),
                               ("out", "repeat_out")):
            result = _entry(kiosk, direction)
            assert result["direction"] == direction
            assert result["repeat"] is key.startswith("repeat")
            for lang, page in pages.items():
                expected = json.dumps(WORDS[key][lang])
                page.wait_for("document.getElementById('result').className === 'green' && "
                              "document.getElementById('result-message').textContent === "
                              f"{expected}")
                page.screenshot(artefact(f"kiosk-{key}-{lang}.png"))
    finally:
        for page in pages.values():
            page.close()
