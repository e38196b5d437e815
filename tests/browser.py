"""A real headless Chromium (Debian's `chromium`) for the server's pages."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
          "--no-first-run", "--disable-background-networking", "--disable-sync",
          "--disable-extensions", "--disable-component-update", "--disable-quic",
          "--hide-scrollbars", "--lang=kk"]


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
