"""Lights, tone and the staff button at the door, through gpiozero (docs/hardware wiring in
hardware/README.md). Everything is optional: with no pin configured nothing is imported.

On a Raspberry Pi gpiozero drives the real pins; elsewhere (and in tests) its mock pin
factory stands in (``GPIOZERO_PIN_FACTORY=mock``). A signal never delays a check-in: the
LEDs and the buzzer switch in gpiozero's background threads.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from qatys.logs import log
from terminal.config import TerminalConfig

logger = logging.getLogger("qatys.terminal.signals")


class Signals:
    """Green LED + short tone on accepted, red LED + long tone on refused; the staff button
    calls ``on_staff_button``."""

    def __init__(self, config: TerminalConfig,
                 on_staff_button: Callable[[], None] | None = None) -> None:
        self._short, self._long = config.signal_short_seconds, config.signal_long_seconds
        self.green = self.red = self.buzzer = self.button = None
        pins = (config.gpio_green_led, config.gpio_red_led, config.gpio_buzzer,
                config.gpio_staff_button)
        if all(pin == -1 for pin in pins):
            return
        from gpiozero import LED, Button, Buzzer

        self.green = _device(LED, config.gpio_green_led)
        self.red = _device(LED, config.gpio_red_led)
        self.buzzer = _device(Buzzer, config.gpio_buzzer)
        self.button = _device(Button, config.gpio_staff_button)
        if self.button is not None and on_staff_button is not None:
            self.button.when_pressed = lambda: on_staff_button()
        log(logger, "signals.ready", pins=[p for p in pins if p != -1])

    @property
    def active(self) -> bool:
        return any(d is not None for d in (self.green, self.red, self.buzzer, self.button))

    def accepted(self) -> None:
        self._show(self.green, self.red, self._short)

    def refused(self) -> None:
        self._show(self.red, self.green, self._long)

    def _show(self, lit: Any, dark: Any, tone_seconds: float) -> None:
        if dark is not None:
            dark.off()
        if lit is not None:
            lit.blink(on_time=max(tone_seconds, 1.5), off_time=0, n=1, background=True)
        if self.buzzer is not None:
            self.buzzer.blink(on_time=tone_seconds, off_time=0, n=1, background=True)

    def close(self) -> None:
        for device in (self.green, self.red, self.buzzer, self.button):
            if device is not None:
                device.close()


def _device(kind: Any, pin: int) -> Any:
    return kind(pin) if pin != -1 else None
