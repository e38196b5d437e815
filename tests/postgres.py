"""A throwaway PostgreSQL cluster on a free port, from the Debian packages, and a streaming
replica of one (``pg_basebackup -R``: a hot standby on a port of its own)."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from tests.helpers import free_port


@dataclass
class Cluster:
    directory: Path
    port: int
    run_as: list[str]
    bin_dir: Path
    options: list[str] = field(default_factory=list)
    """More ``-c name=value`` for the server (a replica's statement log)."""

    @property
    def log_file(self) -> Path:
        return self.directory / "pg.log"

    def url(self, database: str) -> str:
        return f"postgresql://qatys@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        """Start (again) on its port; waits until it takes connections."""
        sockets = self.directory / "sock"
        subprocess.run([*self.run_as, "mkdir", "-p", str(sockets)], check=True)
        settings = " ".join([f"-p {self.port} -k {sockets} -c listen_addresses=127.0.0.1",
                             "-c fsync=on", *self.options])
        subprocess.run([*self.run_as, str(self.bin_dir / "pg_ctl"), "-D",
                        str(self.directory / "data"), "-w", "-l", str(self.log_file), "-o",
                        settings, "start"], check=True, capture_output=True)

    def create_database(self, name: str) -> str:
        subprocess.run([*self.run_as, str(self.bin_dir / "createdb"), "-h", "127.0.0.1", "-p",
                        str(self.port), "-U", "qatys", name], check=True, capture_output=True)
        return self.url(name)

    def stop(self) -> None:
        subprocess.run([*self.run_as, str(self.bin_dir / "pg_ctl"), "-D",
                        str(self.directory / "data"), "-m", "immediate", "stop"],
                       capture_output=True, check=False)


def find_bin_dir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


def start_cluster(directory: Path) -> Cluster:
    bin_dir = find_bin_dir()
    if bin_dir is None:
        raise RuntimeError("PostgreSQL server binaries not found (apt-get install postgresql)")
    run_as: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root
        run_as = ["runuser", "-u", "postgres", "--"]
        shutil.chown(directory, "postgres", "postgres")
    subprocess.run([*run_as, str(bin_dir / "initdb"), "-D", str(directory / "data"), "-U",
                    "qatys", "--auth=trust", "-E", "UTF8", "--no-sync"], check=True,
                   capture_output=True)
    cluster = Cluster(directory, free_port(), run_as, bin_dir)
    cluster.start()
    return cluster


REPLICA_OPTIONS = ["-c log_statement=all", "-c log_line_prefix='%a|%d|'",
                   "-c hot_standby_feedback=on", "-c wal_receiver_status_interval=1"]
"""A replica logs every statement with its client's application name and database: the tests
read there which reports it served and that nothing was written to it."""


def start_replica(primary: Cluster, directory: Path) -> Cluster:
    """A streaming replica of ``primary`` in ``directory`` (``pg_basebackup -R``: it follows
    the primary as a hot standby, read-only), started on a port of its own."""
    if primary.run_as:
        shutil.chown(directory, "postgres", "postgres")
    data = directory / "data"
    subprocess.run([*primary.run_as, str(primary.bin_dir / "pg_basebackup"), "-h", "127.0.0.1",
                    "-p", str(primary.port), "-U", "qatys", "-D", str(data), "-R", "-X",
                    "stream", "--no-sync", "--checkpoint=fast"], check=True,
                   capture_output=True)
    replica = Cluster(directory, free_port(), primary.run_as, primary.bin_dir, REPLICA_OPTIONS)
    replica.start()
    return replica


def sql(url: str, query: str, *params: object) -> Any:
    """One statement's first column of its first row (autocommit), or None."""
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(query, params or None).fetchone()  # type: ignore[call-overload]
        return row[0] if row else None


def wait_replayed(primary_url: str, replica_url: str, seconds: float = 30) -> None:
    """Until the replica has replayed the primary's WAL position now."""
    target = sql(primary_url, "SELECT pg_current_wal_lsn()::text")
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if sql(replica_url, "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", target):
            return
        time.sleep(0.05)
    raise AssertionError(f"the replica did not replay {target} in {seconds} s")
