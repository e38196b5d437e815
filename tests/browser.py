"""A real headless Chromium (Debian's `chromium`) for the server's pages."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
          "--no-first-run", "--disable-background-networking", "--disable-sync",
          "--disable-extensions", "--disable-component-update", "--disable-quic",
          "--hide-scrollbars", "--lang=kk"]


ARTEFACTS = Path(os.environ.get("QATYS_ARTEFACTS", Path(__file__).parent / "artefacts"))
"""Screenshots for people to look at (not compared); the folder is not in git."""


def artefact(name: str) -> Path:
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    return ARTEFACTS / name


def chromium() -> str:
    """The browser's path; a missing browser fails under `make test`, skips elsewhere."""
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    if os.environ.get("QATYS_REQUIRE_BROWSER") == "1":
        pytest.fail("Chromium is required here (make test installs it) but is missing")
    pytest.skip("Chromium not installed")


def _run(args: list[str], profile: Path) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([chromium(), *_FLAGS, f"--user-data-dir={profile}", *args],
                            capture_output=True, text=True, timeout=120, check=False)
    if result.returncode != 0:
        raise AssertionError(f"chromium exited {result.returncode}:\n{result.stderr[-2000:]}")
    return result


def dump_dom(url: str, profile: Path) -> str:
    """The page's DOM after it loaded and its scripts ran."""
    return _run(["--dump-dom", url], profile).stdout


def screenshot(url: str, out: Path, profile: Path, width: int = 390, height: int = 844) -> Path:
    """A PNG of the page at a phone-sized window (default 390×844)."""
    _run([f"--screenshot={out}", f"--window-size={width},{height}", url], profile)
    return out


class Page:
    """One tab of a real headless Chromium driven over the DevTools protocol, for pages that
    never finish loading (server-sent events, a live MJPEG preview)."""

    def __init__(self, profile: Path) -> None:
        import websocket

        self._process = subprocess.Popen(
            [chromium(), *_FLAGS, f"--user-data-dir={profile}", "--remote-debugging-port=0",
             "--window-size=800,480", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port = self._devtools_port(profile)
        targets = json.loads(urllib.request.urlopen(
            f"http://127.0.0.1:{port}/json/list", timeout=10).read())
        page = next(t for t in targets if t["type"] == "page")
        self._ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=30,
                                               suppress_origin=True)
        self._next_id = 0

    def _devtools_port(self, profile: Path) -> int:
        deadline = time.monotonic() + 30
        port_file = profile / "DevToolsActivePort"
        while time.monotonic() < deadline:
            if port_file.exists():
                text = port_file.read_text().split()
                if text:
                    return int(text[0])
            time.sleep(0.05)
        raise AssertionError("Chromium did not open its DevTools port")

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        self._next_id += 1
        self._ws.send(json.dumps({"id": self._next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self._ws.recv())
            if message.get("id") == self._next_id:
                if "error" in message:
                    raise AssertionError(f"{method}: {message['error']}")
                result: dict[str, Any] = message.get("result", {})
                return result

    def goto(self, url: str) -> None:
        self.call("Page.navigate", url=url)

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True,
                           awaitPromise=True)
        return result.get("result", {}).get("value")

    def wait_for(self, expression: str, timeout: float = 30.0) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = self.evaluate(expression)
            if value:
                return value
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {expression}")

    def set_files(self, selector: str, *paths: Path) -> None:
        """Choose ``paths`` in the file input at ``selector``, as a person picking files (or
        taking a photo) would: the form then sends their bytes."""
        root = self.call("DOM.getDocument", depth=0)["root"]["nodeId"]
        node = self.call("DOM.querySelector", nodeId=root, selector=selector)["nodeId"]
        if not node:
            raise AssertionError(f"no element {selector}")
        self.call("DOM.setFileInputFiles", nodeId=node, files=[str(p) for p in paths])

    def screenshot(self, out: Path, full_page: bool = False) -> Path:
        params: dict[str, Any] = {"format": "png"}
        if full_page:
            size = self.call("Page.getLayoutMetrics")["cssContentSize"]
            params.update(captureBeyondViewport=True, clip={
                "x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1})
        data = self.call("Page.captureScreenshot", **params)["data"]
        out.write_bytes(base64.b64decode(data))
        return out

    def close(self) -> None:
        try:
            self._ws.close()
        finally:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
