"""Build a Debian 12 chroot and run hardware/install-terminal.sh in it, as a newcomer would.

Started by conftest.py in the background when test_install_script.py is selected (most of
its time is downloading and unpacking Debian packages, so it runs while the other tests
use the CPU); the test waits for ``result.json`` and then inspects the chroot itself.

    python -m tests.chroot_install WORKDIR
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parent.parent
BUNDLE_DIR = "/root/qatys"


def possible() -> str:
    """Empty when a chroot can be built here, else why not."""
    if os.geteuid() != 0:
        return "building a chroot needs root"
    if shutil.which("debootstrap") is None:
        return "debootstrap is not installed (make test installs it)"
    return ""


def _step(log: Path, name: str, argv: list[str], timings: dict[str, float]) -> int:
    started = time.monotonic()
    with log.open("a") as out:
        out.write(f"\n=== {name}: {' '.join(argv)}\n")
        out.flush()
        code = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, check=False).returncode
    timings[name] = round(time.monotonic() - started, 1)
    return code


def build(work: Path) -> dict[str, object]:
    root, log, timings = work / "root", work / "log.txt", {}
    python = sys.executable
    release = [python, "-m", "tools.release"]
    with (work / "qatys-release.pub").open("w") as public:
        subprocess.run([*release, "keygen", "--out", str(work / "release.seed")], stdout=public,
                       check=True, cwd=REPOSITORY)
    if _step(log, "bundle", [*release, "build", "--key", str(work / "release.seed"),
                             "--out", str(work / "dist")], timings):
        return {"failed": "bundle", "timings": timings}
    if _step(log, "debootstrap", ["debootstrap", "--variant=minbase", "bookworm", str(root)],
             timings):
        return {"failed": "debootstrap", "timings": timings}
    shutil.copy("/etc/resolv.conf", root / "etc" / "resolv.conf")
    target = root / BUNDLE_DIR.lstrip("/")
    shutil.copytree(REPOSITORY / "hardware", target / "hardware")
    bundle = next((work / "dist").glob("qatys-*.tar"))
    shutil.copy(bundle, target / bundle.name)
    shutil.copy(work / "qatys-release.pub", target / "qatys-release.pub")
    subprocess.run(["mount", "-t", "proc", "proc", str(root / "proc")], check=True)
    code = _step(log, "install", [
        "chroot", str(root), f"{BUNDLE_DIR}/hardware/install-terminal.sh",
        "--bundle", f"{BUNDLE_DIR}/{bundle.name}",
        "--release-key", f"{BUNDLE_DIR}/qatys-release.pub", "--camera", "0"], timings)
    return {"install_exit": code, "bundle": f"{BUNDLE_DIR}/{bundle.name}", "timings": timings}


def main() -> int:
    work = Path(sys.argv[1])
    work.mkdir(parents=True, exist_ok=True)
    try:
        result = build(work)
    except Exception as exc:  # reported to the waiting test, which fails with it
        result = {"failed": f"{type(exc).__name__}: {exc}"}
    (work / "result.json").write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
