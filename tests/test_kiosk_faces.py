"""Face check-in at the running kiosk: `qatys terminal run` on a clip of a person turning the
head (two public pictures of one adult, alternating), staff enrolment behind the PIN with
its refusals, the green name screen from the face, withdrawal at the door; the page in a
real headless Chromium shows the refusal in Kazakh and Russian."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import pytest
import requests

from terminal.capture.sources import write_clip
from terminal.faces.engine import load_rgb
from tests.browser import Page, artefact, chromium
from tests.face_pictures import FACES, FR
from tests.helpers import QATYS, ServerProcess, enrol, free_port, run, wait_for_kiosk

pytestmark = pytest.mark.skipif(not FACES.is_dir(), reason="shared face images not present")
CHILD = "child-00016-x7q"
NO_CONSENT = "child-00017-x7q"


@pytest.fixture(scope="module")
def server(sqlite_server: ServerProcess) -> ServerProcess:
    """SQLite only: the kiosk is the terminal's side (test_faces covers both databases)."""
    return sqlite_server


def _turning_clip(out: Path) -> Path:
    """A person at the door turning the head: two pictures of one adult, half a second
    each, in colour at 640×480."""
    frames = []
    for name in ("tests__test_images__obama.jpg", "tests__test_images__obama2.jpg") * 4:
        rgb = load_rgb(FR / name)
        rgb = cv2.resize(rgb, (rgb.shape[1] * 480 // rgb.shape[0], 480))
        side = (640 - rgb.shape[1]) // 2
        rgb = cv2.copyMakeBorder(rgb, 0, 0, side, 640 - rgb.shape[1] - side,
                                 cv2.BORDER_CONSTANT, value=(200, 200, 190))
        frames += [cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)] * 8
    return write_clip(frames, out, fps=15.0)


class Events:
    """The kiosk's event stream, read in the background."""

    def __init__(self, url: str) -> None:
        self.items: queue.Queue[tuple[str, dict[str, Any]]] = queue.Queue()
        self.seen: list[tuple[str, object, object]] = []
        self._response = requests.get(url + "/events", stream=True, timeout=120)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        kind = ""
        try:
            for line in self._response.iter_lines(decode_unicode=True):
                if line.startswith("event: "):
                    kind = line[len("event: "):]
                elif line.startswith("data: "):
                    self.items.put((kind, json.loads(line[len("data: "):])))
        except (requests.RequestException, AttributeError, OSError):
            return  # closed by the test: urllib3 drops the socket under the reader

    def wait(self, kind: str, result: str, timeout: float = 90) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                got_kind, data = self.items.get(timeout=1)
            except queue.Empty:
                continue
            self.seen.append((got_kind, data.get("result"), data.get("reason") or data.get(
                "prompt")))
            if got_kind == kind and data.get("result") == result:
                return data
        raise AssertionError(f"no {kind} event with result {result} in {timeout} s; "
                             f"seen: {self.seen}")

    def close(self) -> None:
        self._response.close()


@pytest.fixture
def kiosk(server: ServerProcess, tmp_path: Path,
          runtime_env: dict[str, str]) -> Iterator[tuple[str, Path]]:
    home = tmp_path / "door"
    enrol(server, home, runtime_env)
    run("consent", "grant", "--data", str(server.data_dir), "--child", CHILD, "--paper", "f-16")
    run("terminal", "sync", "--home", str(home), "--quiet", env=runtime_env)
    run("terminal", "set-pin", "--home", str(home), "--pin", "2468", env=runtime_env)
    clip = _turning_clip(tmp_path / "turning.avi")
    port = free_port()
    log = (tmp_path / "kiosk.log").open("wb")
    process = subprocess.Popen([*QATYS, "terminal", "run", "--home", str(home), "--clip",
                                str(clip), "--port", str(port)],
                               env={**os.environ, **runtime_env},
                               stdout=subprocess.DEVNULL, stderr=log)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_kiosk(url)
        yield url, home
    finally:
        process.terminate()
        assert process.wait(timeout=20) == 0
        log.close()


def test_enrol_at_the_kiosk_then_the_face_checks_the_child_in(
        kiosk: tuple[str, Path], server: ServerProcess, runtime_env: dict[str, str]) -> None:
    url, home = kiosk
    events = Events(url)
    try:
        wrong = requests.post(url + "/face/enrol", json={"pin": "0000", "child_id": CHILD},
                              timeout=10)
        assert (wrong.status_code, wrong.json()["reason"]) == (400, "pin_wrong")
        refused = requests.post(url + "/face/enrol", json={"pin": "2468",
                                                           "child_id": NO_CONSENT}, timeout=10)
        assert (refused.status_code, refused.json()["reason"]) == (400, "no_consent")
        assert refused.json()["text"]["kk"].startswith("Ата-ананың келісімі жоқ")
        started = requests.post(url + "/face/enrol", json={"pin": "2468", "child_id": CHILD},
                                timeout=10)
        assert (started.status_code, started.json()["result"]) == (202, "started")
        busy = requests.post(url + "/face/enrol", json={"pin": "2468", "child_id": CHILD},
                             timeout=10)
        assert busy.json()["reason"] == "face_busy"
        enrolled = events.wait("scan", "enrolled")
        assert (enrolled["colour"], enrolled["text"]["ru"]) == ("green", "Лицо записано")
        arrived = events.wait("scan", "accepted")
        assert (arrived["first_name"], arrived["colour"]) == ("Aruzhanka0016", "green")
        for path in ("/face/enrol", "/face/withdraw"):
            garbage = requests.post(url + path, data=b"not json", timeout=10,
                                    headers={"Content-Type": "application/json"})
            assert (garbage.status_code, garbage.json()["reason"]) == (400, "bad_request")
        for pin, child, reason in (("0000", CHILD, "pin_wrong"),
                                   ("2468", "../etc", "bad_child_id"),
                                   ("2468", "nobody-00001", "unknown_child")):
            refused = requests.post(url + "/face/withdraw", json={
                "pin": pin, "child_id": child, "by": "x"}, timeout=10)
            assert (refused.status_code, refused.json()["reason"]) == (400, reason)
            assert refused.json()["text"]["ru"]
        assert json.loads(run("face", "list", "--home", str(home), env=runtime_env).stdout)[
            "child_id"] == CHILD  # still enrolled: the refusals changed nothing
        withdrawn = requests.post(url + "/face/withdraw", json={
            "pin": "2468", "child_id": CHILD, "by": "Айгүл"}, timeout=10)
        assert (withdrawn.status_code, withdrawn.json()["erased"]) == (200, 1)
    finally:
        events.close()
    listed = run("face", "list", "--home", str(home), env=runtime_env).stdout
    assert listed.strip() == ""
    run("terminal", "sync", "--home", str(home), "--quiet", env=runtime_env)
    events_out = [json.loads(x) for x in run("events", "export", "--data", str(
        server.data_dir), "--format", "jsonl").stdout.splitlines()]
    assert [(e["child_id"], e["method"]) for e in events_out
            if e["receipt"] == arrived["receipt"]] == [(CHILD, "face")]
    states = json.loads(run("consent", "list", "--data", str(server.data_dir),
                            "--kindergarten", "KG1").stdout)
    assert {s["child_id"]: s["source"] for s in states}[CHILD] == "terminal"


def test_the_page_says_why_enrolment_is_refused(kiosk: tuple[str, Path],
                                                tmp_path: Path) -> None:
    chromium()
    url, _ = kiosk
    page = Page(tmp_path / "profile")
    try:
        page.goto(url + "/?lang=kk")
        page.wait_for("document.getElementById('face-open') !== null")
        page.evaluate("document.getElementById('face-open').click()")
        page.evaluate("(function () { var f = document.getElementById('face-form');"
                      f"f.pin.value = '2468'; f.child_id.value = '{NO_CONSENT}';"
                      "document.getElementById('face-enrol').click(); })()")
        page.wait_for("document.getElementById('face-error').textContent.length > 0")
        assert page.evaluate("document.getElementById('face-error').textContent") == \
            "Ата-ананың келісімі жоқ — QR қолданыңыз"
        page.screenshot(artefact("kiosk-face-refused-kk.png"))
    finally:
        page.close()
