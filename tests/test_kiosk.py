"""The kiosk end to end: `qatys terminal run` on a clip of a printed card, its page in a real
headless Chromium (green name screen in KZ and RU, screenshots kept), its event stream, and
staff manual entry behind the PIN."""

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
from terminal.capture.decoders import read_image
from terminal.capture.sources import write_clip
from tests.browser import Page, artefact, chromium
from tests.helpers import QATYS, ServerProcess, enrol, free_port, run, wait_for_kiosk


@pytest.fixture(scope="module")
def server(sqlite_server: ServerProcess) -> ServerProcess:
    """SQLite only here: the kiosk is the terminal's side, and the server's storage runs on
    PostgreSQL in the ingest, card, consent, money and queue-core tests (keeps `make test`
    within its time)."""
    return sqlite_server



def _door_clip(card_png: Path, out: Path, lead_in_frames: int) -> Path:
    rng = np.random.default_rng(11)
    frames = [simulated.empty_frame(rng) for _ in range(lead_in_frames)]
    frames += simulated.door_clip([read_image(str(card_png))], rng, idle_frames=5)
    return write_clip(frames, out)


@pytest.fixture
def kiosk(server: ServerProcess, tmp_path: Path,
          runtime_env: dict[str, str]) -> Iterator[str]:
    run("card", "issue", "--data", str(server.data_dir), "--child", "child-00007-x7q",
        "--out", str(tmp_path / "card.png"))
    home = tmp_path / "door"
    enrol(server, home, runtime_env)
    run("terminal", "set-pin", "--home", str(home), "--pin", "2468", env=runtime_env)
    clip = _door_clip(tmp_path / "card.png", tmp_path / "door.avi", lead_in_frames=75)
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
        assert process.wait(timeout=15) == 0  # SIGTERM stops the kiosk cleanly


def test_green_name_screen_in_kazakh_and_russian(kiosk: str, server: ServerProcess,
                                                 tmp_path: Path) -> None:
    chromium()
    url = kiosk
    kk, ru = Page(tmp_path / "profile-kk"), Page(tmp_path / "profile-ru")
    try:
        kk.goto(url + "/?lang=kk")
        ru.goto(url + "/?lang=ru")
        for page in (kk, ru):
            page.wait_for("document.getElementById('net').textContent.length > 0")
        # The card comes into view five seconds into the clip; both pages get the push.
        kk.wait_for("document.getElementById('result').className === 'green'")
        ru.wait_for("document.getElementById('result').className === 'green'")
        assert kk.evaluate("document.getElementById('result-name').textContent") \
            == "Aruzhanka0007"
        assert kk.evaluate("document.getElementById('result-message').textContent") \
            == "Қош келдің!"
        assert ru.evaluate("document.getElementById('result-message').textContent") \
            == "Добро пожаловать!"
        receipt = kk.evaluate("document.getElementById('result-receipt').textContent")
        assert len(receipt) == 7
        kk.screenshot(artefact("kiosk-green-kk.png"))
        ru.screenshot(artefact("kiosk-green-ru.png"))
        ru.wait_for("document.getElementById('net').getAttribute('data-pending') === '0'")
    finally:
        kk.close()
        ru.close()
    assert (artefact("kiosk-green-kk.png")).read_bytes().startswith(b"\x89PNG")
    exported = run("events", "export", "--data", str(server.data_dir), "--format",
                   "jsonl").stdout.splitlines()
    door = [json.loads(x) for x in exported if json.loads(x)["receipt"] == receipt]
    assert [(e["child_id"], e["method"]) for e in door] == [("child-00007-x7q", "qr-card")]


def test_event_stream_and_manual_entry_behind_the_pin(kiosk: str) -> None:
    url = kiosk
    with requests.get(url + "/events", stream=True, timeout=30) as stream:
        lines = stream.iter_lines(decode_unicode=True)
        assert next(lines) == "event: status"
        status = json.loads(next(lines)[len("data: "):])
        assert status["manual_entry"] is True
        garbage = requests.post(url + "/manual", data=b"not json", timeout=10,
                                headers={"Content-Type": "application/json"})
        assert garbage.status_code == 400
        assert garbage.json()["reason"] == "bad_request"
        wrong = requests.post(url + "/manual", json={"pin": "0000", "child_id":
                                                     "child-00008-x7q", "reason": "x"},
                              timeout=10)
        assert wrong.status_code == 400
        assert wrong.json()["reason"] == "pin_wrong"
        no_reason = requests.post(url + "/manual", json={"pin": "2468", "child_id":
                                                         "child-00008-x7q", "reason": " "},
                                  timeout=10)
        assert no_reason.json()["reason"] == "reason_required"
        ok = requests.post(url + "/manual", json={"pin": "2468", "child_id": "child-00008-x7q",
                                                  "reason": "card forgotten"}, timeout=10)
        assert ok.status_code == 200
        assert ok.json()["method"] == "manual"
        pushed = []
        for line in lines:
            if line.startswith("data: ") and '"result"' in line:
                pushed.append(json.loads(line[len("data: "):]))
                if pushed[-1]["result"] == "accepted":
                    break
        assert pushed[-1]["first_name"] == "Aruzhanka0008"
        assert pushed[-1]["colour"] == "green"
    for _ in range(5):  # five wrong PINs in a row lock manual entry, even for the right one
        requests.post(url + "/manual", json={"pin": "1111", "child_id": "x", "reason": "x"},
                      timeout=10)
    locked = requests.post(url + "/manual", json={"pin": "2468", "child_id": "child-00009-x7q",
                                                  "reason": "x"}, timeout=10)
    assert locked.json()["reason"] == "pin_locked"


def test_bad_kiosk_setup_exits_2(server: ServerProcess, tmp_path: Path,
                                 runtime_env: dict[str, str]) -> None:
    home = tmp_path / "door"
    enrol(server, home, runtime_env)
    short = run("terminal", "set-pin", "--home", str(home), "--pin", "12", env=runtime_env,
                check=False)
    assert short.returncode == 2
    assert "4-12 digits" in short.stderr
    (tmp_path / "broken.avi").write_bytes(b"no video here")
    broken = run("terminal", "run", "--home", str(home), "--clip", str(tmp_path / "broken.avi"),
                 env=runtime_env, check=False)
    assert broken.returncode == 2
    assert "not a readable video clip" in broken.stderr
