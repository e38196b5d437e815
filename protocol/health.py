"""The health report a terminal sends at each sync (``POST /api/v1/terminal/health``, a
signed JSON body): counts and states for the fleet page, nothing about children."""

from __future__ import annotations

from enum import StrEnum

HEALTH_FIELDS: dict[str, type] = {
    "pending": int, "head_seq": int, "terminal_time_us": int, "software_version": str,
    "camera": str, "storage_free_bytes": int, "boot_id": str, "mono_ns": int,
}
"""``boot_id`` (32 hex digits) and ``mono_ns`` are the terminal's boot and monotonic clock at
the report: with the server's time they anchor that boot's events (clock corrections)."""

OPTIONAL_HEALTH_FIELDS: dict[str, type] = {"server_behind": int, "server_behind_us": int}
"""Sent by terminals that keep acknowledged events (issue 20), once they found the server's
head behind theirs: how often, and when last (terminal time, µs). A server takes reports with
or without them, so terminals not yet upgraded report as before."""


class CameraState(StrEnum):
    """``camera`` in the health report."""
    OK = "ok"
    """Frames arrive."""
    FAILED = "failed"
    """The camera raised an error."""
    ENDED = "ended"
    """A clip ran out."""
    NONE = "none"
    """The report comes from a command, not the running kiosk."""


CAMERA_STATES = tuple(CameraState)
