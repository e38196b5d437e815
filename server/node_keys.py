"""The server's keys sealed in the database, so N server nodes share one set (issue 19).

Every node of a deployment must sign acknowledgements with the same Ed25519 key, open
terminals' sealed bodies with the same X25519 key, check session cookies and challenges with
the same session secret, and sign Web Push with the same VAPID key. The one place they come
from is the database, each key file's bytes sealed with AES-256-GCM under a key-encryption key
(KEK) that the database never holds:

- the first node's ``qatys server init --kek-file F`` (or ``QATYS_KEK``) seals its key files
  into ``node_keys`` (F is made, 0600, with a new KEK when it does not exist yet);
- another node's ``qatys server init --join --kek-file F`` opens them and writes the same key
  files into its own data directory (0600); after that the node needs no KEK to run.

A row's associated data is its name, so a sealed key cannot be passed off as another. A wrong
KEK fails the tag check of every row: the join is refused before anything is written.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Mapping
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Engine, inspect, make_url, select
from sqlalchemy.exc import IntegrityError

from qatys.files import is_private, write_private
from qatys.sentences import Sentence
from server.config import ServerConfig
from server.errors import SetupError
from server.storage import db
from server.storage.db import make_engine, normalise_url, writing

KEK_ENV = "QATYS_KEK"
"""The environment variable that may hold the KEK (base64 of 32 bytes) instead of a file."""
KEK_BYTES = 32
_AAD = b"qatys node key/"


def key_files(config: ServerConfig) -> dict[str, Path]:
    """The key files a node holds, by the name their sealed copy has in ``node_keys``."""
    return {"server-keys": config.keys_file, "session-secret": config.session_secret_file,
            "vapid-private": config.vapid_key_file}


def read_kek(kek_file: Path | None) -> bytes | None:
    """The KEK from ``kek_file`` (0600, base64 of 32 bytes) or else from ``QATYS_KEK``; None
    when neither is given."""
    if kek_file is not None:
        if not kek_file.exists():
            raise SetupError(Sentence("--kek-file %(path)s does not exist; nothing written",
                                      path=kek_file))
        if not is_private(kek_file):
            raise SetupError(Sentence("%(path)s is readable by others; chmod 600 it",
                                      path=kek_file))
        return _decode_kek(kek_file.read_bytes(), str(kek_file))
    text = os.environ.get(KEK_ENV)
    return _decode_kek(text.encode(), KEK_ENV) if text else None


def new_kek() -> bytes:
    return os.urandom(KEK_BYTES)


def write_kek(path: Path, kek: bytes) -> None:
    """A new KEK file (0600): what the first node's init makes when ``--kek-file`` names none."""
    write_private(path, base64.b64encode(kek) + b"\n")


def _decode_kek(text: bytes, source: str) -> bytes:
    try:
        kek = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        kek = b""
    if len(kek) != KEK_BYTES:
        raise SetupError(Sentence("%(source)s is not a key-encryption key (base64 of 32 random "
                                  "bytes, e.g. `head -c 32 /dev/urandom | base64`); nothing "
                                  "written", source=source))
    return kek


def seal(kek: bytes, name: str, plain: bytes) -> tuple[bytes, bytes]:
    nonce = os.urandom(12)
    return nonce, AESGCM(kek).encrypt(nonce, plain, _AAD + name.encode())


def unseal(kek: bytes, sealed: Mapping[str, tuple[bytes, bytes]]) -> dict[str, bytes]:
    """Every sealed key opened; a wrong KEK (or a tampered row) is refused."""
    opened = {}
    for name, (nonce, body) in sealed.items():
        try:
            opened[name] = AESGCM(kek).decrypt(nonce, body, _AAD + name.encode())
        except InvalidTag as exc:
            raise SetupError(Sentence("the key-encryption key does not open the keys sealed in "
                                      "this database (is it the KEK the first node was given?); "
                                      "nothing written")) from exc
    return opened


def sealed_keys(database_url: str) -> dict[str, tuple[bytes, bytes]]:
    """The sealed keys in the database (name → nonce, sealed); empty when there are none, the
    table is not there yet or a SQLite file does not exist (nothing is created)."""
    url = make_url(normalise_url(database_url))
    if url.drivername.startswith("sqlite") and (
            url.database in (None, "", ":memory:") or not Path(str(url.database)).exists()):
        return {}
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            if not inspect(conn).has_table("node_keys"):
                return {}
            rows = conn.execute(select(db.node_keys)).all()
    finally:
        engine.dispose()
    return {row.name: (bytes(row.nonce), bytes(row.sealed)) for row in rows}


def store_sealed(engine: Engine, kek: bytes, files: Mapping[str, Path], now_us: int) -> None:
    """Seal the key files into ``node_keys`` (the first node). Another node that stored its
    keys first in the meantime makes this a refusal."""
    try:
        with writing(engine) as conn:
            for name, path in files.items():
                nonce, body = seal(kek, name, path.read_bytes())
                conn.execute(db.node_keys.insert().values(name=name, nonce=nonce, sealed=body,
                                                          sealed_at_us=now_us))
    except IntegrityError as exc:
        raise SetupError(Sentence("another node sealed its keys into this database first; run "
                                  "`qatys server init --join` with that node's KEK")) from exc


def check_local(files: Mapping[str, Path], opened: Mapping[str, bytes]) -> None:
    """Refuse when this data directory already holds keys other than the database's."""
    for name, path in files.items():
        if path.exists() and name in opened and path.read_bytes() != opened[name]:
            raise SetupError(Sentence("%(path)s differs from the key sealed in the database: "
                                      "this data directory belongs to another deployment; "
                                      "nothing written", path=path))


def write_local(files: Mapping[str, Path], opened: Mapping[str, bytes]) -> None:
    for name, path in files.items():
        if name in opened:
            write_private(path, opened[name])
