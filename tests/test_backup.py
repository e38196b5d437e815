"""`qatys server backup` and `qatys server restore` (server/backup/, docs/operations.md) with
real processes, on SQLite and on a real PostgreSQL: a backup taken while three terminals sync
restores to a consistent copy (every chain contiguous, the manifest's heads and counts those of
the copy); a restore into an empty data directory starts a server with the same month
statement, byte for byte; a damaged, cut, foreign or too-new backup, or one restored under a
running server, is refused with exit 2 and nothing changed."""

from __future__ import annotations

import hashlib
import io
import json
import os
import sqlite3
import subprocess
import sys
import tarfile
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from sqlalchemy import select

from qatys.timeutil import local_date, now_us
from server.backup.container import MANIFEST, MANIFEST_DIGEST
from server.backup.service import to_prune
from server.config import load_config
from server.datadir import open_data_dir
from server.storage import db
from tests.helpers import Command, LastLine, ServerProcess, cli, qatys_batch, start_node

ROOT = Path(__file__).resolve().parent.parent
TERMINALS = 3
ROUNDS = 2
PER_ROUND = 20


@dataclass
class Backups:
    server: ServerProcess
    database_url: str | None
    """The database of the module's server (None: SQLite in its data directory)."""
    during: list[Path]
    """Backups taken while the terminals synced."""
    after: Path
    """A backup taken once they had finished."""
    fresh_url: list[str]
    """PostgreSQL: fresh databases to restore into (one per use); SQLite: empty."""


CHECKINS_THEN_SYNC = """
import sys
from pathlib import Path
from qatys.cli import cli
from tests.helpers import make_checkins
make_checkins(Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]))
cli(["terminal", "sync", "--home", sys.argv[1]])
"""
"""One round of a door in one process: check-ins as `qatys terminal checkin` makes them, then
`qatys terminal sync`."""


def _terminal(home: Path, env: dict[str, str], failures: list[str]) -> None:
    try:
        for round_ in range(ROUNDS):
            subprocess.run([sys.executable, "-c", CHECKINS_THEN_SYNC, str(home),
                            str(PER_ROUND), str(round_ * PER_ROUND)], check=True, cwd=ROOT,
                           env={**os.environ, **env}, capture_output=True, timeout=120)
    except BaseException as exc:  # reported by the test's thread
        failures.append(repr(exc))


def _backup(server: ServerProcess, out: Path) -> subprocess.CompletedProcess[str]:
    return cli("server", "backup", "--data", str(server.data_dir), "--out", str(out))


pytestmark = pytest.mark.usefixtures("commands_in_one_process")


@pytest.fixture(scope="module")
def backups(server: ServerProcess, commands_in_one_process: None,
            request: pytest.FixtureRequest,
            tmp_path_factory: pytest.TempPathFactory) -> Backups:
    base = tmp_path_factory.mktemp("backups")
    homes = [(base / f"door-{n}", {"QATYS_RUNTIME_DIR": str(base / f"run-{n}")})
             for n in range(TERMINALS)]
    qatys_batch(*(command for number, (home, env) in enumerate(homes) for command in (
        Command(["terminal", "token", "--data", str(server.data_dir), "--kindergarten", "KG1"]),
        Command(["terminal", "enroll", "--home", str(home), "--server", server.url, "--token",
                 LastLine(2 * number)], env))))  # the three doors enrolled in one process
    failures: list[str] = []
    threads = [threading.Thread(target=_terminal, args=(home, env, failures))
               for home, env in homes]
    for thread in threads:
        thread.start()
    during = []
    while any(thread.is_alive() for thread in threads) or not during:
        during.append(base / f"during-{len(during)}.tar")
        _backup(server, during[-1])
    for thread in threads:
        thread.join()
    assert failures == []
    after = base / "after.tar"
    _backup(server, after)
    url = load_config(server.data_dir).database_url
    fresh = []
    if not url.startswith("sqlite"):
        cluster = request.getfixturevalue("pg_cluster")
        fresh = [cluster.create_database(f"{server.data_dir.name.replace('-', '_')}_r{n}")
                 for n in range(4)]
    return Backups(server, None if url.startswith("sqlite") else url, during, after, fresh)


def _restore(backups: Backups, file: Path, target: Path,
             check: bool = True) -> subprocess.CompletedProcess[str]:
    args = ["server", "restore", "--data", str(target)]
    if backups.fresh_url and not (target / "server.toml").exists():
        args += ["--database-url", backups.fresh_url.pop()]
    return cli(*args, str(file), check=check)


def _manifest(file: Path) -> dict[str, object]:
    with tarfile.open(file) as tar:
        member = tar.extractfile(MANIFEST)
        assert member is not None
        body: dict[str, object] = json.loads(member.read())
        return body


def test_a_backup_taken_while_terminals_sync_restores_every_chain_whole(
        backups: Backups, tmp_path: Path) -> None:
    file = backups.during[len(backups.during) // 2]
    verified = cli("server", "backup", "--verify", str(file))
    assert "verifies" in verified.stdout
    manifest = _manifest(file)
    _restore(backups, file, tmp_path / "restored")
    data = open_data_dir(tmp_path / "restored")
    with data.engine.connect() as conn:
        heads = {r.terminal_id: (r.head_seq, r.head_hash.hex())
                 for r in conn.execute(select(db.terminals))}
        seqs: dict[str, list[int]] = {}
        for terminal_id, seq in conn.execute(select(db.events.c.terminal_id, db.events.c.seq)
                                             .order_by(db.events.c.terminal_id,
                                                       db.events.c.seq)):
            seqs.setdefault(terminal_id, []).append(seq)
        if data.engine.dialect.name == "sqlite":
            assert conn.exec_driver_sql("PRAGMA quick_check").scalar_one() == "ok"
    data.engine.dispose()
    assert len(heads) == TERMINALS
    for terminal_id, (head_seq, _) in heads.items():
        assert seqs.get(terminal_id, []) == list(range(1, head_seq + 1)), terminal_id
    assert {t["terminal_id"]: (t["head_seq"], t["head_hash"])  # type: ignore[index]
            for t in manifest["terminals"]} == heads  # type: ignore[attr-defined]
    counts = manifest["counts"]
    assert isinstance(counts, dict)
    assert counts["events"] == sum(len(s) for s in seqs.values())
    assert manifest["server_public_key"]
    members = manifest["members"]
    assert isinstance(members, list)
    assert {m["name"] for m in members} >= {"keys/server-keys.json"}
    assert (file.stat().st_mode & 0o777) == 0o600


def test_verify_names_what_the_backup_holds(backups: Backups) -> None:
    done = cli("server", "backup", "--verify", str(backups.after))
    assert "every SHA-256 matches" in done.stdout
    assert f"{TERMINALS} terminals" in done.stdout


def _statement(data_dir: Path, out: Path) -> bytes:
    month = local_date(now_us()).strftime("%Y-%m")
    cli("funding", "statement", "--data", str(data_dir), "--kindergarten", "KG1", "--month",
        month, "--format", "json", "--out", str(out))
    return out.read_bytes()


def test_a_restore_into_an_empty_directory_serves_the_same_statement(
        backups: Backups, tmp_path: Path) -> None:
    before = _statement(backups.server.data_dir, tmp_path / "before.json")
    target = tmp_path / "new"
    done = _restore(backups, backups.after, target)
    assert "keys were restored" in done.stdout
    restored = start_node(target)
    try:
        health = requests.get(restored.url + "/api/v1/health", timeout=10)
        assert health.ok
        after = _statement(target, tmp_path / "after.json")
    finally:
        restored.stop()
    assert after == before
    assert b"child-00001-x7q" in after


def _tree(directory: Path) -> dict[str, str]:
    """Every file's SHA-256 under ``directory``, but the running server's own logs."""
    return {str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(directory.rglob("*")) if p.is_file()
            and "logs" not in p.parts and not p.name.startswith("process-")
            and not p.name.endswith("-shm")}


def _events_in(data_dir: Path) -> int:
    data = open_data_dir(data_dir)
    with data.engine.connect() as conn:
        count = len(list(conn.execute(select(db.events.c.event_id))))
    data.engine.dispose()
    return count


def _rewritten(file: Path, out: Path, change: dict[str, object]) -> Path:
    """``file`` with its manifest changed and hashed again: a backup that verifies."""
    with tarfile.open(file) as tar:
        members = [(info, tar.extractfile(info).read())  # type: ignore[union-attr]
                   for info in tar]
    with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as tar:
        manifest = b""
        for info, body in members:
            if info.name == MANIFEST:
                manifest = json.dumps({**json.loads(body), **change}).encode()
                body = manifest
            elif info.name == MANIFEST_DIGEST:
                body = (hashlib.sha256(manifest).hexdigest() + "\n").encode()
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
    return out


def _damaged(file: Path, out: Path) -> Path:
    raw = bytearray(file.read_bytes())
    with tarfile.open(file) as tar:
        database = next(i for i in tar if i.name.startswith("database."))
    raw[database.offset_data + database.size // 2] ^= 0x40
    out.write_bytes(bytes(raw))
    return out


def _cut(file: Path, out: Path) -> Path:
    out.write_bytes(file.read_bytes()[:file.stat().st_size * 2 // 3])
    return out


@pytest.fixture(scope="module")
def stopped(backups: Backups, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A stopped server's data directory, restored from the module's backup (same keys)."""
    target = tmp_path_factory.mktemp("stopped") / "data"
    _restore(backups, backups.after, target)
    return target


@pytest.mark.parametrize(("case", "reason"), [
    ("damaged", "damaged: its SHA-256 does not match"),
    ("cut", "truncated"),
    ("too_new", "newer than this code knows"),
    ("foreign", "another server"),
    ("running", "is running"),
])
def test_a_backup_that_cannot_be_restored_is_refused_and_changes_nothing(
        backups: Backups, stopped: Path, tmp_path: Path, case: str, reason: str) -> None:
    file = backups.after
    target = stopped
    if case == "damaged":
        file = _damaged(file, tmp_path / "damaged.tar")
    elif case == "cut":
        file = _cut(file, tmp_path / "cut.tar")
    elif case == "too_new":
        file = _rewritten(file, tmp_path / "new.tar", {"schema_revision": "9999"})
    elif case == "foreign":
        target = tmp_path / "other"
        init = ["server", "init", "--data", str(target)]
        if backups.fresh_url:
            init += ["--database-url", backups.fresh_url.pop()]
        cli(*init)
    else:
        target = backups.server.data_dir
    events = _events_in(target)
    before = _tree(target)
    refused = _restore(backups, file, target, check=False)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert reason in refused.stderr
    assert "error: " in refused.stderr
    assert _tree(target) == before
    assert _events_in(target) == events
    if case in ("damaged", "cut"):
        verified = cli("server", "backup", "--verify", str(file), check=False)
        assert verified.returncode == 2
        assert reason in verified.stderr


def test_a_folder_of_backups_keeps_what_the_retention_says(backups: Backups,
                                                           tmp_path: Path) -> None:
    if backups.database_url is not None:
        pytest.skip("the folder and its retention are the same on both databases")
    folder = tmp_path / "nightly"
    folder.mkdir()
    old = folder / "qatys-backup-20200101T010000Z.tar"
    old.write_bytes(b"")
    (folder / "notes.txt").write_text("kept")
    done = cli("server", "backup", "--data", str(backups.server.data_dir), "--out-dir",
               str(folder), "--keep-daily", "1", "--keep-weekly", "0")
    names = sorted(p.name for p in folder.iterdir())
    assert len(names) == 2, names
    assert "notes.txt" in names
    assert "removed" in done.stdout
    new = folder / next(n for n in names if n.endswith(".tar"))
    cli("server", "backup", "--verify", str(new))


def test_the_retention_keeps_the_newest_of_each_day_and_week() -> None:
    names = [f"qatys-backup-202603{day:02d}T0{hour}0000Z.tar"
             for day in range(1, 31) for hour in (1, 3)]
    pruned = set(to_prune([*names, "other.tar"], keep_daily=3, keep_weekly=2))
    kept = sorted(set(names) - pruned)
    # the newest of March 28, 29, 30 (days) and of ISO weeks 13 (23-29 March) and 14 (30th)
    assert kept == ["qatys-backup-20260328T030000Z.tar", "qatys-backup-20260329T030000Z.tar",
                    "qatys-backup-20260330T030000Z.tar"]
    assert "other.tar" not in pruned
    weekly = sorted(set(names) - set(to_prune(names, keep_daily=1, keep_weekly=3)))
    assert weekly == ["qatys-backup-20260322T030000Z.tar", "qatys-backup-20260329T030000Z.tar",
                      "qatys-backup-20260330T030000Z.tar"]


def test_a_sqlite_copy_is_one_file(backups: Backups, tmp_path: Path) -> None:
    if backups.database_url is not None:
        pytest.skip("SQLite only")
    with tarfile.open(backups.after) as tar:
        tar.extract("database.sqlite", tmp_path, filter="data")
    conn = sqlite3.connect(tmp_path / "database.sqlite")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    conn.close()
