"""The backup file: a plain (uncompressed) POSIX tar, members in this order:

1. ``manifest.json`` — what the backup holds (:class:`Manifest`), every other member's size and
   SHA-256 among it;
2. the database copy: ``database.sqlite`` (a SQLite file) or ``database.pgdump``
   (``pg_dump --format=custom``, already compressed);
3. ``keys/…`` — every file of the data directory's keys folder (server keys, session secret,
   VAPID key);
4. ``manifest.sha256`` — the SHA-256 of the manifest's bytes: a changed or cut manifest is
   seen too, and a file cut anywhere lacks it.

A tar because every machine can list and unpack one (``tar tvf``) without Qatys, and it is
written in one pass. Read back, every member is hashed as it streams by; nothing is trusted
before its hash matched.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import tarfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

from protocol import crypto
from qatys.sentences import Sentence
from server.errors import BackupError

FORMAT = "qatys-server-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
MANIFEST_DIGEST = "manifest.sha256"
KEYS_PREFIX = "keys/"
DATABASE_MEMBERS = {"sqlite": "database.sqlite", "postgresql": "database.pgdump"}
MANIFEST_MOST = 16 * 1024 * 1024
CHUNK = 1024 * 1024


@dataclass(frozen=True)
class Member:
    name: str
    size: int
    sha256: str


@dataclass
class Manifest:
    created_at: str
    """UTC, ISO 8601 with ``Z``."""
    database: str
    """``sqlite`` or ``postgresql``."""
    method: str
    """How the copy was made: ``backup-api``, ``vacuum-into`` or ``pg_dump``."""
    schema_revision: str | None
    server_public_key: str
    """The server's Ed25519 signing public key, base64: whose backup this is."""
    terminals: list[dict[str, Any]]
    """``terminal_id``, ``head_seq``, ``head_hash`` (hex): each chain's head in the copy."""
    counts: dict[str, int]
    qatys_version: str
    members: list[Member] = field(default_factory=list)
    format: str = FORMAT
    format_version: int = FORMAT_VERSION

    @property
    def database_member(self) -> str:
        return DATABASE_MEMBERS[self.database]

    def to_json(self) -> bytes:
        body = asdict(self)
        return (json.dumps(body, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode()

    @classmethod
    def from_json(cls, raw: bytes) -> Manifest:
        try:
            body = json.loads(raw)
            if body.get("format") != FORMAT:
                raise BackupError("backup_unreadable", Sentence(
                    "not a Qatys server backup (its manifest names no Qatys format)"))
            if body.get("format_version") != FORMAT_VERSION:
                raise BackupError("backup_too_new", Sentence(
                    "the backup's format version %(version)s is not one this code reads "
                    "(%(known)s)", version=body.get("format_version"), known=FORMAT_VERSION))
            members = [Member(str(m["name"]), int(m["size"]), str(m["sha256"]))
                       for m in body.pop("members")]
            manifest = cls(**body, members=members)
            if manifest.database not in DATABASE_MEMBERS:
                raise ValueError(manifest.database)
        except BackupError:
            raise
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise BackupError("backup_corrupt", Sentence(
                "the backup's manifest is not valid: %(problem)s", problem=str(exc))) from exc
        return manifest


def public_key_of(keys_json: bytes) -> str:
    """The signing public key (base64) of a ``server-keys.json``."""
    seed = base64.b64decode(json.loads(keys_json)["sign_seed"])
    return base64.b64encode(crypto.signing_public_key(seed)).decode("ascii")


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def write(out: Path, manifest: Manifest, database: Path, keys: dict[str, bytes],
          mtime: int) -> None:
    """The backup file at ``out``, atomically: a temporary file beside it (0600), fsynced,
    renamed over ``out``, the folder fsynced. ``manifest.members`` is filled in here."""
    manifest.members = [Member(manifest.database_member, database.stat().st_size,
                               sha256_file(database))]
    manifest.members += [Member(KEYS_PREFIX + name, len(body),
                                hashlib.sha256(body).hexdigest())
                         for name, body in sorted(keys.items())]
    manifest_bytes = manifest.to_json()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as f, tarfile.open(fileobj=f, mode="w",
                                                    format=tarfile.PAX_FORMAT) as tar:
            _add(tar, MANIFEST, io.BytesIO(manifest_bytes), len(manifest_bytes), mtime)
            with open(database, "rb") as copy:
                _add(tar, manifest.database_member, copy, database.stat().st_size, mtime)
            for name, body in sorted(keys.items()):
                _add(tar, KEYS_PREFIX + name, io.BytesIO(body), len(body), mtime)
            digest = (hashlib.sha256(manifest_bytes).hexdigest() + "\n").encode()
            _add(tar, MANIFEST_DIGEST, io.BytesIO(digest), len(digest), mtime)
            tar.close()
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    dir_fd = os.open(out.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _add(tar: tarfile.TarFile, name: str, body: IO[bytes], size: int, mtime: int) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = size, 0o600, mtime
    tar.addfile(info, body)


@dataclass
class Opened:
    """A backup whose every member matched its manifest; ``database`` and ``keys`` are what
    was unpacked (when asked)."""
    manifest: Manifest
    database: Path | None
    keys: dict[str, bytes]


def read(path: Path, unpack_to: Path | None) -> Opened:
    """Every member hashed and checked against the manifest (and the manifest against its
    digest); with ``unpack_to`` the database copy is written there and the keys kept. A file
    that is not a whole, unchanged backup is refused."""
    if not path.is_file():
        raise BackupError("backup_unreadable", Sentence("%(path)s is not a file", path=path))
    try:
        with _members(path) as members:
            return _read(path, members, unpack_to)
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise BackupError("backup_unreadable", Sentence(
            "%(path)s is truncated or is not a backup file: %(problem)s", path=path,
            problem=str(exc) or type(exc).__name__)) from exc


@contextmanager
def _members(path: Path) -> Iterator[Iterator[tuple[tarfile.TarInfo, IO[bytes]]]]:
    with tarfile.open(path, mode="r:") as tar:
        def each() -> Iterator[tuple[tarfile.TarInfo, IO[bytes]]]:
            for info in tar:
                body = tar.extractfile(info) if info.isfile() else None
                if body is None:
                    raise BackupError("backup_corrupt", Sentence(
                        "the backup holds %(name)s, which is not a plain file",
                        name=info.name))
                yield info, body
        yield each()


def _read(path: Path, members: Iterator[tuple[tarfile.TarInfo, IO[bytes]]],
          unpack_to: Path | None) -> Opened:
    first = next(members, None)
    if first is None or first[0].name != MANIFEST or first[0].size > MANIFEST_MOST:
        raise BackupError("backup_unreadable", Sentence(
            "%(path)s is not a Qatys server backup (it does not begin with its manifest)",
            path=path))
    manifest_bytes = first[1].read()
    manifest = Manifest.from_json(manifest_bytes)
    expected = {m.name: m for m in manifest.members}
    seen: dict[str, str] = {}
    keys: dict[str, bytes] = {}
    database: Path | None = None
    ended = False
    for info, body in members:
        if ended:
            raise BackupError("backup_corrupt", Sentence(
                "the backup holds %(name)s after its end", name=info.name))
        if info.name == MANIFEST_DIGEST:
            digest = body.read(200).decode("ascii", "replace").strip()
            if digest != hashlib.sha256(manifest_bytes).hexdigest():
                raise BackupError("backup_corrupt", Sentence(
                    "the backup's manifest was changed: its SHA-256 does not match"))
            ended = True
            continue
        if info.name not in expected or info.name in seen:
            raise BackupError("backup_corrupt", Sentence(
                "the backup holds %(name)s, which its manifest does not list", name=info.name))
        target = unpack_to / "database" if unpack_to is not None and \
            info.name == manifest.database_member else None
        digest_hex, kept = _hash(body, target, keep=info.name.startswith(KEYS_PREFIX))
        if digest_hex != expected[info.name].sha256 or info.size != expected[info.name].size:
            raise BackupError("backup_corrupt", Sentence(
                "%(name)s in the backup is damaged: its SHA-256 does not match the manifest",
                name=info.name))
        seen[info.name] = digest_hex
        if target is not None:
            database = target
        if kept is not None:
            keys[info.name[len(KEYS_PREFIX):]] = kept
    if not ended:
        raise BackupError("backup_unreadable", Sentence(
            "%(path)s is truncated: it ends before its last member", path=path))
    missing = sorted(set(expected) - set(seen))
    if missing:
        raise BackupError("backup_unreadable", Sentence(
            "%(path)s is truncated: %(name)s is missing", path=path, name=missing[0]))
    if manifest.database_member not in seen:
        raise BackupError("backup_corrupt", Sentence("the backup holds no database copy"))
    server_keys = keys.get("server-keys.json")
    try:
        identity = public_key_of(server_keys) if server_keys is not None else None
    except (ValueError, KeyError, TypeError) as exc:
        raise BackupError("backup_corrupt", Sentence(
            "the backup's server keys are not valid")) from exc
    if identity is not None and identity != manifest.server_public_key:
        raise BackupError("backup_corrupt", Sentence(
            "the backup's server keys are not those its manifest names"))
    return Opened(manifest, database, keys)


def _hash(body: IO[bytes], target: Path | None, keep: bool) -> tuple[str, bytes | None]:
    digest = hashlib.sha256()
    kept = bytearray() if keep else None
    out = open(target, "wb") if target is not None else None  # noqa: SIM115
    try:
        while chunk := body.read(CHUNK):
            digest.update(chunk)
            if out is not None:
                out.write(chunk)
            if kept is not None:
                kept += chunk
    finally:
        if out is not None:
            out.close()
    return digest.hexdigest(), bytes(kept) if kept is not None else None
