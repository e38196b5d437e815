"""The staff PIN for manual entry: stored as a salted scrypt hash, tries limited."""

from __future__ import annotations

import hashlib
import hmac
import os
import threading
import time
from enum import StrEnum

_N, _R, _P = 2**14, 8, 1
MAX_TRIES = 5
LOCKOUT_SECONDS = 300


def hash_pin(pin: str, salt: bytes | None = None) -> str:
    if not (pin.isdigit() and 4 <= len(pin) <= 12):
        raise ValueError("a PIN is 4-12 digits")
    salt = salt or os.urandom(16)
    digest = hashlib.scrypt(pin.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return f"scrypt${salt.hex()}${digest.hex()}"


def pin_matches(pin: str, stored: str) -> bool:
    try:
        scheme, salt_hex, digest_hex = stored.split("$")
        salt = bytes.fromhex(salt_hex)
    except ValueError:
        return False
    if scheme != "scrypt" or not pin.isdigit():
        return False
    digest = hashlib.scrypt(pin.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return hmac.compare_digest(digest.hex(), digest_hex)


class PinVerdict(StrEnum):
    OK = "ok"
    WRONG = "wrong"
    LOCKED = "locked"
    """Too many wrong PINs: manual entry waits a while."""
    DISABLED = "disabled"
    """No staff PIN is set."""


class PinGuard:
    """Five wrong PINs lock manual entry for five minutes (a child poking the screen)."""

    def __init__(self, stored: str) -> None:
        self._stored = stored
        self._wrong = 0
        self._locked_until = 0.0
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return bool(self._stored)

    def check(self, pin: str, now: float | None = None) -> PinVerdict:
        now = time.monotonic() if now is None else now
        with self._lock:
            if not self._stored:
                return PinVerdict.DISABLED
            if now < self._locked_until:
                return PinVerdict.LOCKED
            if pin_matches(pin, self._stored):
                self._wrong = 0
                return PinVerdict.OK
            self._wrong += 1
            if self._wrong >= MAX_TRIES:
                self._wrong, self._locked_until = 0, now + LOCKOUT_SECONDS
                return PinVerdict.LOCKED
            return PinVerdict.WRONG
