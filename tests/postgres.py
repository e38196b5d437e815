"""A throwaway PostgreSQL cluster on a free port, from the Debian packages."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.helpers import free_port


@dataclass
class Cluster:
    directory: Path
    port: int
    run_as: list[str]
    bin_dir: Path

    def url(self, database: str) -> str:
        return f"postgresql://qatys@127.0.0.1:{self.port}/{database}"

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
    data, sockets = directory / "data", directory / "sock"
    port = free_port()
    subprocess.run([*run_as, str(bin_dir / "initdb"), "-D", str(data), "-U", "qatys",
                    "--auth=trust", "-E", "UTF8", "--no-sync"], check=True, capture_output=True)
    subprocess.run([*run_as, "mkdir", "-p", str(sockets)], check=True)
    subprocess.run([*run_as, str(bin_dir / "pg_ctl"), "-D", str(data), "-w", "-l",
                    str(directory / "pg.log"), "-o",
                    f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync=on",
                    "start"], check=True, capture_output=True)
    return Cluster(directory, port, run_as, bin_dir)
