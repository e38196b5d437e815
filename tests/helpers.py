"""Shared test helpers: generated rosters, free ports, the real CLI and server processes."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import requests
from sqlalchemy import select

from provisioning.iin import generated
from server.admin import open_data_dir

QATYS = [sys.executable, "-m", "qatys"]
SHARED_TESTDATA = Path(os.environ.get(
    "QATYS_SHARED", Path(__file__).resolve().parents[2] / "shared")) / "testdata"
"""Public QR and face images with their licences (../shared/testdata beside the checkout)."""
HEADER = ("child_id,iin,last_name,first_name,birth_date,group,funding_category,enrolled_on,"
          "withdrawn_on")


def roster_csv(count: int, prefix: str = "child") -> tuple[str, list[dict[str, str]]]:
    """A generated roster with valid IINs and distinctive names (no real people)."""
    rows, people = [HEADER], []
    for i, iin in zip(range(count), generated("2003155"), strict=False):
        person = {"child_id": f"{prefix}-{i:05d}-x7q", "iin": iin,
                  "last_name": f"Testovbayev{i:04d}", "first_name": f"Aruzhanka{i:04d}"}
        people.append(person)
        rows.append(f"{person['child_id']},{iin},{person['last_name']},{person['first_name']},"
                    f"2020-03-15,Group A,age3-full-state,2025-09-01,")
    return "\n".join(rows) + "\n", people


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run(*args: str, env: dict[str, str] | None = None, check: bool = True,
        timeout: float = 120, input_text: str | None = None,
        cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The qatys command; ``cwd`` another source tree to run instead (bench/before_after.py)."""
    result = subprocess.run([*QATYS, *args], capture_output=True, text=True, timeout=timeout,
                            env={**os.environ, **(env or {})}, input=input_text, cwd=cwd)
    if check and result.returncode != 0:
        raise AssertionError(f"qatys {' '.join(args)} exited {result.returncode}:\n"
                             f"{result.stdout}\n{result.stderr}")
    return result


@dataclass
class ServerProcess:
    data_dir: Path
    port: int
    process: subprocess.Popen[bytes]
    log: IO[bytes]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        stop_process(self.process, timeout=15)
        self.log.close()


def wait_for_kiosk(url: str, seconds: float = 30) -> None:
    """Until a kiosk page answers /status (it loads the decoders and face models first)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            requests.get(url + "/status", timeout=1)
            return
        except requests.ConnectionError:
            time.sleep(0.1)


def stop_process(process: subprocess.Popen[bytes], timeout: float) -> float:
    """SIGTERM, then SIGKILL after ``timeout`` seconds; returns how long the stop took."""
    started = time.monotonic()
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    return time.monotonic() - started


def start_server(data_dir: Path, database_url: str | None = None,
                 cwd: Path | None = None) -> ServerProcess:
    port = free_port()
    init = ["server", "init", "--data", str(data_dir), "--public-url", f"http://127.0.0.1:{port}"]
    if database_url:
        init += ["--database-url", database_url]
    run(*init, cwd=cwd)
    return start_node(data_dir, port=port, cwd=cwd)


def start_node(data_dir: Path, *, port: int | None = None,
               wrapper: tuple[str, ...] = (), cwd: Path | None = None) -> ServerProcess:
    """A server process on an initialised data directory (another node of the same server
    when one runs already); ``wrapper`` runs it under e.g. ``faketime``."""
    port = port or free_port()
    log = open(data_dir / f"process-{port}.log", "wb")  # noqa: SIM115 - lives with the process
    process = subprocess.Popen([*wrapper, *QATYS, "server", "run", "--data", str(data_dir),
                                "--port", str(port)], stdout=log, stderr=subprocess.STDOUT,
                               cwd=cwd)
    server = ServerProcess(data_dir, port, process, log)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if requests.get(server.url + "/api/v1/health", timeout=1).ok:
                return server
        except requests.RequestException:
            time.sleep(0.1)
    server.stop()
    raise AssertionError("server did not start:\n" + Path(log.name).read_text())


def enrol(server: ServerProcess, home: Path, env: dict[str, str], kg: str = "KG1",
          via: str | None = None) -> str:
    """A terminal home enrolled in ``kg`` (through ``via``, a proxy's URL, if given)."""
    token = run("terminal", "token", "--data", str(server.data_dir), "--kindergarten",
                kg).stdout.strip().splitlines()[-1]
    out = run("terminal", "enroll", "--home", str(home), "--server", via or server.url,
              "--token", token, env=env)
    return out.stdout.strip().splitlines()[-1]


def checkin(home: Path, env: dict[str, str], child: str) -> dict[str, object]:
    out = run("terminal", "checkin", "--home", str(home), "--child", child, "--manual",
              "--reason", "card forgotten", env=env, check=False)
    result: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def exported(server: ServerProcess) -> list[dict[str, object]]:
    out = run("events", "export", "--data", str(server.data_dir), "--format", "jsonl")
    return [json.loads(line) for line in out.stdout.splitlines()]


def server_rows(server: ServerProcess, table: Any) -> list[Any]:
    """Every row of a table, through the server's own engine (SQLite or PostgreSQL)."""
    engine = open_data_dir(server.data_dir).engine
    with engine.connect() as conn:
        rows = list(conn.execute(select(table)))
    engine.dispose()
    return rows
