"""The server's own keys: Ed25519 to sign acknowledgements, X25519 to open sealed bodies.

Kept in ``DATA/keys/server-keys.json``, mode 0600. Losing this file means
terminals can no longer verify acknowledgements and sealed bodies cannot be
opened: back it up with the database.
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass
from pathlib import Path

from protocol import crypto
from qatys.files import is_private, write_private
from qatys.sentences import Sentence
from server.errors import SetupError


@dataclass(frozen=True)
class ServerKeys:
    sign_seed: bytes
    box_private: bytes

    @property
    def sign_public(self) -> bytes:
        return crypto.signing_public_key(self.sign_seed)

    @property
    def box_public(self) -> bytes:
        return crypto.box_public_key(self.box_private)


def create_keys(path: Path) -> ServerKeys:
    if path.exists():
        return load_keys(path)
    keys = ServerKeys(os.urandom(32), os.urandom(32))
    body = {"sign_seed": base64.b64encode(keys.sign_seed).decode(),
            "box_private": base64.b64encode(keys.box_private).decode()}
    write_private(path, json.dumps(body).encode())
    return keys


def load_keys(path: Path) -> ServerKeys:
    if not path.exists():
        raise SetupError(Sentence("server keys not found at %(path)s; run `qatys server init` "
                                  "first", path=path))
    if not is_private(path):
        raise SetupError(Sentence("%(path)s is readable by others; chmod 600 it", path=path))
    try:
        body = json.loads(path.read_text())
        keys = ServerKeys(base64.b64decode(body["sign_seed"]),
                          base64.b64decode(body["box_private"]))
        crypto.signing_public_key(keys.sign_seed)
        crypto.box_public_key(keys.box_private)
    except (ValueError, KeyError, TypeError) as exc:
        raise SetupError(Sentence("%(path)s is not a valid server key file", path=path)) from exc
    return keys


def create_session_secret(path: Path) -> bytes:
    """The key that signs finance-page session cookies; made once, kept beside the keys.
    Replacing it signs everyone out, nothing else."""
    if not path.exists():
        write_private(path, os.urandom(32))
    return load_session_secret(path)


def load_session_secret(path: Path) -> bytes:
    if not path.exists():
        raise SetupError(Sentence("%(path)s is missing; run `qatys server init` again", path=path))
    if not is_private(path):
        raise SetupError(Sentence("%(path)s is readable by others; chmod 600 it", path=path))
    secret = path.read_bytes()
    if len(secret) != 32:
        raise SetupError(Sentence("%(path)s is not a session secret", path=path))
    return secret
