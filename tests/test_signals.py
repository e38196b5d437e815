"""Door signals through gpiozero's mock pin factory (no GPIO here): green + short tone on
accepted, red + long tone on refused, the staff button opening manual entry on the screen;
and the typed config that sets the pins, refused with the setting's name when wrong."""

from __future__ import annotations

import json
import queue
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from gpiozero import Device
from gpiozero.pins.mock import MockFactory

from terminal import config as config_file
from terminal.config import TerminalConfig
from terminal.errors import SetupError
from terminal.home import open_terminal
from terminal.kiosk.service import Kiosk
from terminal.signals import Signals
from tests.helpers import ServerProcess, enrol, run

GREEN, RED, BUZZER, BUTTON = 17, 27, 22, 23


@pytest.fixture
def pins() -> Iterator[MockFactory]:
    previous = Device.pin_factory
    factory = MockFactory()
    Device.pin_factory = factory
    yield factory
    factory.reset()
    Device.pin_factory = previous


def _config(**pins: int) -> TerminalConfig:
    return TerminalConfig("http://127.0.0.1:1", "T-test", "KG1", signal_short_seconds=0.1,
                          signal_long_seconds=0.4, **pins)


def _high_for(pin: object, timeout: float = 2.0) -> float:
    """How long the pin stays high from now (it must be high now)."""
    assert pin.state  # type: ignore[attr-defined]
    start = time.monotonic()
    while pin.state and time.monotonic() - start < timeout:  # type: ignore[attr-defined]
        time.sleep(0.005)
    return time.monotonic() - start


def test_accepted_is_green_and_short_refused_is_red_and_long(pins: MockFactory) -> None:
    signals = Signals(_config(gpio_green_led=GREEN, gpio_red_led=RED, gpio_buzzer=BUZZER))
    try:
        signals.accepted()
        time.sleep(0.02)
        assert (pins.pin(GREEN).state, pins.pin(RED).state) == (1, 0)
        short = _high_for(pins.pin(BUZZER))
        signals.refused()
        time.sleep(0.02)
        assert (pins.pin(GREEN).state, pins.pin(RED).state) == (0, 1)
        long = _high_for(pins.pin(BUZZER))
        assert long > short * 2  # the long tone is the refusal's
    finally:
        signals.close()


def test_no_pins_no_gpio() -> None:
    assert not Signals(_config()).active


@pytest.mark.parametrize(("values", "message"), [
    ({"gpio_green_led": 1}, "gpio_green_led must be -1 (none) or a BCM pin 2..27"),
    ({"gpio_buzzer": 40}, "gpio_buzzer must be -1"),
    ({"gpio_red_led": True}, "gpio_red_led must be -1"),
    ({"gpio_green_led": 17, "gpio_red_led": 17}, "gpio_red_led uses pin 17, already "
                                                  "gpio_green_led"),
    ({"signal_long_seconds": 60}, "signal_long_seconds must be a number within"),
])
def test_bad_signal_settings_are_refused_by_name(values: dict[str, object],
                                                 message: str) -> None:
    base = {"server_url": "http://127.0.0.1:1", "terminal_id": "T-x", "kindergarten": "KG1"}
    with pytest.raises(SetupError) as refused:
        config_file.validate({**base, **values}, "terminal.toml")
    assert message in str(refused.value)


@pytest.fixture
def home(sqlite_server: ServerProcess, tmp_path: Path,
         runtime_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Path:
    for key, value in runtime_env.items():
        monkeypatch.setenv(key, value)
    enrol(sqlite_server, tmp_path / "home", runtime_env)
    return tmp_path / "home"


def test_config_command_validates_and_sets_pins(home: Path) -> None:
    assert json.loads(run("terminal", "config", "--home", str(home),
                          "--validate").stdout)["ok"] is True
    bad = run("terminal", "config", "--home", str(home), "--set", "gpio_green_led=17",
              "--set", "gpio_buzzer=17", check=False)
    assert bad.returncode == 2
    assert "gpio_buzzer uses pin 17" in bad.stderr
    assert config_file.load(home).gpio_green_led == -1  # nothing written
    shown = json.loads(run("terminal", "config", "--home", str(home), "--set",
                           "gpio_green_led=17", "--set", "gpio_staff_button=23").stdout)
    assert (shown["gpio_green_led"], shown["gpio_staff_button"]) == (17, 23)
    assert "staff_pin_hash" not in shown
    (home / "terminal.toml").write_text(
        (home / "terminal.toml").read_text() + "gpio_lamp = 5\n", encoding="utf-8")
    broken = run("terminal", "config", "--home", str(home), "--validate", check=False)
    assert broken.returncode == 2
    assert "unknown setting 'gpio_lamp'" in broken.stderr


def test_kiosk_lights_the_door_and_the_button_opens_manual_entry(home: Path,
                                                                 pins: MockFactory) -> None:
    run("terminal", "config", "--home", str(home), "--set", f"gpio_green_led={GREEN}",
        "--set", f"gpio_red_led={RED}", "--set", f"gpio_staff_button={BUTTON}")
    terminal = open_terminal(home, log=False)
    kiosk = Kiosk(terminal)
    inbox: queue.Queue[str] = kiosk.events.subscribe()
    try:
        kiosk.show(kiosk.scans.scan("not a card"))
        time.sleep(0.05)
        assert (pins.pin(GREEN).state, pins.pin(RED).state) == (0, 1)
        pins.pin(BUTTON).drive_low()  # pressed (wired to ground, pull-up)
        messages = [inbox.get(timeout=2) for _ in range(2)]
        assert any(m.startswith("event: staff") for m in messages), messages
    finally:
        kiosk.stop()
        terminal.close()
