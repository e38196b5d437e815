"""First boot: an unenrolled terminal shows "scan the enrolment code" (KZ/RU) in headless
Chromium, reads the token QR from a clip made of the token's PNG (``qatys terminal token
--qr``) and enrols itself, then serves the door screen; it tells systemd READY=1 and pings
the watchdog through a real notify socket. Codes that are not enrolment codes, used tokens
and an unreachable server are refused and leave the home empty."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import requests
import segno

from protocol import enrolment
from terminal.capture import simulated
from terminal.capture.decoders import read_image
from terminal.capture.sources import write_clip
from terminal.config import CONFIG_FILE
from terminal.kiosk.first_boot import EnrolmentDesk
from tests.browser import Page, artefact, chromium
from tests.helpers import QATYS, ServerProcess, free_port, run


@pytest.fixture(scope="module")
def server(sqlite_server: ServerProcess) -> ServerProcess:
    return sqlite_server


def token_qr(server: ServerProcess, out: Path) -> str:
    """A one-time token; its QR (what the installer shows to the camera) goes to ``out``."""
    return run("terminal", "token", "--data", str(server.data_dir), "--kindergarten", "KG1",
               "--qr", str(out)).stdout.strip().splitlines()[-1]


def notifications(sock: socket.socket, until: float) -> list[str]:
    said = []
    sock.settimeout(0.2)
    while time.monotonic() < until:
        try:
            said.append(sock.recv(4096).decode())
        except TimeoutError:
            continue
    return said


def test_enrols_from_the_token_qr_shown_to_the_camera(server: ServerProcess, tmp_path: Path,
                                                      runtime_env: dict[str, str]) -> None:
    token_qr(server, tmp_path / "token.png")
    segno.make("https://example.org/not-an-enrolment-code", error="m").save(
        str(tmp_path / "other.png"), scale=10, border=4)
    rng = np.random.default_rng(5)
    frames = [simulated.empty_frame(rng) for _ in range(45)]  # 3 s of an empty door first
    frames += simulated.door_clip([read_image(str(tmp_path / "other.png")),
                                   read_image(str(tmp_path / "token.png"))], rng,
                                  idle_frames=5, held_frames=20)
    clip = write_clip(frames, tmp_path / "installer.avi")
    home, port = tmp_path / "new-terminal", free_port()
    notify_path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(notify_path))
    env = {**os.environ, **runtime_env, "NOTIFY_SOCKET": str(notify_path),
           "WATCHDOG_USEC": "400000"}
    process = subprocess.Popen([*QATYS, "terminal", "run", "--home", str(home), "--clip",
                                str(clip), "--port", str(port)], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    chromium()
    page = Page(tmp_path / "profile")
    try:
        said = notifications(sock, time.monotonic() + 1.0)
        while not any(m.startswith("READY=1") for m in said):
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            said += notifications(sock, time.monotonic() + 0.5)
        assert requests.get(url + "/status", timeout=5).json()["mode"] == "enrolment"
        page.goto(url + "/")
        page.wait_for("document.body.innerText.includes('Тіркеу кодын камераға көрсетіңіз')")
        assert "Покажите камере код регистрации" in page.evaluate("document.body.innerText")
        page.screenshot(artefact("first-boot-enrolment.png"))
        assert not (home / CONFIG_FILE).exists()

        # The token QR comes into view; the page follows the terminal to the door screen.
        page.wait_for("document.getElementById('net') !== null", timeout=90)
        status = requests.get(url + "/status", timeout=5).json()
        assert status["mode"] == "door"
        assert status["kindergarten"] == "Балабақша 1"
        page.screenshot(artefact("first-boot-door.png"))
        said += notifications(sock, time.monotonic() + 1.0)
    finally:
        page.close()
        process.terminate()
        stderr = process.communicate(timeout=20)[1]
        sock.close()
    assert process.returncode == 0
    config = (home / CONFIG_FILE).read_text()
    assert "KG1" in config
    assert server.url in config
    assert sum(m.startswith("READY=1") for m in said) == 2  # enrolment screen, door screen
    assert said.count("WATCHDOG=1") >= 3
    refusals = [json.loads(line) for line in stderr.splitlines() if "first_boot.refused" in line]
    assert [r["reason"] for r in refusals] == ["not_enrolment_code"]
    terminals = run("terminal", "status", "--home", str(home), "--json",
                    env=runtime_env).stdout
    assert json.loads(terminals.strip().splitlines()[-1])["kindergarten"] == "KG1"


def test_used_token_and_unreachable_server_leave_the_home_empty(
        server: ServerProcess, tmp_path: Path, runtime_env: dict[str, str]) -> None:
    first, second = EnrolmentDesk(tmp_path / "a"), EnrolmentDesk(tmp_path / "b")
    token = token_qr(server, tmp_path / "t.png")
    uri = enrolment.enrolment_uri(server.url, enrolment.parse_token(token))
    first.on_code(uri)
    assert first.status()["state"] == "enrolled"
    second.on_code(uri)
    assert (second.status()["state"], second.status()["reason"]) == ("refused", "token_used")
    assert second.status()["message"]["ru"].startswith("Этот код уже использован")
    fresh = enrolment.parse_token(token_qr(server, tmp_path / "u.png"))
    second.on_code(enrolment.enrolment_uri(f"http://127.0.0.1:{free_port()}", fresh))
    assert second.status()["reason"] == "server_unreachable"
    second.on_code("QTK1-garbage")
    assert second.status()["reason"] == "not_enrolment_code"
    second.on_code("qatys://enrol?server=http://x&token=QTK1-short")
    assert second.status()["reason"] == "token_invalid"
    second.on_code(enrolment.enrolment_uri("http://192.0.2.10:8080", fresh))
    assert second.status()["reason"] == "plain_http"
    assert second.status()["message"]["kk"].startswith("Қорғалмаған байланыс")
    assert not (tmp_path / "b").exists() or not any((tmp_path / "b").iterdir())
    assert (tmp_path / "a" / CONFIG_FILE).exists()
