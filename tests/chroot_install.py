"""Build a Debian 12 chroot and run hardware/install-terminal.sh in it, as a newcomer would.

Started by conftest.py in the background when test_install_script.py is selected (most of
its time is downloading and unpacking Debian packages, so it runs while the other tests
use the CPU); the test waits for ``result.json`` and then inspects the chroot itself.

Before the genuine installation, and again once Qatys is installed, the script is given the
tampered bundles of tests/tampered_bundles.py; what each run printed and left behind is in
``result.json`` (``fresh_refusals``, ``update_refusals``) for the test to judge.

    python -m tests.chroot_install WORKDIR
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests import tampered_bundles

REPOSITORY = Path(__file__).resolve().parent.parent
BUNDLE_DIR = "/root/qatys"
SCRIPT = f"{BUNDLE_DIR}/hardware/install-terminal.sh"
PUBLIC_KEY = f"{BUNDLE_DIR}/qatys-release.pub"


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


def _debootstrap_and_tamper(work: Path, log: Path, bundle: Path,
                            timings: dict[str, float]) -> tuple[int, dict[str, Path]]:
    """debootstrap (mostly downloads) while the tampered bundles are made (mostly disk)."""
    argv = ["debootstrap", "--variant=minbase", "bookworm", str(work / "root")]
    started = time.monotonic()
    with log.open("a") as out:
        out.write(f"\n=== debootstrap: {' '.join(argv)}\n")
        out.flush()
        debootstrap = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
        try:
            tampered = tampered_bundles.make(bundle, work / "release.seed", work,
                                             work / "tampered")
            timings["tampered_bundles"] = round(time.monotonic() - started, 1)
        finally:
            code = debootstrap.wait()
    timings["debootstrap"] = round(time.monotonic() - started, 1)
    return code, tampered


def state(root: Path) -> dict[str, object]:
    """What a refused bundle must leave as it was: the installed releases (every file's size
    and time, every link), the trusted keys, the users and the commands."""
    opt = root / "opt/qatys"
    listing = hashlib.sha256()
    for path in sorted(opt.rglob("*")) if opt.exists() else []:
        if path.is_symlink():
            seen = f"-> {os.readlink(path)}"
        elif path.is_file():
            seen = f"{path.stat().st_size} {path.stat().st_mtime_ns}"
        else:
            seen = "dir"
        listing.update(f"{path.relative_to(opt)} {seen}\n".encode())
    current = opt / "current"
    passwd = (root / "etc/passwd").read_text()
    return {"opt_qatys": listing.hexdigest() if opt.exists() else None,
            "current": os.readlink(current) if current.is_symlink() else None,
            "release_keys": sorted(p.name for p in (root / "etc/qatys/release-keys").glob("*")),
            "users": [u for u in ("qatys", "qatys-kiosk") if f"\n{u}:" in f"\n{passwd}"],
            "commands": [c for c in ("qatys", "qatys-update")
                         if (root / "usr/local/bin" / c).exists()]}


def _tampered_runs(root: Path, log: Path, bundles: dict[str, Path], cases: list[str],
                   extra: list[str], timings: dict[str, float], stage: str) -> dict[str, object]:
    """The install script given each tampered bundle: exit code, output, marker, state."""
    marker = root / tampered_bundles.MARKER.lstrip("/")
    runs: dict[str, object] = {}
    for case in cases:
        before = state(root)
        argv = ["chroot", str(root), SCRIPT, "--bundle",
                f"{BUNDLE_DIR}/tampered/{bundles[case].name}", *extra]
        started = time.monotonic()
        done = subprocess.run(argv, capture_output=True, text=True, timeout=900, check=False)
        timings[f"{stage}_{case}"] = round(time.monotonic() - started, 1)
        with log.open("a") as out:
            out.write(f"\n=== {stage} {case}: {' '.join(argv)}\n{done.stdout}{done.stderr}")
        runs[case] = {"exit": done.returncode, "output": (done.stdout + done.stderr)[-3000:],
                      "marker": marker.exists(), "before": before, "after": state(root)}
        marker.unlink(missing_ok=True)
        extra = [a for a in extra if a != "--no-apt"] + ["--no-apt"]  # Debian's are in now
    return runs


def _marker_control(root: Path) -> dict[str, object]:
    """The marker wheel's updater, run on purpose: it must leave the marker (else its absence
    after a refusal would prove nothing)."""
    marker = root / tampered_bundles.MARKER.lstrip("/")
    done = subprocess.run(["chroot", str(root), "env",
                           f"PYTHONPATH={BUNDLE_DIR}/tampered/marker.whl", "python3", "-P", "-m",
                           "terminal.updater", "status"],
                          capture_output=True, text=True, timeout=300, check=False)
    seen = {"exit": done.returncode, "marker": marker.exists(), "output": done.stderr[-1000:]}
    marker.unlink(missing_ok=True)
    return seen


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
    bundle = next((work / "dist").glob("qatys-*.tar"))
    code, tampered = _debootstrap_and_tamper(work, log, bundle, timings)
    if code:
        return {"failed": "debootstrap", "timings": timings}
    shutil.copy("/etc/resolv.conf", root / "etc" / "resolv.conf")
    target = root / BUNDLE_DIR.lstrip("/")
    shutil.copytree(REPOSITORY / "hardware", target / "hardware")
    shutil.copy(bundle, target / bundle.name)
    shutil.copy(work / "qatys-release.pub", target / "qatys-release.pub")
    (work / "tampered").rename(target / "tampered")
    subprocess.run(["mount", "-t", "proc", "proc", str(root / "proc")], check=True)
    refused = list(tampered_bundles.CODES)
    # the first run installs the Debian packages, then refuses: the bundle's updater would run
    # on this path if the script did not check first
    fresh = _tampered_runs(root, log, tampered, refused, ["--release-key", PUBLIC_KEY],
                           timings, "fresh")
    # run from a folder holding a terminal/ package (as a source checkout on the USB stick
    # does): the verified wheel's updater must be what runs, not the folder's
    decoy = root / "root/checkout/terminal"
    decoy.mkdir(parents=True)
    (decoy / "__init__.py").write_text(tampered_bundles.payload())
    code = _step(log, "install", [
        "chroot", str(root), "sh", "-c", 'cd /root/checkout && exec "$0" "$@"', SCRIPT,
        "--bundle", f"{BUNDLE_DIR}/{bundle.name}", "--release-key", PUBLIC_KEY,
        "--camera", "0"], timings)
    install_marker = (root / tampered_bundles.MARKER.lstrip("/")).exists()
    update = _tampered_runs(root, log, tampered, [*refused, "signed_marker"], ["--no-apt"],
                            timings, "update") if code == 0 else {}
    return {"install_exit": code, "bundle": f"{BUNDLE_DIR}/{bundle.name}",
            "genuine_bundle": str(bundle), "install_marker": install_marker,
            "fresh_refusals": fresh, "update_refusals": update,
            "marker_control": _marker_control(root), "timings": timings}


def run_build(build: Callable[[Path], dict[str, Any]]) -> int:
    """``python -m`` entry of a background build (this one, tests/arm64_install.py): the
    result, or how it failed, into WORKDIR/result.json for the waiting test."""
    work = Path(sys.argv[1])
    work.mkdir(parents=True, exist_ok=True)
    try:
        result = build(work)
    except Exception as exc:  # reported to the waiting test, which fails with it
        result = {"failed": "".join(traceback.format_exception(exc))[-3000:]}
    (work / "result.json").write_text(json.dumps(result))
    return 0


def main() -> int:
    return run_build(build)


if __name__ == "__main__":
    sys.exit(main())
