"""What a terminal tells the server about itself at each sync, for the fleet page: events
waiting, its clock, software version, camera and free storage (no personal data)."""

from __future__ import annotations

import shutil
from typing import Any

from protocol.health import CAMERA_STATES, CameraState
from qatys import __version__
from terminal import clock
from terminal.home import Terminal
from terminal.storage_guard import StorageLevel


def storage_problem(terminal: Terminal) -> str:
    """What selfcheck counts as a problem of the storage: "" when it can record, else its
    stable code first (``storage_full: …``, ``storage_readonly: …``)."""
    reading = terminal.storage.reading(probe=True)
    if reading.level == StorageLevel.READONLY:
        return (f"{reading.level}: the file system of {terminal.home} is read-only "
                "(the card was remounted): replace the card, then restart")
    if reading.level == StorageLevel.FULL:
        return (f"{reading.level}: {reading.free_bytes} bytes free above the reserve, "
                "under the floor")
    return ""  # storage_low is a warning (the ledger, the fleet page), not a failure


def health_report(terminal: Terminal, camera: CameraState = CameraState.NONE) -> dict[str, Any]:
    counts = terminal.store.counts()
    reading = clock.read()
    behind, behind_us = terminal.store.behind_record()
    found = {"server_behind": behind, "server_behind_us": behind_us} if behind_us else {}
    return {**found, "pending": counts.pending, "head_seq": counts.head_seq,
            "terminal_time_us": reading.time_us, "software_version": __version__,
            "camera": camera if camera in CAMERA_STATES else CameraState.NONE,
            "storage_free_bytes": shutil.disk_usage(terminal.home).free,
            "boot_id": reading.boot_id.hex(), "mono_ns": reading.mono_ns}
