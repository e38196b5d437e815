"""The terminal's typed configuration, in ``TDIR/terminal.toml``: strict, validated, one place.

Unknown keys and out-of-range values are refused with the key's name, so a
typo in the field never silently falls back to a default.
"""

from __future__ import annotations

import tomllib
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import tomli_w

from terminal.errors import SetupError

CONFIG_FILE = "terminal.toml"


@dataclass(frozen=True)
class TerminalConfig:
    server_url: str
    terminal_id: str
    kindergarten: str
    kindergarten_name: str = ""
    timezone: str = "Asia/Almaty"
    dedupe_window_seconds: int = 120
    """A repeat within this window is acknowledged again, not recorded twice."""
    departure_gap_minutes: int = 30
    """After an arrival, a scan counts as a departure only once this much time has passed."""
    runtime_dir: str = ""
    """Where RAM-only secrets live; empty means /run/qatys/<terminal id> or a fallback."""
    request_timeout_seconds: float = 30.0
    sync_attempts: int = 4
    """Tries per request in one ``qatys terminal sync`` before it reports the server unreachable."""
    backoff_base_seconds: float = 1.0
    backoff_cap_seconds: float = 300.0
    kiosk_port: int = 8765
    """The kiosk page (127.0.0.1 only) that Chromium shows full screen."""
    sync_interval_seconds: int = 60
    """How often the running kiosk pushes pending events and refreshes roster and cards."""
    staff_pin_hash: str = ""
    """scrypt hash of the staff PIN for manual entry (`qatys terminal set-pin`); empty: off."""

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


_BOUNDS: dict[str, tuple[float, float]] = {
    "dedupe_window_seconds": (0, 3600),
    "departure_gap_minutes": (0, 720),
    "request_timeout_seconds": (1, 600),
    "sync_attempts": (1, 100),
    "backoff_base_seconds": (0.01, 60),
    "backoff_cap_seconds": (0.1, 3600),
    "kiosk_port": (1024, 65535),
    "sync_interval_seconds": (10, 3600),
}


def validate(values: dict[str, Any], source: str) -> TerminalConfig:
    known = {f.name: f for f in fields(TerminalConfig)}
    for key in values:
        if key not in known:
            raise SetupError(f"{source}: unknown setting {key!r}")
    try:
        config = TerminalConfig(**values)
    except TypeError as exc:
        raise SetupError(f"{source}: {exc}") from exc
    for item in fields(TerminalConfig):
        value = getattr(config, item.name)
        if item.name in _BOUNDS:
            low, high = _BOUNDS[item.name]
            if isinstance(value, bool) or not isinstance(value, int | float) \
                    or not low <= value <= high:
                raise SetupError(f"{source}: {item.name} must be a number within {low}..{high}")
        elif not isinstance(value, str):
            raise SetupError(f"{source}: {item.name} must be text")
    if not config.server_url.startswith(("http://", "https://")):
        raise SetupError(f"{source}: server_url must start with http:// or https://")
    try:
        config.zone  # noqa: B018 - validates the zone name
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise SetupError(f"{source}: unknown timezone {config.timezone!r}") from exc
    return config


def load(home: Path) -> TerminalConfig:
    path = home / CONFIG_FILE
    if not path.exists():
        raise SetupError(f"{home} is not an enrolled terminal home: run `qatys terminal enroll`")
    try:
        values = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise SetupError(f"{path}: {exc}") from exc
    return validate(values, str(path))


def save(home: Path, config: TerminalConfig) -> None:
    (home / CONFIG_FILE).write_text(tomli_w.dumps(asdict(config)), encoding="utf-8")
