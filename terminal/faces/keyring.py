"""The kindergarten's face keys at rest on a terminal: wrapped under the roster key.

The roster key lives in RAM only (see :mod:`terminal.runtime`) and comes back after a
reboot from the server or a director's unlock card; the face keys therefore open exactly
when the roster does, and a disk read alone opens neither. When a new roster arrives with
a new key, the face keys are wrapped again under it in the same commit.
"""

from __future__ import annotations

import os

from protocol import crypto
from protocol.errors import SealError

_AAD = b"qatys/v1/face-key-at-rest\x00"


def _aad(key_id: str, roster_version: str) -> bytes:
    return _AAD + f"{key_id}\x00{roster_version}".encode()


def wrap(face_key: bytes, key_id: str, roster_key: bytes, roster_version: str) -> bytes:
    return crypto.encrypt(roster_key, os.urandom(crypto.NONCE_SIZE), face_key,
                          _aad(key_id, roster_version))


def unwrap(wrapped: bytes, key_id: str, roster_key: bytes, roster_version: str) -> bytes:
    """The face key, or :class:`~protocol.errors.SealError` under another roster key."""
    return crypto.decrypt(roster_key, wrapped, _aad(key_id, roster_version))


def rewrapped(rows: list[tuple[str, str, bytes]], old_key: bytes | None, new_key: bytes,
              new_version: str) -> list[tuple[str, bytes]]:
    """(key id, wrapped under the new roster key) for each (key id, version, wrapped) row
    that opens under the old key; the others stay as they are until the server resends."""
    out = []
    for key_id, version, wrapped in rows:
        if old_key is None:
            continue
        try:
            face_key = unwrap(wrapped, key_id, old_key, version)
        except SealError:
            continue
        out.append((key_id, wrap(face_key, key_id, new_key, new_version)))
    return out
