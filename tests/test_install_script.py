"""hardware/install-terminal.sh in a fresh Debian 12 chroot (debootstrap): it runs to
completion, the units pass ``systemd-analyze verify``, the installed software starts, and a
second run is harmless; tampered bundles are refused, before and after the installation,
with nothing of theirs run. Built in the background by tests/chroot_install.py."""

from __future__ import annotations

import io
import json
import os
import subprocess
import tarfile
import zipfile
from pathlib import Path
from typing import Any

from tests.tampered_bundles import CODES

UNITS = ["/etc/systemd/system/qatys-terminal.service", "/etc/systemd/system/qatys-kiosk.service"]


def in_chroot(root: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["chroot", str(root), *argv], capture_output=True, text=True,
                          timeout=600, check=False)


def test_install_script_in_a_debian_12_chroot(chroot_build: Path) -> None:
    result = json.loads((chroot_build / "result.json").read_text())
    log = (chroot_build / "log.txt").read_text(errors="replace") if (
        chroot_build / "log.txt").exists() else ""
    assert result.get("install_exit") == 0, (result, log[-3000:])
    # run from a folder with a terminal/ package of its own, which must not be what ran
    assert result["install_marker"] is False
    root = chroot_build / "root"

    verify = in_chroot(root, "systemd-analyze", "verify", *UNITS)
    assert verify.returncode == 0, verify.stderr
    assert verify.stderr.strip() == "", verify.stderr  # not even a warning

    version = in_chroot(root, "/usr/local/bin/qatys", "--version")
    assert version.returncode == 0, version.stderr
    assert version.stdout.startswith("qatys, version ")
    check = in_chroot(root, "/usr/local/bin/qatys", "terminal", "selfcheck",
                      "--home", "/var/lib/qatys/terminal")
    assert json.loads(check.stdout)["result"] == "ok", check.stdout + check.stderr
    status = json.loads(in_chroot(root, "/usr/local/bin/qatys-update", "status").stdout)
    assert status["current"] == status["installed"][0]
    assert status["previous"] is None

    # a terminal's release carries the terminal's packages only; the server's commands say so
    assert not list((root / "opt/qatys/current/lib").glob("python3*/site-packages/sqlalchemy"))
    server = in_chroot(root, "/usr/local/bin/qatys", "server", "run", "--data", "/tmp/x")
    assert server.returncode == 2, server.stdout + server.stderr
    assert "'server' is not available in this installation" in server.stderr, server.stderr
    assert "Traceback" not in server.stderr

    wants = root / "etc/systemd/system"
    assert (wants / "multi-user.target.wants/qatys-terminal.service").is_symlink()
    assert (wants / "graphical.target.wants/qatys-kiosk.service").is_symlink()
    assert os.readlink(root / "etc/systemd/system/default.target").endswith("graphical.target")
    assert (root / "etc/systemd/journald.conf.d/qatys.conf").read_text().count(
        "Storage=volatile") == 1
    home = root / "var/lib/qatys/terminal"
    assert oct(home.stat().st_mode & 0o777) == "0o700"
    assert (root / "etc/qatys/terminal.env").read_text().count("QATYS_CAMERA=0") == 1

    # Running it again changes nothing and succeeds; bad arguments are refused with exit 2.
    again = in_chroot(root, "/root/qatys/hardware/install-terminal.sh", "--bundle",
                      result["bundle"], "--no-apt")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "same_version" in again.stdout
    assert json.loads(in_chroot(root, "/usr/local/bin/qatys-update", "status").stdout) == status
    for bad in (["--bundle", "/nowhere.tar"], ["--bundle", result["bundle"], "--camera", "x"],
                ["--frobnicate"]):
        refused = in_chroot(root, "/root/qatys/hardware/install-terminal.sh", *bad, "--no-apt")
        assert refused.returncode == 2, (bad, refused.stdout, refused.stderr)


def test_units_name_only_what_the_install_script_installs() -> None:
    """The units start the paths the script creates (checked without a chroot too)."""
    hardware = Path(__file__).resolve().parent.parent / "hardware"
    terminal = (hardware / "systemd/qatys-terminal.service").read_text()
    script = (hardware / "install-terminal.sh").read_text()
    assert "ExecStart=/opt/qatys/current/bin/qatys terminal run --home /var/lib/qatys/terminal" \
        in terminal
    assert "WatchdogSec=" in terminal
    assert "Type=notify" in terminal
    assert "/opt/qatys/current" in script
    assert "/var/lib/qatys/terminal" in script
    policy = json.loads((hardware / "etc/chromium-policy.json").read_text())
    kiosk = (hardware / "systemd/qatys-kiosk.service").read_text()
    assert all(url in kiosk for url in policy["URLAllowlist"])


def _result(chroot_build: Path) -> dict[str, Any]:
    result: dict[str, Any] = json.loads((chroot_build / "result.json").read_text())
    assert "failed" not in result, result
    # the tampered wheel's updater leaves its marker when it is run: its absence means something
    assert result["marker_control"]["marker"] is True, result["marker_control"]
    return result


def _refused(case: str, run: dict[str, Any]) -> None:
    assert run["exit"] == 2, (case, run["output"])
    assert f"install: refused: {CODES[case]}: " in run["output"], (case, run["output"])
    assert run["marker"] is False, (case, run["output"])
    assert run["after"] == run["before"], case


def test_a_fresh_install_refuses_tampered_bundles_before_running_them(
        chroot_build: Path) -> None:
    """On a machine without Qatys the script would run the bundle's own updater: each bad
    bundle is refused with its code first, and leaves no release, key, user or command."""
    fresh = _result(chroot_build)["fresh_refusals"]
    assert sorted(fresh) == sorted(CODES)
    untouched = {"opt_qatys": None, "current": None, "release_keys": [], "users": [],
                 "commands": []}
    for case, run in fresh.items():
        _refused(case, run)
        assert run["after"] == untouched, case


def test_an_installed_terminal_refuses_tampered_bundles_and_applies_with_its_own_updater(
        chroot_build: Path) -> None:
    result = _result(chroot_build)
    assert result["install_exit"] == 0
    update = result["update_refusals"]
    assert sorted(update) == sorted([*CODES, "signed_marker"])
    for case in CODES:
        _refused(case, update[case])
        assert update[case]["after"]["current"] == "releases/0.1.0", case
        assert update[case]["after"]["release_keys"] == ["qatys-release.pub"], case
    # a signed bundle whose own updater is bad: the installed qatys-update applied it
    # (same_version), the bundle's updater never ran
    signed = update["signed_marker"]
    assert signed["exit"] == 0, signed["output"]
    assert '"code": "same_version"' in signed["output"]
    assert signed["marker"] is False
    assert signed["after"] == signed["before"]


def test_tools_is_in_neither_the_wheel_nor_the_installed_release(chroot_build: Path) -> None:
    """tools/ (the queue-core stand-in, the release builder) stays in the source tree."""
    result = _result(chroot_build)
    with tarfile.open(result["genuine_bundle"]) as bundle:
        members = bundle.getnames()
        own = next(name for name in members if name.startswith("wheels/qatys-"))
        stream = bundle.extractfile(own)
        assert stream is not None
        wheel = zipfile.ZipFile(io.BytesIO(stream.read()))
    assert all(n in ("release.json", "release.sig") or n.startswith("wheels/") for n in members)
    names = wheel.namelist()
    assert "terminal/updater.py" in names
    assert [n for n in names if n.split("/")[0] == "tools"] == []
    top_level = next(n for n in names if n.endswith(".dist-info/top_level.txt"))
    assert "tools" not in wheel.read(top_level).decode().split()
    site = chroot_build / "root/opt/qatys/current/lib/python3.11/site-packages"
    assert (site / "terminal" / "updater.py").is_file()
    assert not (site / "tools").exists()
