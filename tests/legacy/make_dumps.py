"""Regenerate the databases of the last release before frozen migrations (commit 6029b19),
as SQL dumps: ``python -m tests.legacy.make_dumps`` (from the repository, with git history).

That release's own code — checked out as a git worktree beside this one, its own CLI and its
own server — fills a data directory as a kindergarten would: a roster (generated, no real
people), an account, a terminal that checked children in and synced, a card, a consent on
paper, a guardian whose phone signed a consent. The dumps are what tests/test_migrations.py
upgrades with today's code; they change only if this script changes.
"""

from __future__ import annotations

import base64
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests

from tests.helpers import Phone, roster_csv, run, start_server

RELEASE = "6029b19"
HERE = Path(__file__).resolve().parent
REPOSITORY = HERE.parent.parent
SQLITE_DUMP = HERE / f"{RELEASE}-sqlite.sql"
POSTGRES_DUMP = HERE / f"{RELEASE}-postgres.sql"


@contextmanager
def release_tree(base: Path) -> Iterator[Path]:
    path = base / RELEASE
    subprocess.run(["git", "-C", str(REPOSITORY), "worktree", "add", "--detach", "--quiet",
                    str(path), RELEASE], check=True)
    try:
        yield path
    finally:
        subprocess.run(["git", "-C", str(REPOSITORY), "worktree", "remove", "--force",
                        str(path)], check=False)


def fill(root: Path, data: Path, database_url: str | None) -> None:
    """The release's CLI and server make a month's worth of what a kindergarten keeps."""
    server = start_server(data, database_url, cwd=root)
    env = {"QATYS_RUNTIME_DIR": str(data.parent / "run")}
    try:
        run("kindergarten", "add", "--data", str(data), "--code", "KG1", "--name", "Балабақша 1",
            cwd=root)
        text, _ = roster_csv(20)
        (data.parent / "roster.csv").write_text(text, encoding="utf-8")
        run("roster", "import", "--data", str(data), "--kindergarten", "KG1",
            str(data.parent / "roster.csv"), cwd=root)
        run("user", "add", "--data", str(data), "--username", "finance1", "--role", "finance",
            "--password-stdin", input_text="a long enough password\n", cwd=root)
        token = run("terminal", "token", "--data", str(data), "--kindergarten", "KG1",
                    cwd=root).stdout.strip().splitlines()[-1]
        home = data.parent / "terminal"
        run("terminal", "enroll", "--home", str(home), "--server", server.url, "--token", token,
            env=env, cwd=root)
        for child in ("child-00000-x7q", "child-00001-x7q", "child-00002-x7q"):
            run("terminal", "checkin", "--home", str(home), "--child", child, "--manual",
                "--reason", "card forgotten", env=env, cwd=root)
        run("terminal", "sync", "--home", str(home), "--quiet", env=env, cwd=root)
        run("card", "issue", "--data", str(data), "--child", "child-00003-x7q", "--out",
            str(data.parent / "card.png"), cwd=root)
        run("consent", "grant", "--data", str(data), "--child", "child-00004-x7q", "--paper",
            "form-4", cwd=root)
        _phone_consent(root, data, server.url, Phone())
    finally:
        server.stop()


def _phone_consent(root: Path, data: Path, url: str, phone: Phone) -> None:
    """A guardian claims an invitation with a phone key and signs a consent grant with it."""
    invite = run("guardian", "invite", "--data", str(data), "--child", "child-00005-x7q",
                 cwd=root).stdout.strip().splitlines()[-1]
    code = invite.rsplit("/", 1)[-1]
    http = requests.Session()
    answer = http.post(url + "/parents/api/claim", timeout=10, json={
        "code": code, "public_key": base64.b64encode(phone.spki).decode(),
        "proof": base64.b64encode(phone.sign(_claim_message(root, code))).decode()})
    assert answer.status_code == 200, answer.text
    until = (datetime.now(UTC) + timedelta(days=90)).date().isoformat()
    signed_at = int(time.time() * 1000)
    message = f"qatys-consent-v1\ngrant\nchild-00005-x7q\nKG1\n{until}\n{signed_at}"
    answer = http.post(url + "/parents/api/consent", timeout=10, json={
        "child_id": "child-00005-x7q", "action": "grant", "until": until,
        "signed_at_ms": signed_at,
        "signature": base64.b64encode(phone.sign(message.encode())).decode()})
    assert answer.status_code == 200, answer.text


def _claim_message(root: Path, code: str) -> bytes:
    """The release's own claim message (its server/families/guardians.py)."""
    out = subprocess.run([sys.executable, "-c", "import sys; from server.families.guardians import "
                          "claim_message; sys.stdout.buffer.write(claim_message(sys.argv[1]))",
                          code], cwd=root, capture_output=True, check=True)
    return out.stdout


def main() -> None:
    from tests.postgres import start_cluster

    base = Path(tempfile.mkdtemp(prefix="qatys-legacy-"))
    base.chmod(0o755)
    try:
        with release_tree(base) as root:
            fill(root, base / "sqlite" / "data", None)
            with sqlite3.connect(base / "sqlite" / "data" / "qatys.db") as conn:
                SQLITE_DUMP.write_text("\n".join(conn.iterdump()) + "\n", encoding="utf-8")
            (base / "pg").mkdir()
            (base / "pg").chmod(0o755)
            cluster = start_cluster(base / "pg")
            try:
                url = cluster.create_database("legacy")
                fill(root, base / "postgres" / "data", url)
                dump = subprocess.run(
                    [*cluster.run_as, str(cluster.bin_dir / "pg_dump"), "-h", "127.0.0.1",
                     "-p", str(cluster.port), "-U", "qatys", "--no-owner", "--no-privileges",
                     "--inserts", "legacy"], capture_output=True, text=True, check=True)
                POSTGRES_DUMP.write_text(dump.stdout, encoding="utf-8")
            finally:
                cluster.stop()
    finally:
        shutil.rmtree(base, ignore_errors=True)
    print(f"wrote {SQLITE_DUMP.name} and {POSTGRES_DUMP.name}")


if __name__ == "__main__":
    main()
