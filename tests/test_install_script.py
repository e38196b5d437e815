"""hardware/install-terminal.sh in a fresh Debian 12 chroot (debootstrap): it runs to
completion, the units pass ``systemd-analyze verify``, the installed software starts, and a
second run is harmless. Built in the background by tests/chroot_install.py."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

UNITS = ["/etc/systemd/system/qatys-terminal.service", "/etc/systemd/system/qatys-kiosk.service"]


def in_chroot(root: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["chroot", str(root), *argv], capture_output=True, text=True,
                          timeout=600, check=False)


def test_install_script_in_a_debian_12_chroot(chroot_build: Path) -> None:
    result = json.loads((chroot_build / "result.json").read_text())
    log = (chroot_build / "log.txt").read_text(errors="replace") if (
        chroot_build / "log.txt").exists() else ""
    assert result.get("install_exit") == 0, (result, log[-3000:])
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
