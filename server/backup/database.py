"""The database's part of a backup: a consistent copy while the server runs, its check, and
its restore, for SQLite and PostgreSQL.

SQLite: the online backup API in one step (``sqlite3.Connection.backup(pages=-1)``): one read
transaction over the whole copy, so the copy is the database as of one commit while writers go
on (WAL: readers never block them). bench/backup.py measures it beside ``VACUUM INTO``
(:data:`SQLITE_METHODS`); docs/operations.md gives the figures and why this one.

PostgreSQL: ``pg_dump --format=custom --snapshot=…`` of a snapshot this module exports from a
REPEATABLE READ transaction, and the manifest's heads and counts are read in that same
transaction: the dump and the manifest describe the same moment. A restore drops every table
of the database's schema and loads the dump, both in one transaction (``pg_restore -f -``
piped into ``psql --single-transaction``): it is all there or the database is as it was.
"""

from __future__ import annotations

import glob
import os
import shutil
import sqlite3
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, column, func, inspect, select, table, text
from sqlalchemy.engine import URL, make_url

from qatys.sentences import Sentence
from server.errors import BackupError
from server.storage import db
from server.storage.db import make_engine, normalise_url
from server.storage.migrations import current_revision

SQLITE_METHODS = ("backup-api", "vacuum-into")
"""How a SQLite copy can be made; the first is what `qatys server backup` uses."""


@dataclass(frozen=True)
class Head:
    terminal_id: str
    head_seq: int
    head_hash: str
    """hex"""


@dataclass(frozen=True)
class Snapshot:
    """What the copy holds, read from the copy itself (SQLite) or from the dump's snapshot
    (PostgreSQL)."""
    schema_revision: str | None
    heads: list[Head]
    counts: dict[str, int]


def is_sqlite(url: str) -> bool:
    return normalise_url(url).startswith("sqlite")


def sqlite_path(url: str) -> Path:
    database = make_url(normalise_url(url)).database
    if not database or database == ":memory:":
        raise BackupError("backup_failed", Sentence("the database %(url)s is not a file",
                                                    url=url))
    return Path(database)


def describe(conn: Connection) -> Snapshot:
    """Schema revision, every terminal's head and every table's rows, as ``conn`` sees them."""
    heads = [Head(str(r.terminal_id), int(r.head_seq), bytes(r.head_hash).hex())
             for r in conn.execute(select(db.terminals.c.terminal_id, db.terminals.c.head_seq,
                                          db.terminals.c.head_hash)
                                   .order_by(db.terminals.c.terminal_id))]
    counts = {name: int(conn.execute(select(func.count()).select_from(table(name)))
                        .scalar_one())
              for name in sorted(inspect(conn).get_table_names())}
    return Snapshot(current_revision(conn), heads, counts)


# --- SQLite -----------------------------------------------------------------------------------

def copy_sqlite(url: str, out: Path, method: str = SQLITE_METHODS[0]) -> Snapshot:
    """A consistent copy of the SQLite database at ``url`` into ``out`` (a new file, one
    file: journal mode DELETE), and what it holds."""
    source_path = sqlite_path(url)
    if not source_path.exists():
        raise BackupError("backup_failed", Sentence("the database %(path)s does not exist",
                                                    path=source_path))
    source = sqlite3.connect(f"file:{source_path}?mode=ro", uri=True, timeout=30)
    try:
        if method == "vacuum-into":
            source.execute("VACUUM INTO ?", (str(out),))
        else:
            target = sqlite3.connect(out)
            try:
                source.backup(target, pages=-1)  # one step: one read transaction
            finally:
                target.close()
    finally:
        source.close()
    described = describe_sqlite(out)  # the engine's connections turn WAL on
    target = sqlite3.connect(out)
    try:
        target.execute("PRAGMA journal_mode=DELETE")
    finally:
        target.close()
    return described


def describe_sqlite(path: Path) -> Snapshot:
    engine = make_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as conn:
            return describe(conn)
    finally:
        engine.dispose()


def check_sqlite(path: Path) -> str | None:
    """``PRAGMA quick_check`` of a copy, and its schema revision; a refusal when it fails."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            result = [str(row[0]) for row in conn.execute("PRAGMA quick_check")]
            revision = _sqlite_revision(conn)
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise BackupError("backup_corrupt", Sentence(
            "the database copy does not open: %(problem)s", problem=str(exc))) from exc
    if result != ["ok"]:
        raise BackupError("backup_corrupt", Sentence(
            "the database copy fails its quick check: %(problem)s",
            problem="; ".join(result[:3])))
    return revision


def _sqlite_revision(conn: sqlite3.Connection) -> str | None:
    known = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND "
                         "name = 'alembic_version'").fetchone()
    if known is None:
        return None
    row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    return str(row[0]) if row else None


def restore_sqlite(copy: Path, url: str, moment: str) -> Path | None:
    """Put the checked ``copy`` in place of the database at ``url``: written beside it,
    fsynced, renamed over it; the old database (with its -wal/-shm) is kept aside as
    ``*.before-restore-<moment>``, whose path is returned (None: there was none)."""
    target = sqlite_path(url)
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    incoming = target.with_name(f".{target.name}.restore-{moment}")
    try:
        shutil.copyfile(copy, incoming)
        os.chmod(incoming, 0o600)
        _fsync(incoming)
    except BaseException:
        incoming.unlink(missing_ok=True)
        raise
    aside = None
    if target.exists():
        aside = target.with_name(f"{target.name}.before-restore-{moment}")
        for suffix in ("-wal", "-shm"):  # the pair stays openable as one database
            side = target.with_name(target.name + suffix)
            if side.exists():
                os.replace(side, aside.with_name(aside.name + suffix))
        os.replace(target, aside)
    os.replace(incoming, target)
    _fsync_dir(target.parent)
    return aside


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    _fsync(path)


# --- PostgreSQL -------------------------------------------------------------------------------

def pg_tool(name: str) -> str:
    """``pg_dump``, ``pg_restore`` or ``psql``: from PATH, else the newest of the Debian
    packages' (/usr/lib/postgresql/N/bin, where tests/postgres.py finds the server)."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
                        key=lambda p: int(Path(p).parent.parent.name)
                        if Path(p).parent.parent.name.isdigit() else 0)
    if candidates:
        return candidates[-1]
    raise BackupError("backup_failed", Sentence(
        "%(tool)s is not installed (apt-get install postgresql-client)", tool=name))


def _libpq(url: str) -> tuple[str, dict[str, str]]:
    """The database as libpq takes it, and the environment carrying its password (never a
    command line: others on the machine can read those)."""
    parsed: URL = make_url(normalise_url(url))
    env = dict(os.environ)
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)
    plain = parsed.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _run(args: list[str], env: dict[str, str] | None = None,
         **kwargs: object) -> subprocess.CompletedProcess[bytes]:
    done = subprocess.run(args, capture_output=True, env=env, check=False,
                          **kwargs)  # type: ignore[call-overload]
    if done.returncode != 0:
        problem = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise BackupError("backup_failed", Sentence(
            "%(tool)s failed: %(problem)s", tool=Path(args[0]).name,
            problem=problem[-1] if problem else f"exit {done.returncode}"))
    return done  # type: ignore[no-any-return]


@contextmanager
def _exported_snapshot(url: str) -> Iterator[tuple[str, Connection]]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                conn.execute(text("SET TRANSACTION READ ONLY"))
                name = str(conn.execute(text("SELECT pg_export_snapshot()")).scalar_one())
                yield name, conn
    finally:
        engine.dispose()


def dump_postgres(url: str, out: Path) -> Snapshot:
    """``pg_dump --format=custom`` of one exported snapshot into ``out``; the snapshot's
    revision, heads and counts read meanwhile in the transaction that exported it."""
    dbname, env = _libpq(url)
    with _exported_snapshot(url) as (snapshot, conn):
        failure: list[BaseException] = []

        def dump() -> None:
            try:
                _run([pg_tool("pg_dump"), "--format=custom", "--no-owner", "--no-acl",
                      f"--snapshot={snapshot}", f"--file={out}", f"--dbname={dbname}"], env)
            except BaseException as exc:
                failure.append(exc)

        worker = threading.Thread(target=dump)
        worker.start()
        try:
            described = describe(conn)
        finally:
            worker.join()
        if failure:
            raise failure[0]
    return described


def check_postgres(path: Path) -> str | None:
    """``pg_restore --list`` of a dump (it reads the whole table of contents), and the
    schema revision in its ``alembic_version`` data."""
    _run([pg_tool("pg_restore"), "--list", str(path)])
    data = _run([pg_tool("pg_restore"), "--data-only", "--table=alembic_version", "--file=-",
                 str(path)]).stdout.decode("utf-8", "replace")
    lines = data.splitlines()
    for number, line in enumerate(lines):
        if line.startswith("COPY ") and "alembic_version" in line and number + 1 < len(lines):
            value = lines[number + 1].strip()
            return None if value == "\\." else value
    return None


DROP_EVERYTHING = """
DO $$
DECLARE name text;
BEGIN
  FOR name IN SELECT tablename FROM pg_tables WHERE schemaname = current_schema() LOOP
    EXECUTE format('DROP TABLE IF EXISTS %I CASCADE', name);
  END LOOP;
  FOR name IN SELECT sequencename FROM pg_sequences WHERE schemaname = current_schema() LOOP
    EXECUTE format('DROP SEQUENCE IF EXISTS %I CASCADE', name);
  END LOOP;
END $$;
"""
"""Every table (and left-over sequence) of the schema, also those a newer migration made that
the dump does not name: the migrations after the restore then start from the dump's revision."""


def restore_postgres(dump: Path, url: str) -> None:
    """The dump into the database at ``url``, replacing everything there, in one transaction."""
    dbname, env = _libpq(url)
    script = subprocess.Popen([pg_tool("pg_restore"), "--no-owner", "--no-acl", "--file=-",
                               str(dump)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert script.stdout is not None
    try:
        loaded = subprocess.run([pg_tool("psql"), "--no-psqlrc", "--quiet",
                                 "--single-transaction", "-v", "ON_ERROR_STOP=1",
                                 "-c", DROP_EVERYTHING, "-f", "-", f"--dbname={dbname}"],
                                stdin=script.stdout, capture_output=True, env=env, check=False)
    finally:
        script.stdout.close()
        _, errors = script.communicate()
    if script.returncode != 0:
        raise BackupError("backup_failed", Sentence(
            "%(tool)s failed: %(problem)s", tool="pg_restore",
            problem=errors.decode("utf-8", "replace").strip()[-300:]))
    if loaded.returncode != 0:
        problem = loaded.stderr.decode("utf-8", "replace").strip().splitlines()
        raise BackupError("backup_failed", Sentence(
            "%(tool)s failed: %(problem)s", tool="psql",
            problem=problem[-1] if problem else f"exit {loaded.returncode}"))


def other_sessions(url: str) -> int:
    """Other sessions connected to the PostgreSQL database: servers on other machines."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(
                select(func.count()).select_from(table("pg_stat_activity"))
                .where(column("datname") == func.current_database(),
                       column("backend_type") == "client backend",
                       column("pid") != func.pg_backend_pid())).scalar_one())
    finally:
        engine.dispose()


def database_has_tables(url: str) -> bool:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return bool(inspect(conn).get_table_names())
    finally:
        engine.dispose()
