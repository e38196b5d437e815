"""Backups of a server data directory, their verification, their restore, and the retention
of a folder of nightly backups (docs/operations.md).

Every refusal is a :class:`~server.errors.BackupError` (or the data directory's
:class:`~server.errors.SetupError`) raised before anything is changed; ``now_us`` is passed in.
"""

from __future__ import annotations

import base64
import re
import shutil
import tempfile
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from qatys import __version__
from qatys.files import write_private
from qatys.sentences import Sentence
from qatys.timeutil import to_datetime
from server import run_lock
from server.backup import container, database
from server.backup.container import Manifest
from server.config import CONFIG_FILE, ServerConfig, load_config, planned_config, write_config
from server.datadir import make_private
from server.errors import BackupError, SetupError
from server.keys import load_keys
from server.storage.db import make_engine
from server.storage.migrations import _scripts, migrate


def _stamp(now_us: int) -> str:
    return to_datetime(now_us).strftime("%Y%m%dT%H%M%SZ")


def _key_files(config: ServerConfig) -> dict[str, bytes]:
    folder = config.keys_file.parent
    load_keys(config.keys_file)  # refused when missing or readable by others
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())
            if path.is_file() and not path.name.startswith(".")}


def make_backup(data_dir: Path, out: Path, now_us: int,
                method: str = database.SQLITE_METHODS[0]) -> Manifest:
    """An online, consistent copy of the data directory's database and its keys in one file
    (server/backup/container.py), written atomically at ``out`` (0600)."""
    config = load_config(data_dir)
    keys = _key_files(config)
    out = out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}.work-", dir=out.parent))
    try:
        if database.is_sqlite(config.database_url):
            copy = work / container.DATABASE_MEMBERS["sqlite"]
            snapshot = database.copy_sqlite(config.database_url, copy, method)
            kind, how = "sqlite", method
        else:
            copy = work / container.DATABASE_MEMBERS["postgresql"]
            snapshot = database.dump_postgres(config.database_url, copy)
            kind, how = "postgresql", "pg_dump"
        manifest = Manifest(
            created_at=to_datetime(now_us).strftime("%Y-%m-%dT%H:%M:%SZ"), database=kind,
            method=how, schema_revision=snapshot.schema_revision,
            server_public_key=base64.b64encode(load_keys(config.keys_file).sign_public)
            .decode("ascii"),
            terminals=[{"terminal_id": h.terminal_id, "head_seq": h.head_seq,
                        "head_hash": h.head_hash} for h in snapshot.heads],
            counts=snapshot.counts, qatys_version=__version__)
        container.write(out, manifest, copy, keys, now_us // 1_000_000)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return manifest


@dataclass
class Verified:
    manifest: Manifest
    database: Path
    keys: dict[str, bytes]


def _opened(path: Path, work: Path) -> Verified:
    """The container and every member's SHA-256 (the database unpacked into ``work``)."""
    opened = container.read(path, work)
    assert opened.database is not None
    return Verified(opened.manifest, opened.database, opened.keys)


def _check_database(verified: Verified) -> None:
    """The database copy opens, at the schema revision its manifest names."""
    if verified.manifest.database == "sqlite":
        revision = database.check_sqlite(verified.database)
    else:
        revision = database.check_postgres(verified.database)
    if revision != verified.manifest.schema_revision:
        raise BackupError("backup_corrupt", Sentence(
            "the database copy is at schema revision %(found)s but the manifest says "
            "%(said)s", found=revision, said=verified.manifest.schema_revision))


def verify_backup(path: Path) -> Manifest:
    """The container, every member's SHA-256, the manifest, and that the database copy
    opens (SQLite ``PRAGMA quick_check``; PostgreSQL ``pg_restore --list``)."""
    with tempfile.TemporaryDirectory(prefix="qatys-verify-") as work:
        verified = _opened(path, Path(work))
        _check_database(verified)
        return verified.manifest


def known_revisions() -> set[str]:
    return {script.revision for script in _scripts().walk_revisions()}


@dataclass
class Restored:
    manifest: Manifest
    aside: Path | None
    """Where the database that was there is kept (a SQLite file, or a PostgreSQL dump)."""
    migrations: list[str]
    keys_restored: bool


def restore_backup(data_dir: Path, path: Path, now_us: int,
                   database_url: str | None = None) -> Restored:
    """``path`` into the (stopped) server's data directory: refused, with nothing changed, for
    a file that does not verify, another server's backup, a schema newer than this code or a
    server still running; else the database replaced atomically (the old one kept aside), the
    keys put back when the directory has none, and the migrations run up."""
    has_config = (data_dir / CONFIG_FILE).exists()
    if has_config and database_url is not None:
        raise SetupError(Sentence("%(data_dir)s already has its settings: --database-url is "
                                  "only for a new data directory; nothing changed",
                                  data_dir=data_dir))
    config = planned_config(data_dir, database_url, None)
    with tempfile.TemporaryDirectory(prefix="qatys-restore-") as work:
        verified = _opened(path, Path(work))
        manifest = verified.manifest
        _refuse_other_kind(manifest, config)
        _refuse_newer(manifest)
        keys_restored = _refuse_foreign(manifest, config)
        _check_database(verified)
        if not database.is_sqlite(config.database_url):
            others = database.other_sessions(config.database_url)
            if others:
                raise BackupError("server_running", Sentence(
                    "a server is running on the database: %(count)s other sessions are "
                    "connected to it; stop every server node and worker first; nothing "
                    "changed", count=others))
        with run_lock.exclusive(data_dir):
            moment = _stamp(now_us)
            data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            aside = _restore_database(verified, config, data_dir, moment)
            if keys_restored:
                for name, body in verified.keys.items():
                    write_private(config.keys_file.parent / name, body)
            if not has_config:
                config = write_config(data_dir, database_url, None)
            engine = make_engine(config.database_url)
            try:
                applied = migrate(engine)
            finally:
                engine.dispose()
            make_private(config)
    return Restored(manifest, aside, applied, keys_restored)


def _refuse_other_kind(manifest: Manifest, config: ServerConfig) -> None:
    kind = "sqlite" if database.is_sqlite(config.database_url) else "postgresql"
    if manifest.database != kind:
        raise BackupError("backup_unreadable", Sentence(
            "this is a backup of a %(theirs)s database but the data directory uses %(ours)s: "
            "restore it into a data directory of its kind; nothing changed",
            theirs=manifest.database, ours=kind))


def _refuse_newer(manifest: Manifest) -> None:
    if manifest.schema_revision is None:
        raise BackupError("backup_corrupt", Sentence(
            "the backup's database has no schema revision"))
    if manifest.schema_revision not in known_revisions():
        raise BackupError("backup_too_new", Sentence(
            "the backup's schema revision %(revision)s is newer than this code knows (newest "
            "%(head)s): restore it with the release that made it (%(version)s); nothing "
            "changed", revision=manifest.schema_revision, head=_scripts().get_current_head(),
            version=manifest.qatys_version))


def _refuse_foreign(manifest: Manifest, config: ServerConfig) -> bool:
    """Whether the backup's keys are to be put in (the directory has none); refused when the
    directory's keys are another server's."""
    if not config.keys_file.exists():
        return True
    ours = base64.b64encode(load_keys(config.keys_file).sign_public).decode("ascii")
    if ours != manifest.server_public_key:
        raise BackupError("backup_foreign", Sentence(
            "this backup is of another server: its signing key %(theirs)s is not this data "
            "directory's %(ours)s; nothing changed", theirs=manifest.server_public_key,
            ours=ours))
    return False


def _restore_database(verified: Verified, config: ServerConfig, data_dir: Path,
                      moment: str) -> Path | None:
    url = config.database_url
    if database.is_sqlite(url):
        return database.restore_sqlite(verified.database, url, moment)
    aside = None
    if database.database_has_tables(url):
        aside = data_dir / f"database.before-restore-{moment}.pgdump"
        database.dump_postgres(url, aside)
        aside.chmod(0o600)
    database.restore_postgres(verified.database, url)
    return aside


# --- a folder of nightly backups --------------------------------------------------------------

NAME_PATTERN = re.compile(r"^qatys-backup-(\d{8}T\d{6}Z)\.tar$")


def backup_name(now_us: int) -> str:
    return f"qatys-backup-{_stamp(now_us)}.tar"


def to_prune(names: list[str], keep_daily: int, keep_weekly: int) -> list[str]:
    """The backups of a folder to remove: kept are the newest of each of the last
    ``keep_daily`` days that have one, and the newest of each of the last ``keep_weekly`` ISO
    weeks that have one (grandfather-father-son); files of other names are never touched."""
    dated = sorted(((datetime.strptime(m.group(1), "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC), n)
                    for n in names if (m := NAME_PATTERN.match(n))), reverse=True)
    keep: set[str] = set()
    days: set[date] = set()
    weeks: set[tuple[int, int]] = set()
    for moment, name in dated:
        day, week = moment.date(), tuple(moment.isocalendar())[:2]
        if day not in days and len(days) < keep_daily:
            days.add(day)
            keep.add(name)
        if week not in weeks and len(weeks) < keep_weekly:
            weeks.add((week[0], week[1]))
            keep.add(name)
    return [name for _, name in dated if name not in keep]


def prune(folder: Path, keep_daily: int, keep_weekly: int) -> list[Path]:
    removed = []
    for name in to_prune([p.name for p in folder.iterdir()], keep_daily, keep_weekly):
        (folder / name).unlink()
        removed.append(folder / name)
    return removed
