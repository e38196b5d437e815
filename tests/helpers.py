"""Shared test helpers: generated rosters, free ports, the real CLI and server processes."""

from __future__ import annotations

import base64
import contextlib
import gc
import json
import logging
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import tomllib
import traceback
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import IO, Any

import pytest
import requests
import tomli_w
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from sqlalchemy import func, select

from protocol import MAX_BATCH_EVENTS, crypto, events
from protocol import phone as phone_code
from provisioning.iin import generated
from server.datadir import open_data_dir
from server.families.guardians import claim_message
from terminal.checkin import CheckinRequest, CheckinService
from terminal.home import open_terminal
from terminal.sealer import Sealer
from terminal.store import TerminalStore
from tests.browser import Page

QATYS = [sys.executable, "-m", "qatys"]
SHARED_TESTDATA = Path(os.environ.get(
    "QATYS_SHARED", Path(__file__).resolve().parents[2] / "shared")) / "testdata"
"""Public QR and face images with their licences (../shared/testdata beside the checkout)."""
ROSTER_TODAY = date(2026, 3, 2)
"""The server's local date a test checks a roster on (parse_csv/parse_records take it)."""
HEADER = ("child_id,iin,last_name,first_name,birth_date,group,funding_category,enrolled_on,"
          "withdrawn_on")


def roster_csv(count: int, prefix: str = "child", groups: Sequence[str] = ("Group A",)
               ) -> tuple[str, list[dict[str, str]]]:
    """A generated roster with valid IINs and distinctive names (no real people); each IIN
    begins with the birth date (2020-03-15: ``200315`` and the century digit 5); children are
    dealt to ``groups`` in turn."""
    rows, people = [HEADER], []
    for i, iin in zip(range(count), generated("2003155"), strict=False):
        person = {"child_id": f"{prefix}-{i:05d}-x7q", "iin": iin,
                  "last_name": f"Testovbayev{i:04d}", "first_name": f"Aruzhanka{i:04d}"}
        people.append(person)
        rows.append(f"{person['child_id']},{iin},{person['last_name']},{person['first_name']},"
                    f"2020-03-15,{groups[i % len(groups)]},age3-full-state,2025-09-01,")
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


@dataclass(frozen=True)
class LastLine:
    """In a `qatys_batch` command line: the last line printed by an earlier command of the
    batch (by its index), e.g. the token `qatys terminal token` printed."""
    step: int


@dataclass
class Command:
    """One `qatys` command line of a batch, with the environment it runs in."""
    args: Sequence[str | Path | LastLine]
    env: dict[str, str] = field(default_factory=dict)
    input_text: str | None = None


BATCH_ANSWER = "qatys-batch-answer "
"""Begins the line a batch's results are on (a library may write to stdout too)."""


def _batch_request(commands: Sequence[Command]) -> str:
    return json.dumps([{"args": [{"last_line_of": a.step} if isinstance(a, LastLine) else str(a)
                                 for a in c.args], "env": c.env, "input": c.input_text}
                       for c in commands]) + "\n"


def _batch_results(answer: list[dict[str, Any]], commands: Sequence[Command],
                   check: bool) -> list[subprocess.CompletedProcess[str]]:
    results = [subprocess.CompletedProcess([*QATYS, *r["args"]], r["code"], r["stdout"],
                                           r["stderr"]) for r in answer]
    if check and (len(results) < len(commands) or results[-1].returncode != 0):
        last = results[-1]
        raise AssertionError(f"qatys {' '.join(last.args[len(QATYS):])} exited "
                             f"{last.returncode}:\n{last.stdout}\n{last.stderr}")
    return results


def qatys_batch(*commands: Command, check: bool = True,
                timeout: float = 300) -> list[subprocess.CompletedProcess[str]]:
    """Run ``commands`` one after another through the `qatys` command's own entry point, in
    one process instead of one each (a test's setup: a kindergarten, its roster, its
    terminals, …). Stops at the first that fails; ``check``: raise then, as `run` does."""
    done = subprocess.run([sys.executable, "-m", "tests.helpers"],
                          input=_batch_request(commands), capture_output=True, text=True,
                          timeout=timeout)
    answers = [line for line in done.stdout.splitlines() if line.startswith(BATCH_ANSWER)]
    if done.returncode != 0 or not answers:
        raise AssertionError(f"the qatys batch exited {done.returncode}:\n{done.stderr}")
    return _batch_results(json.loads(answers[-1][len(BATCH_ANSWER):]), commands, check)


class QatysWorker:
    """One process that runs batches of `qatys` commands (as `qatys_batch` does), one batch
    after another, for a module's tests: their setups then cost no process start and no
    imports each. Its stderr goes to ``log``."""

    def __init__(self, log: Path) -> None:
        self.log = log.open("w")
        self.process = subprocess.Popen([sys.executable, "-m", "tests.helpers"],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=self.log, text=True)

    def batch(self, *commands: Command,
              check: bool = True) -> list[subprocess.CompletedProcess[str]]:
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write(_batch_request(commands))
        self.process.stdin.flush()
        for line in self.process.stdout:
            if line.startswith(BATCH_ANSWER):
                return _batch_results(json.loads(line[len(BATCH_ANSWER):]), commands, check)
        raise AssertionError("the qatys worker ended:\n" + Path(self.log.name).read_text())

    def run(self, *args: str | Path, env: dict[str, str] | None = None, check: bool = True,
            input_text: str | None = None) -> subprocess.CompletedProcess[str]:
        """One command, as `run` gives it (its exit code, stdout, stderr; raising if it fails
        and ``check``), without a process start: for a test's many short commands."""
        return self.batch(Command(args, env or {}, input_text), check=check)[-1]

    def close(self) -> None:
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.close()  # the end of the batches: the process ends
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process.stdout.close()
        self.log.close()


_MODULE_WORKERS: list[QatysWorker] = []
"""The `qatys` worker of the test module running now (tests/conftest.py's
``commands_in_one_process``): :func:`cli` runs there."""


def module_worker() -> QatysWorker:
    """The running module's worker; the module asks for it with
    ``pytestmark = pytest.mark.usefixtures("commands_in_one_process")``."""
    return _MODULE_WORKERS[-1]


def cli(*args: str | Path, env: dict[str, str] | None = None, check: bool = True,
        input_text: str | None = None) -> subprocess.CompletedProcess[str]:
    """`run`, in the module's worker process (no process start and imports each)."""
    return module_worker().run(*args, env=env, check=check, input_text=input_text)


def _run_batches() -> None:
    """`python -m tests.helpers`: the other end of `qatys_batch` and `QatysWorker`: a batch
    (a JSON list) a line on stdin, its results a line on stdout, until stdin ends. Each
    command runs as click runs it from a command line; what one leaves in the process (log
    handlers, umask, database connections) is undone before the next."""
    from click.testing import CliRunner

    from qatys.cli import cli

    requests_in, answers_out = sys.stdin, sys.stdout
    for request in requests_in:
        results: list[dict[str, Any]] = []
        for step in json.loads(request):
            args = [results[a["last_line_of"]]["stdout"].strip().splitlines()[-1]
                    if isinstance(a, dict) else a for a in step["args"]]
            umask = os.umask(0o022)
            os.umask(umask)
            outcome = CliRunner().invoke(cli, args, env=step["env"], input=step["input"])
            os.umask(umask)
            logger = logging.getLogger("qatys")
            for handler in logger.handlers:
                handler.close()
            logger.handlers.clear()
            gc.collect()  # the engines a command opened, and their connections
            stderr = outcome.stderr
            if outcome.exception is not None and not isinstance(outcome.exception,
                                                                SystemExit):
                stderr += "".join(traceback.format_exception(outcome.exception))
            results.append({"args": args, "code": outcome.exit_code,
                            "stdout": outcome.stdout, "stderr": stderr})
            if outcome.exit_code != 0:
                break
        answers_out.write("\n" + BATCH_ANSWER + json.dumps(results) + "\n")
        answers_out.flush()


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
        """The whole process group: the web workers, and a wrapper's child that a signal to
        the wrapper alone would leave running past the test."""
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


HAPROXY_CONFIG = Path(__file__).resolve().parents[1] / "hardware" / "haproxy" / "qatys.cfg"


@dataclass
class Balancer:
    """A real HAProxy (Debian's) running hardware/haproxy/qatys.cfg, with this test's port,
    stats socket and nodes put in."""
    port: int
    socket_path: Path
    process: subprocess.Popen[bytes]
    log: IO[bytes]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stats(self) -> dict[str, dict[str, str]]:
        """``show stat`` of the nodes' backend: each server's row (``stot``, ``status``)."""
        with socket.socket(socket.AF_UNIX) as conn:
            conn.connect(str(self.socket_path))
            conn.sendall(b"show stat\n")
            text = b"".join(iter(lambda: conn.recv(65536), b"")).decode()
        lines = [line for line in text.splitlines() if line]
        header = lines[0].lstrip("# ").split(",")
        rows = [dict(zip(header, line.split(","), strict=False)) for line in lines[1:]]
        return {row["svname"]: row for row in rows if row["pxname"] == "qatys_nodes"
                and row["svname"] not in ("BACKEND", "FRONTEND")}

    def wait_status(self, server: str, status: str, seconds: float = 20) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.stats()[server]["status"].startswith(status):
                return
            time.sleep(0.1)
        raise AssertionError(f"{server} not {status}: {self.stats()[server]}")

    def stop(self) -> None:
        stop_process(self.process, 10)
        self.log.close()


def start_haproxy(directory: Path, node_ports: Sequence[int],
                  port: int | None = None) -> Balancer:
    """HAProxy on ``port`` (a free one) in front of the nodes on ``node_ports`` (node1,
    node2, …)."""
    haproxy = shutil.which("haproxy") or "/usr/sbin/haproxy"
    if not Path(haproxy).exists():
        if os.environ.get("QATYS_REQUIRE_POSTGRES") == "1":
            pytest.fail("HAProxy is required here (make test installs it) but is missing")
        pytest.skip("HAProxy not installed")
    port, sock = port or free_port(), directory / "haproxy.sock"
    lines = []
    for line in HAPROXY_CONFIG.read_text().splitlines():
        if "qatys-test: stats socket" in line:
            line = f"    stats socket {sock} mode 600 level admin"
        elif "qatys-test: bind" in line:
            line = f"    bind 127.0.0.1:{port}"
        elif "qatys-test: tls only" in line or line.strip().startswith("server "):
            continue
        lines.append(line)
    lines += [f"    server node{i + 1} 127.0.0.1:{p}" for i, p in enumerate(node_ports)]
    config = directory / "haproxy.cfg"
    config.write_text("\n".join(lines) + "\n")
    log = open(directory / "haproxy.log", "wb")  # noqa: SIM115 - lives with the process
    process = subprocess.Popen([haproxy, "-db", "-f", str(config)], stdout=log,
                               stderr=subprocess.STDOUT)
    balancer = Balancer(port, sock, process, log)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError, IndexError, KeyError):
            if all(row["status"].startswith("UP") for row in balancer.stats().values()):
                return balancer
        time.sleep(0.1)
    balancer.stop()
    raise AssertionError("HAProxy did not start:\n" + (directory / "haproxy.log").read_text())


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
    into server.toml between the two; ``cwd`` runs another source tree (the bench's before).

    No worker runs beside a test's server unless ``settings`` ask for one (``run_worker``):
    a test that needs background work starts it (:func:`start_worker`) or runs
    ``qatys server worker --once``, so nothing runs behind a test's back."""
    port = free_port()
    init = ["server", "init", "--data", str(data_dir), "--public-url", f"http://127.0.0.1:{port}"]
    if database_url:
        init += ["--database-url", database_url]
    run(*init, cwd=cwd)
    chosen = dict(settings or {})
    if cwd is None:  # an older tree (the bench's before) knows no run_worker
        chosen.setdefault("run_worker", False)
    if chosen:
        write_settings(data_dir, chosen)
    return start_node(data_dir, port=port, cwd=cwd)


def write_settings(data_dir: Path, settings: dict[str, object]) -> None:
    """Settings into DIR/server.toml, beside those already there."""
    path = data_dir / "server.toml"
    path.write_text(tomli_w.dumps({**tomllib.loads(path.read_text()), **settings}))


def start_worker(data_dir: Path) -> subprocess.Popen[bytes]:
    """A `qatys server worker` for a test's server (its output in DIR/worker.log); stop it
    with :func:`stop_process`."""
    with open(data_dir / "worker.log", "ab") as log:
        return subprocess.Popen([*QATYS, "server", "worker", "--data", str(data_dir),
                                 "--every", "0.5"], stdout=log, stderr=subprocess.STDOUT)


def start_node(data_dir: Path, *, port: int | None = None,
               env: dict[str, str] | None = None, cwd: Path | None = None) -> ServerProcess:
    """One more `qatys server run` of an initialised data directory (another node on the
    same database, when the first still runs); ``env`` is added to its environment (e.g. a
    :func:`faked_clock`)."""
    port = port or free_port()
    log = open(data_dir / f"process-{port}.log", "wb")  # noqa: SIM115 - lives with the process
    process = subprocess.Popen([*QATYS, "server", "run", "--data", str(data_dir),
                                "--port", str(port)], stdout=log, stderr=subprocess.STDOUT,
                               cwd=cwd, start_new_session=True, env={**os.environ, **(env or {})})
    return wait_until_up(ServerProcess(data_dir, port, process, log))


def wait_until_up(server: ServerProcess, seconds: float = 30) -> ServerProcess:
    """``server`` once its health answers; stopped, with its log in the error, if it does not
    within ``seconds`` (the tests' nodes and the bench's candidate servers alike)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if requests.get(server.url + "/api/v1/health", timeout=1).ok:
                return server
        except requests.RequestException:
            time.sleep(0.1)
    server.stop()
    raise AssertionError("server did not start:\n" + Path(server.log.name).read_text())


def enrol(server: ServerProcess, home: Path, env: dict[str, str], kg: str = "KG1",
          via: str | None = None) -> str:
    """A terminal home enrolled in ``kg`` (through ``via``, a proxy's URL, if given)."""
    done = qatys_batch(
        Command(["terminal", "token", "--data", str(server.data_dir), "--kindergarten", kg]),
        Command(["terminal", "enroll", "--home", str(home), "--server", via or server.url,
                 "--token", LastLine(0)], env))  # one process for both
    return done[-1].stdout.strip().splitlines()[-1]


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


def matching_rows(server: ServerProcess, table: Any, **where: object) -> list[dict[str, Any]]:
    """The rows of ``table`` whose columns equal ``where``, by id, as dicts."""
    engine = open_data_dir(server.data_dir).engine
    with engine.connect() as conn:
        query = select(table)
        for column, value in where.items():
            query = query.where(table.c[column] == value)
        found = [dict(r._mapping) for r in conn.execute(query.order_by(table.c.id))]
    engine.dispose()
    return found


def row_counts(server: ServerProcess, *tables: Any) -> dict[str, int]:
    """How many rows each table holds: what a refused form or call must leave as it was."""
    engine = open_data_dir(server.data_dir).engine
    with engine.connect() as conn:
        found = {t.name: int(conn.execute(select(func.count()).select_from(t)).scalar_one())
                 for t in tables}
    engine.dispose()
    return found


def add_user(server: ServerProcess, username: str, role: str, password: str,
             kindergarten: str | None = None, *, groups: Sequence[str] = (),
             district: str | None = None) -> None:
    """A staff account made with the real command (a teacher's ``groups``, an operator's
    ``district``)."""
    extra = ["--kindergarten", kindergarten] if kindergarten else []
    extra += [arg for group in groups for arg in ("--group", group)]
    extra += ["--district", district] if district else []
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
    return claim_with_new_phone(server, url.rsplit("/", 1)[-1])


def claim_with_new_phone(server: ServerProcess, code: str) -> GuardianClient:
    """A new phone (a Python key signing as WebCrypto does) claims the invitation ``code``."""
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


TEST_CARD_SEED = bytes(range(32))
"""A kindergarten card key for tests that need one without a server."""


class Phone:
    """A guardian's phone: a P-256 key that signs as WebCrypto does (r ‖ s)."""

    def __init__(self) -> None:
        self.private = ec.generate_private_key(ec.SECP256R1())
        self.spki = self.private.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        self.key_id = phone_code.key_id(self.spki)

    def sign(self, message: bytes) -> bytes:
        r, s = decode_dss_signature(self.private.sign(message, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")

    def code(self, child: str, window: int, seed: bytes = TEST_CARD_SEED, serial: str = "AAAAAAAA",
             kindergarten: str = "KG1") -> str:
        binding = phone_code.sign_binding(seed, self.key_id, child, kindergarten, serial)
        signature = self.sign(phone_code.code_message(self.key_id, child, window))
        return (f"QP1:{self.key_id}:{child}:{window}:{serial}:{phone_code.b64url(binding)}:"
                f"{phone_code.b64url(signature)}")


def open_page(page: Page, url: str) -> None:
    """Go to ``url`` and wait until the new page has loaded."""
    page.evaluate("window.__old = true")
    page.goto(url)
    page.wait_for("window.__old === undefined && document.readyState === 'complete'")


def submit_form(page: Page, form_selector: str) -> None:
    page.evaluate("window.__old = true")
    page.evaluate(f"document.querySelector({json.dumps(form_selector)}).submit()")
    page.wait_for("window.__old === undefined && document.readyState === 'complete'")


def browser_login(page: Page, base: str, username: str, password: str) -> None:
    """Sign in on the finance sign-in page as a person would."""
    open_page(page, base + "/finance/login")
    page.evaluate(f"document.querySelector('[name=username]').value = {json.dumps(username)};"
                  f"document.querySelector('[name=password]').value = "
                  f"{json.dumps(password)}; true")
    submit_form(page, "#login")


def invite_url(server: ServerProcess, child: str) -> str:
    """A guardian invitation for ``child`` (the real CLI), as a URL of this server."""
    out = run("guardian", "invite", "--data", str(server.data_dir), "--child", child).stdout
    url = out.strip().splitlines()[-1]
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/parents/invite/[A-Z2-7]{4}(-[A-Z2-7]{4}){3}",
                        url), url
    return url.replace("http://127.0.0.1:8080", server.url)


def claim_in_browser(page: Page, url: str) -> None:
    """Open an invitation in the phone's browser and accept it (the page makes the key)."""
    open_page(page, url)
    page.evaluate("window.__old = true; document.getElementById('accept').click(); true")
    page.wait_for("window.__old === undefined && document.readyState === 'complete' && "
                  "document.querySelectorAll('#children li').length > 0", timeout=30)


def libfaketime() -> Path | None:
    """The preloadable libfaketime of this machine (Debian's multiarch folder), if any."""
    found = sorted(Path("/usr/lib").glob("*/faketime/libfaketime.so.1"))
    found += [p for p in [Path("/usr/lib/faketime/libfaketime.so.1")] if p.exists()]
    return found[0] if found else None


def need_faketime() -> None:
    """Skip without libfaketime, except where `make test` requires it (then fail)."""
    if libfaketime() is None:
        if os.environ.get("QATYS_REQUIRE_FAKETIME") == "1":
            pytest.fail("libfaketime is required here (make test installs it) but is missing")
        pytest.skip("libfaketime not installed")


def faked_clock(clock: str) -> dict[str, str]:
    """The environment that starts a process's wall clock at ``clock`` (``YYYY-MM-DD
    HH:MM:SS``, UTC) or shifts it by an offset (``-1h``, ``+6m``), the clock then running.

    libfaketime is preloaded directly rather than through the ``faketime`` wrapper: the
    wrapper makes a named semaphore per process id, and one left by a wrapper that was killed
    makes a later wrapper with the same recycled id refuse to start ("sem_open: File
    exists"), which failed a CI run."""
    need_faketime()
    offset = clock[:1] in "+-"
    return {"LD_PRELOAD": str(libfaketime()), "FAKETIME": clock if offset else "@" + clock,
            **({} if offset else {"TZ": "UTC"})}


def checkin_at(moment: str, home: Path, env: dict[str, str], child: str) -> dict[str, object]:
    """A manual check-in by a terminal whose clock reads ``moment`` (UTC)."""
    out = subprocess.run([*QATYS, "terminal", "checkin", "--home", str(home),
                          "--child", child, "--manual", "--reason", "test"],
                         capture_output=True, text=True, timeout=60,
                         env={**os.environ, **env, **faked_clock(moment)})
    if out.returncode != 0:
        raise AssertionError(f"check-in at {moment} exited {out.returncode}:\n{out.stdout}\n"
                             f"{out.stderr}")
    result: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


CHILDREN = [f"child-{i:05d}-x7q" for i in range(20)]
"""The ids of the generated roster's children (roster_csv(20))."""


def make_checkins(home: Path, count: int, start: int = 0) -> None:
    """``count`` manual check-ins (arrivals, then departures, …) by the terminal's own code,
    as `qatys terminal checkin --manual` makes them, without a process start each; ``start``
    goes on from the check-ins made before."""
    terminal = open_terminal(home, log=False)
    try:
        service = CheckinService(terminal)
        for i in range(start, start + count):
            direction = "in" if (i // len(CHILDREN)) % 2 == 0 else "out"
            result = service.checkin(CheckinRequest(CHILDREN[i % len(CHILDREN)], "manual",
                                                    reason="flood test", direction=direction))
            assert result["result"] == "accepted", result
    finally:
        terminal.close()


_FILL_START_US = 1_780_000_000_000_000


def fill_store(home: Path, count: int, acked: int = 0, terminal: str = "T-FILLED") -> None:
    """A store of ``count`` sealed events of ``terminal`` (the first ``acked`` acknowledged)."""
    home.mkdir(parents=True, exist_ok=True)
    sealer = Sealer(crypto.box_public_key(os.urandom(32)))
    store = TerminalStore(home)
    try:
        makers = []
        for i in range(count):
            body = sealer.seal(events.Body(f"child-{i % 600:05d}-x7q", receipt=f"{i:05X}"),
                               terminal)
            kind = events.EventKind.ARRIVAL if i % 2 == 0 else events.EventKind.DEPARTURE

            def make(seq: int, prev: bytes, body: bytes = body, kind: events.EventKind = kind,
                     time_us: int = _FILL_START_US + i * 20_000_000) -> bytes:
                return events.encode_event(events.Event(
                    terminal, seq, prev, time_us, bytes(16), seq * 1000, kind,
                    events.Method.QR_CARD, events.Assurance.MEDIUM, body))
            makers.append(make)
        for start in range(0, count, MAX_BATCH_EVENTS):
            chunk = makers[start:start + MAX_BATCH_EVENTS]
            last = store.write(lambda conn, chunk=chunk: [TerminalStore.append(conn, m)
                                                          for m in chunk][-1])
            if last.seq <= acked:
                store.acknowledge(last.seq, last.hash, b"ack", b"sig", _FILL_START_US,
                                  _FILL_START_US)
    finally:
        store.close()


def damage_pages(path: Path, fraction: float, seed: int = 7) -> int:
    """Overwrite ``fraction`` of the file's pages (never the first two) with garbage, in a few
    runs of consecutive pages, as a card losing erase blocks does; returns how many."""
    rng = random.Random(seed)
    pages = path.stat().st_size // 4096
    wanted = max(1, int(pages * fraction))
    hit = 0
    with open(path, "r+b") as handle:
        while hit < wanted:
            run = min(rng.randint(1, 16), wanted - hit)
            first = rng.randrange(2, pages - run)
            handle.seek(first * 4096)
            handle.write(rng.randbytes(run * 4096))
            hit += run
    return hit


if __name__ == "__main__":
    _run_batches()


def qr_svg_png(svg: str, out: Path, module_px: int = 10) -> Path:
    """Draw the QR of a page's inline SVG (segno's one-path form: ``M``/``m`` moves and ``h``
    runs of dark modules, optionally ``scale(n)``) as a PNG, as a screen would show it to a
    camera."""
    import numpy as np
    from PIL import Image

    width = int(re.search(r'width="(\d+)"', svg).group(1))  # type: ignore[union-attr]
    scaled = re.search(r"scale\((\d+)\)", svg)
    modules = width // (int(scaled.group(1)) if scaled else 1)
    path = re.search(r' d="([^"]+)"', svg)
    assert path is not None, svg[:200]
    grid = np.full((modules, modules), 255, dtype=np.uint8)
    tokens = re.findall(r"[Mmh]|-?\d+(?:\.\d+)?", path.group(1))
    x = y = 0.0
    i = 0
    while i < len(tokens):
        op = tokens[i]
        if op in ("M", "m"):
            dx, dy = float(tokens[i + 1]), float(tokens[i + 2])
            x, y = (dx, dy) if op == "M" else (x + dx, y + dy)
            i += 3
        elif op == "h":
            run_length = float(tokens[i + 1])
            grid[int(y), int(x):int(x + run_length)] = 0
            x += run_length
            i += 2
        else:
            raise AssertionError(f"unexpected path command {op!r}")
    picture = np.kron(grid, np.ones((module_px, module_px), dtype=np.uint8))
    Image.fromarray(picture).save(out)
    return out
