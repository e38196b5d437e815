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

from qatys.files import write_private
from qatys.sentences import Sentence
from qatys.urls import transport_problem
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
    gpio_green_led: int = -1
    """BCM pin of the green LED (lit on an accepted scan); -1: none. Signals: hardware/."""
    gpio_red_led: int = -1
    """BCM pin of the red LED (lit on a refusal); -1: none."""
    gpio_buzzer: int = -1
    """BCM pin of an active buzzer: a short tone on accepted, a long one on refused; -1: none."""
    gpio_staff_button: int = -1
    """BCM pin of the staff button (to ground) that opens manual entry on the screen; -1: none."""
    signal_short_seconds: float = 0.15
    signal_long_seconds: float = 0.8
    storage_floor_mb: float = 32.0
    """Check-ins are refused (``storage_full``) while less than this is free on the home's
    file system (terminal/storage_guard.py)."""
    storage_low_mb: float = 256.0
    """Under this much free, a ``storage_low`` event warns the fleet page."""
    storage_reserve_mb: float = 16.0
    """A file of this size kept on the card and given back when the floor is reached, so
    the terminal can still sync and say why it refuses; 0: none."""
    retention_days: int = 35
    """How long acknowledged events stay on the terminal (sealed to the server, as pending ones)
    after the server acknowledged them, so a server restored from an older backup gets them
    again; older ones are pruned (docs/kiosk.md, "Retention")."""
    allow_plain_http: bool = False
    """Let ``server_url`` be plain http:// to another machine. For labs only: on a real
    network use https (qatys/urls.py). Loopback is always allowed."""

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
    "signal_short_seconds": (0.02, 2),
    "signal_long_seconds": (0.05, 5),
    "storage_floor_mb": (0, 100_000),
    "storage_low_mb": (0, 100_000),
    "storage_reserve_mb": (0, 10_000),
    "retention_days": (1, 400),
}
_FLAGS = ("allow_plain_http",)
GPIO_PINS = ("gpio_green_led", "gpio_red_led", "gpio_buzzer", "gpio_staff_button")
_BCM_USABLE = range(2, 28)
"""BCM GPIO 2–27: the pins on the 40-pin header of a Raspberry Pi 4 or 5."""


def validate(values: dict[str, Any], source: str) -> TerminalConfig:
    known = {f.name: f for f in fields(TerminalConfig)}
    for key in values:
        if key not in known:
            raise SetupError(Sentence("%(source)s: unknown setting '%(key)s'", source=source,
                                      key=key))
    try:
        config = TerminalConfig(**values)
    except TypeError as exc:
        raise SetupError(Sentence("%(source)s: %(exc)s", source=source, exc=exc)) from exc
    for item in fields(TerminalConfig):
        value = getattr(config, item.name)
        if item.name in _BOUNDS:
            low, high = _BOUNDS[item.name]
            if isinstance(value, bool) or not isinstance(value, int | float) \
                    or not low <= value <= high:
                raise SetupError(Sentence("%(source)s: %(name)s must be a number within "
                                          "%(low)s..%(high)s", source=source, name=item.name,
                                          low=low, high=high))
        elif item.name in _FLAGS:
            if not isinstance(value, bool):
                raise SetupError(Sentence("%(source)s: %(name)s must be true or false",
                                          source=source, name=item.name))
        elif item.name not in GPIO_PINS and not isinstance(value, str):
            raise SetupError(Sentence("%(source)s: %(name)s must be text", source=source,
                                      name=item.name))
    _check_pins(config, source)
    problem = transport_problem(config.server_url, config.allow_plain_http)
    if problem:
        raise SetupError(Sentence("%(source)s: server_url: %(problem)s", source=source,
                                  problem=problem))
    try:
        config.zone  # noqa: B018 - validates the zone name
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise SetupError(Sentence("%(source)s: unknown timezone '%(timezone)s'", source=source,
                                  timezone=config.timezone)) from exc
    return config


def _check_pins(config: TerminalConfig, source: str) -> None:
    """Each signal pin is off (-1) or a usable BCM pin, and no pin serves twice."""
    used: dict[int, str] = {}
    for name in GPIO_PINS:
        pin = getattr(config, name)
        if isinstance(pin, bool) or not isinstance(pin, int) or (
                pin != -1 and pin not in _BCM_USABLE):
            raise SetupError(Sentence("%(source)s: %(name)s must be -1 (none) or a BCM pin 2..27",
                                      source=source, name=name))
        if pin != -1 and pin in used:
            raise SetupError(Sentence("%(source)s: %(name)s uses pin %(pin)s, already %(used)s",
                                      source=source, name=name, pin=pin, used=used[pin]))
        used.setdefault(pin, name)


def load(home: Path) -> TerminalConfig:
    path = home / CONFIG_FILE
    if not path.exists():
        raise SetupError(Sentence("%(home)s is not an enrolled terminal home: run `qatys terminal "
                                  "enroll`", home=home))
    try:
        values = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise SetupError(Sentence("%(path)s: %(exc)s", path=path, exc=exc)) from exc
    return validate(values, str(path))


def save(home: Path, config: TerminalConfig) -> None:
    """Written whole or not at all (a power cut mid-write leaves the old file)."""
    write_private(home / CONFIG_FILE, tomli_w.dumps(asdict(config)).encode("utf-8"))
