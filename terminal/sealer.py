"""Seals event bodies to the server's key with a short-lived, RAM-only sealing key.

One X25519 agreement per epoch (at most 256 bodies or 10 minutes) instead of
one per event keeps a check-in fast on a Raspberry Pi and lets the server open
a whole batch with a handful of agreements. The epoch key never touches disk;
once it is rotated, this terminal cannot open what it sealed.
"""

from __future__ import annotations

import os
import threading
import time

from protocol import crypto, events

EPOCH_MAX_BODIES = 256
EPOCH_MAX_SECONDS = 600.0


class Sealer:
    def __init__(self, server_box_public: bytes) -> None:
        self._server = server_box_public
        self._lock = threading.Lock()
        self._key: crypto.SealingKey | None = None
        self._uses = 0
        self._started = 0.0

    def seal(self, body: events.Body, terminal_id: str) -> bytes:
        with self._lock:
            now = time.monotonic()
            if (self._key is None or self._uses >= EPOCH_MAX_BODIES
                    or now - self._started > EPOCH_MAX_SECONDS):
                self._key = crypto.sealing_key(os.urandom(32), self._server)
                self._uses, self._started = 0, now
            self._uses += 1
            key = self._key
        return events.seal_body(body, terminal_id, key, os.urandom(crypto.NONCE_SIZE))
