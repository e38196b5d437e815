"""Shared test helpers: generated rosters, free ports, the real CLI and server processes."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import tomllib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import requests
import tomli_w
from sqlalchemy import select

from provisioning.iin import generated
from server.datadir import open_data_dir
from server.families.guardians import claim_message
from tests.test_phone_codes import Phone

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
        """The whole process group: a wrapper such as ``faketime`` does not pass SIGTERM on
        to the server it started, which would outlive the test."""
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=15)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        with contextlib.suppress(ProcessLookupError):  # what is left of the group (workers)
            os.killpg(self.process.pid, signal.SIGKILL)
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
                 settings: dict[str, object] | None = None,
                 cwd: Path | None = None) -> ServerProcess:
    """`qatys server init`, then `qatys server run` on a free port; ``settings`` are written
    into server.toml between the two; ``cwd`` runs another source tree (the bench's before)."""
    port = free_port()
    init = ["server", "init", "--data", str(data_dir), "--public-url", f"http://127.0.0.1:{port}"]
    if database_url:
        init += ["--database-url", database_url]
    run(*init, cwd=cwd)
    if settings:
        path = data_dir / "server.toml"
        path.write_text(tomli_w.dumps({**tomllib.loads(path.read_text()), **settings}))
    return start_node(data_dir, port=port, cwd=cwd)


def start_node(data_dir: Path, *, port: int | None = None,
               wrapper: tuple[str, ...] = (), cwd: Path | None = None) -> ServerProcess:
    """One more `qatys server run` of an initialised data directory (another node on the
    same database, when the first still runs); ``wrapper`` runs it under e.g. ``faketime``."""
    port = port or free_port()
    log = open(data_dir / f"process-{port}.log", "wb")  # noqa: SIM115 - lives with the process
    process = subprocess.Popen([*wrapper, *QATYS, "server", "run", "--data", str(data_dir),
                                "--port", str(port)], stdout=log, stderr=subprocess.STDOUT,
                               cwd=cwd, start_new_session=True)
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


def add_user(server: ServerProcess, username: str, role: str, password: str,
             kindergarten: str | None = None) -> None:
    extra = ["--kindergarten", kindergarten] if kindergarten else []
    run("user", "add", "--data", str(server.data_dir), "--username", username, "--role", role,
        *extra, "--password-stdin", input_text=password + "\n")


def login_form(session: requests.Session, base: str) -> str:
    """Open the finance sign-in form; returns its CSRF token (its cookie is in ``session``)."""
    page = session.get(base + "/finance/login", timeout=10)
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found is not None, page.text
    return found.group(1)


def post_login(session: requests.Session, base: str, username: str, password: str,
               csrf: str, headers: dict[str, str] | None = None) -> requests.Response:
    return session.post(base + "/finance/login", data={"csrf": csrf, "username": username,
                                                       "password": password},
                        allow_redirects=False, timeout=30, headers=headers)


def staff_session(base: str, username: str, password: str) -> requests.Session:
    """A signed-in finance page session (its cookies in the returned session)."""
    session = requests.Session()
    answer = post_login(session, base, username, password, login_form(session, base))
    assert answer.status_code == 302, answer.text
    return session


def page_csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html) or \
        re.search(r'data-csrf="([^"]+)"', html)
    assert found is not None
    return found.group(1)


@dataclass
class GuardianClient:
    """A guardian's phone as the parents' pages' script is: its key, its session, its token."""
    http: requests.Session
    phone: Phone
    guardian_id: str
    csrf: str

    def post(self, base: str, path: str, body: dict[str, object]) -> requests.Response:
        return self.http.post(base + path, json=body, timeout=10,
                              headers={"X-Qatys-CSRF": self.csrf})


def guardian_client(server: ServerProcess, child: str) -> GuardianClient:
    """Invite a guardian of ``child`` (the real CLI) and claim it with a new phone key."""
    url = run("guardian", "invite", "--data", str(server.data_dir), "--child",
              child).stdout.strip().splitlines()[-1]
    code = url.rsplit("/", 1)[-1]
    phone = Phone()
    http = requests.Session()
    answer = http.post(server.url + "/parents/api/claim", timeout=10, json={
        "code": code, "public_key": base64.b64encode(phone.spki).decode(),
        "proof": base64.b64encode(phone.sign(claim_message(code))).decode()})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    return GuardianClient(http, phone, body["guardian_id"], body["csrf"])


def flood_sign_in(base: str, seconds: float, clients: int = 16, most: int = 20_000,
                  spread: bool = False) -> Counter[int]:
    """``clients`` threads posting wrong passwords to the finance sign-in for ``seconds``
    (each with its own sign-in form; at most ``most`` posts in all); the answers' statuses.
    A 429 without Retry-After counts as status 0. ``spread``: every post names another
    username and another X-Forwarded-For address (a server that trusts 127.0.0.1 as its
    proxy then never reaches a limit: each post costs a password check)."""
    deadline = time.monotonic() + seconds
    statuses: Counter[int] = Counter()
    lock = threading.Lock()

    def client(number: int) -> None:
        browser = requests.Session()
        csrf = login_form(browser, base)
        sent = 0
        while time.monotonic() < deadline:
            sent += 1
            # Documentation addresses (RFC 3849): only ever a header's text, never a target.
            headers = {"X-Forwarded-For": f"2001:db8:{number:x}::{sent:x}"} if spread else None
            answer = post_login(browser, base, f"guess{number}-{sent if spread else 0}",
                                f"wrong-{time.monotonic()}", csrf, headers=headers)
            status = answer.status_code
            if status == 429 and not answer.headers.get("Retry-After", "").isdigit():
                status = 0
            with lock:
                statuses[status] += 1
                if sum(statuses.values()) >= most:
                    return

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(seconds + 60)
    return statuses
