"""The terminal's key file (``TDIR/keys/terminal-keys.json``, mode 0600).

It holds the terminal's own Ed25519 and X25519 private keys and the server
keys pinned at enrolment. It cannot open any past check-in: bodies are sealed
to the server's key, never to the terminal's.
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
from terminal.errors import SetupError

KEY_FILE = Path("keys") / "terminal-keys.json"


@dataclass(frozen=True)
class TerminalKeys:
    sign_seed: bytes
    box_private: bytes
    server_sign_public: bytes = b""
    server_box_public: bytes = b""

    @property
    def sign_public(self) -> bytes:
        return crypto.signing_public_key(self.sign_seed)

    @property
    def box_public(self) -> bytes:
        return crypto.box_public_key(self.box_private)


def generate() -> TerminalKeys:
    return TerminalKeys(os.urandom(32), os.urandom(32))


def save(home: Path, keys: TerminalKeys) -> None:
    body = {name: base64.b64encode(getattr(keys, name)).decode("ascii")
            for name in ("sign_seed", "box_private", "server_sign_public", "server_box_public")}
    write_private(home / KEY_FILE, json.dumps(body).encode("utf-8"))


def load(home: Path) -> TerminalKeys:
    path = home / KEY_FILE
    if not path.exists():
        raise SetupError(Sentence("no key file at %(path)s: this terminal is not enrolled",
                                  path=path))
    if not is_private(path):
        raise SetupError(Sentence("%(path)s is readable by others; it must be mode 0600",
                                  path=path))
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
        keys = TerminalKeys(**{k: base64.b64decode(v) for k, v in body.items()})
        crypto.signing_public_key(keys.sign_seed)
    except (ValueError, TypeError) as exc:
        raise SetupError(Sentence("%(path)s is not a valid key file", path=path)) from exc
    return keys
