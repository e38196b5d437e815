"""The server's systemd units (hardware/systemd/qatys-server.service, qatys-worker.service,
qatys-backup.service and its timer) pass ``systemd-analyze verify`` and start the commands
docs/deployment.md and docs/operations.md name."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HARDWARE = Path(__file__).resolve().parent.parent / "hardware" / "systemd"
INSTALLED = "/opt/qatys/server/bin/qatys"


@pytest.mark.parametrize(("unit", "command"), [
    ("qatys-server.service", "server run --data /var/lib/qatys/server"),
    ("qatys-worker.service", "server worker --data /var/lib/qatys/server"),
    ("qatys-backup.service", "server backup --data /var/lib/qatys/server --out-dir "
                             "/var/backups/qatys --keep-daily 14 --keep-weekly 8")])
def test_the_unit_verifies_and_runs_its_command(unit: str, command: str, tmp_path: Path) -> None:
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed")
    text = (HARDWARE / unit).read_text()
    assert f"ExecStart={INSTALLED} {command}" in text
    # Verified as installed, with the qatys of this checkout where the bundle would put it.
    qatys = Path(sys.executable).with_name("qatys")
    (tmp_path / unit).write_text(text.replace(INSTALLED, str(qatys)))
    verified = subprocess.run(["systemd-analyze", "verify", str(tmp_path / unit)],
                              capture_output=True, text=True, timeout=60)
    assert verified.returncode == 0, verified.stderr
    assert verified.stderr.strip() == ""


def test_the_backup_timer_verifies_and_starts_the_backup_nightly(tmp_path: Path) -> None:
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed")
    qatys = Path(sys.executable).with_name("qatys")
    for unit in ("qatys-backup.service", "qatys-backup.timer"):
        (tmp_path / unit).write_text((HARDWARE / unit).read_text().replace(INSTALLED,
                                                                           str(qatys)))
    timer = (tmp_path / "qatys-backup.timer").read_text()
    assert "Unit=qatys-backup.service" in timer
    assert "OnCalendar=*-*-* 02:30:00" in timer
    verified = subprocess.run(["systemd-analyze", "verify", str(tmp_path / "qatys-backup.timer")],
                              capture_output=True, text=True, timeout=60)
    assert verified.returncode == 0, verified.stderr
    assert verified.stderr.strip() == ""
    nightly = subprocess.run(["systemd-analyze", "calendar", "*-*-* 02:30:00"],
                             capture_output=True, text=True, timeout=60)
    assert nightly.returncode == 0, nightly.stderr
