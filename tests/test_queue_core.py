"""The queue-core exchange against the stand-in as a real process: rosters pulled with the
CSV's rules, statements delivered through the outbox exactly once in effect although the
core goes down, answers get lost on the way and a request arrives twice."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import pytest
import requests
from sqlalchemy import func, select

from server.datadir import open_data_dir
from server.storage import db
from tests.faulty_proxy import FaultyProxy
from tests.helpers import (
    QATYS,
    Command,
    ServerProcess,
    cli,
    free_port,
    module_worker,
    roster_csv,
)

pytestmark = pytest.mark.usefixtures("commands_in_one_process")


@dataclass
class StandIn:
    data: Path
    port: int
    trust_key: str
    process: subprocess.Popen[bytes] | None = None
    log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.log = open(self.data / "standin.log", "ab")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tools.queue_core_standin", "--data", str(self.data),
             "--trust-key", self.trust_key, "--port", str(self.port)],
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if requests.get(self.url + "/stand-in/health", timeout=1).ok:
                    return
            except requests.RequestException:
                time.sleep(0.1)
        raise AssertionError((self.data / "standin.log").read_text())

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None
        if self.log is not None:
            self.log.close()
            self.log = None

    def statements(self) -> list[dict[str, object]]:
        answer: list[dict[str, object]] = requests.get(self.url + "/stand-in/statements",
                                                       timeout=5).json()
        return answer


@pytest.fixture(scope="module")
def core_address(server: ServerProcess) -> Iterator[tuple[int, str, FaultyProxy]]:
    """Where the core is (a port, reached through a proxy that can lose answers; the server
    is set up to use it) and the server key it trusts; each test starts its own core there."""
    key = cli("server", "public-key", "--data", str(server.data_dir)).stdout.strip()
    port = free_port()
    proxy = FaultyProxy(f"http://127.0.0.1:{port}", seed=5)
    cli("server", "init", "--data", str(server.data_dir), "--queue-core-url", proxy.url)
    yield port, key, proxy
    proxy.close()


@pytest.fixture
def core(core_address: tuple[int, str, FaultyProxy], tmp_path: Path
         ) -> Iterator[tuple[StandIn, FaultyProxy]]:
    """A fresh stand-in trusting this server's key (no statements yet), behind the proxy."""
    port, key, proxy = core_address
    (tmp_path / "core").mkdir()
    standin = StandIn(tmp_path / "core", port, key)
    standin.start()
    proxy.scripted.clear()
    yield standin, proxy
    standin.stop()


_KINDERGARTENS = itertools.count(1)


def _kindergarten(server: ServerProcess, tmp_path: Path, roster: bool = True) -> str:
    """A kindergarten of the test's own (its children ``{code}-00000-x7q`` …, lower case)."""
    code = f"QS{next(_KINDERGARTENS)}"
    data = str(server.data_dir)
    commands = [Command(["kindergarten", "add", "--data", data, "--code", code, "--name",
                         f"Балабақша {code}"])]
    if roster:
        text, _ = roster_csv(6, prefix=code.lower())
        (tmp_path / "roster.csv").write_text(text, encoding="utf-8")
        commands.append(Command(["roster", "import", "--data", data, "--kindergarten", code,
                                 str(tmp_path / "roster.csv")]))
    module_worker().batch(*commands)
    return code


def _lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _children(server: ServerProcess, kindergarten: str) -> int:
    engine = open_data_dir(server.data_dir).engine
    with engine.connect() as conn:
        count = int(conn.execute(select(func.count()).select_from(db.children)
                                 .where(db.children.c.kindergarten == kindergarten)).scalar_one())
    engine.dispose()
    return count


def test_roster_pull_imports_with_the_csv_rules(server: ServerProcess,
                                                core: tuple[StandIn, FaultyProxy]) -> None:
    standin, _ = core
    data = str(server.data_dir)
    cli("kindergarten", "add", "--data", data, "--code", "QC1", "--name", "Балабақша QC")
    text, _ = roster_csv(6, prefix="qc")
    (standin.data / "rosters" / "QC1.csv").write_text(text, encoding="utf-8")
    pulled = cli("queue-core", "pull-roster", "--data", data, "--kindergarten", "QC1")
    assert _lines(pulled.stdout) == [{"kindergarten": "QC1", "result": "imported", "rows": 6,
                                      "added": 6, "updated": 0}]
    again = cli("queue-core", "pull-roster", "--data", data, "--kindergarten", "QC1")
    assert _lines(again.stdout)[0]["result"] == "unchanged"
    assert _children(server, "QC1") == 6

    lines = text.splitlines()
    broken = lines[3].split(",")
    broken[1] = broken[1][:-1] + str((int(broken[1][-1]) + 1) % 10)  # checksum broken
    (standin.data / "rosters" / "QC1.csv").write_text(
        "\n".join([*lines[:3], ",".join(broken), *lines[4:]]) + "\n", encoding="utf-8")
    refused = cli("queue-core", "pull-roster", "--data", data, "--kindergarten", "QC1",
                  check=False)
    assert refused.returncode == 4
    answer = _lines(refused.stdout)[0]
    assert answer["result"] == "refused"
    assert any("children[2]" in p and "iin" in p for p in answer["problems"])  # type: ignore[union-attr]
    assert _children(server, "QC1") == 6

    cli("kindergarten", "add", "--data", data, "--code", "QC-NONE", "--name", "Unknown there")
    unknown = cli("queue-core", "pull-roster", "--data", data, "--kindergarten", "QC-NONE",
                  check=False)
    assert unknown.returncode == 4
    assert "unknown_kindergarten" in str(_lines(unknown.stdout)[0]["error"])

    requests.post(standin.url + "/stand-in/faults", json={"unavailable": 1}, timeout=5)
    down = cli("queue-core", "pull-roster", "--data", data, "--kindergarten", "QC1",
               check=False)
    assert down.returncode == 3
    assert "503" in str(_lines(down.stdout)[0]["error"])


def _outbox(data: str, kindergarten: str) -> list[dict[str, object]]:
    return [r for r in _lines(cli("queue-core", "outbox", "--data", data).stdout)
            if r["kindergarten"] == kindergarten]


def test_statement_reaches_the_core_once_through_outages_and_lost_answers(
        server: ServerProcess, core: tuple[StandIn, FaultyProxy], tmp_path: Path) -> None:
    standin, proxy = core
    data = str(server.data_dir)
    kg = _kindergarten(server, tmp_path)
    not_over = cli("funding", "approve", "--data", data, "--kindergarten", kg, "--month",
                   time.strftime("%Y-%m"), "--by", "finance-1", check=False)
    assert not_over.returncode == 2
    assert "not over" in not_over.stderr

    approved = json.loads(cli("funding", "approve", "--data", data, "--kindergarten", kg,
                              "--month", "2026-03", "--by", "finance-1").stdout)
    assert approved["revision"] == 1
    assert [r["status"] for r in _outbox(data, kg)] == ["pending"]

    standin.stop()  # the core is down
    down = cli("queue-core", "deliver", "--data", data, check=False)
    assert down.returncode == 3
    row = _outbox(data, kg)[0]
    assert row["status"] == "pending"
    assert row["attempts"] == 1
    assert "unreachable" in str(row["last_error"])

    standin.start()  # up again; its answer to the first send is lost on the way back
    proxy.scripted = ["drop_response"]
    lost = cli("queue-core", "deliver", "--data", data, "--now", check=False)
    assert lost.returncode == 3
    assert len(standin.statements()) == 1  # the core has it; Qatys does not know yet
    assert _outbox(data, kg)[0]["status"] == "pending"

    sent = cli("queue-core", "deliver", "--data", data, "--now")
    assert _lines(sent.stdout) == [{"delivered": 1, "retrying": 0, "refused": 0}]
    row = _outbox(data, kg)[0]
    assert row["status"] == "delivered"
    assert row["attempts"] == 3
    assert row["core_reference"] == "QC-000001"
    assert [s["idempotency_key"] for s in standin.statements()] == [approved["idempotency_key"]]

    same = cli("funding", "approve", "--data", data, "--kindergarten", kg, "--month",
               "2026-03", "--by", "finance-1", check=False)
    assert same.returncode == 2
    assert "nothing changed" in same.stderr

    cli("absence", "add", "--data", data, "--child", f"{kg.lower()}-00001-x7q", "--from",
        "2026-03-02", "--to", "2026-03-06", "--reason", "illness", "--document", "cert-7")
    no_note = cli("funding", "approve", "--data", data, "--kindergarten", kg, "--month",
                  "2026-03", "--by", "finance-1", check=False)
    assert no_note.returncode == 2
    assert "note" in no_note.stderr
    correction = json.loads(cli("funding", "approve", "--data", data, "--kindergarten", kg,
                                "--month", "2026-03", "--by", "finance-1", "--note",
                                "late medical certificate").stdout)
    assert correction["revision"] == 2
    proxy.scripted = ["duplicate"]  # the request reaches the core twice; it answers twice
    cli("queue-core", "deliver", "--data", data)
    stored = standin.statements()
    assert [(s["revision"], s["idempotency_key"]) for s in stored] == [
        (1, approved["idempotency_key"]), (2, correction["idempotency_key"])]
    trail = _lines(cli("funding", "approvals", "--data", data, "--kindergarten", kg,
                       "--month", "2026-03").stdout)
    assert [(t["revision"], t["note"]) for t in trail] == [
        (1, ""), (2, "late medical certificate")]
    assert cli("queue-core", "deliver", "--data", data).returncode == 0
    assert len(standin.statements()) == 2


def test_a_core_that_refuses_the_signature_keeps_the_row_for_a_person(
        server: ServerProcess, core: tuple[StandIn, FaultyProxy], tmp_path: Path) -> None:
    standin, _ = core
    data = str(server.data_dir)
    kg = _kindergarten(server, tmp_path, roster=False)
    trusted = standin.trust_key
    standin.stop()
    standin.trust_key = "A" * 43 + "="  # the core was configured with another key
    standin.start()
    try:
        cli("funding", "approve", "--data", data, "--kindergarten", kg, "--month",
            "2026-03", "--by", "finance-1")
        refused = cli("queue-core", "deliver", "--data", data, check=False)
        assert refused.returncode == 4
        row = _outbox(data, kg)[0]
        assert row["status"] == "refused"
        assert "unknown_key" in str(row["last_error"])
        assert cli("queue-core", "deliver", "--data", data, "--now",
                   check=False).returncode == 4  # refused rows wait for a person
    finally:
        standin.stop()
        standin.trust_key = trusted
        standin.start()
    cli("queue-core", "resend", "--data", data, str(row["id"]))
    cli("queue-core", "deliver", "--data", data)
    assert [s["kindergarten"] for s in standin.statements()][-1] == kg
    # only a refused row is queued again: this one is delivered now
    assert cli("queue-core", "resend", "--data", data, str(row["id"]),
               check=False).returncode == 2


def test_a_pass_stops_at_the_first_outage_and_the_rest_follow(
        server: ServerProcess, core: tuple[StandIn, FaultyProxy], tmp_path: Path) -> None:
    standin, _ = core
    data = str(server.data_dir)
    kg = _kindergarten(server, tmp_path)
    before = len(standin.statements())
    for month in ("2026-01", "2026-02"):
        cli("funding", "approve", "--data", data, "--kindergarten", kg, "--month", month,
            "--by", "finance-1")
    requests.post(standin.url + "/stand-in/faults", json={"unavailable": 1}, timeout=5)
    assert cli("queue-core", "deliver", "--data", data, check=False).returncode == 3
    waiting = [r for r in _outbox(data, kg) if r["month"] in ("2026-01", "2026-02")]
    assert [(r["status"], r["attempts"]) for r in waiting] == [("pending", 1), ("pending", 0)]
    assert cli("queue-core", "deliver", "--data", data, "--now").returncode == 0
    assert len(standin.statements()) == before + 2


def test_two_queue_core_runs_pull_every_roster_once_per_period(
        server: ServerProcess, core: tuple[StandIn, FaultyProxy], tmp_path: Path) -> None:
    """Two copies of `qatys queue-core run` (two nodes' units) share the schedules slot: one
    pass over the rosters per `queue_core_roster_minutes`, not one per copy."""
    standin, _ = core
    data = str(server.data_dir)
    engine = open_data_dir(server.data_dir).engine
    with engine.begin() as conn:
        conn.execute(db.schedules.delete())
        codes = list(conn.execute(select(db.kindergartens.c.code)).scalars())
    runs = [subprocess.Popen([*QATYS, "queue-core", "run", "--data", data, "--every", "0.2"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for _ in range(2)]
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and _roster_gets(standin, codes[-1]) == 0:
            time.sleep(0.2)
        time.sleep(2)  # both copies go on passing every 0.2 s: neither may pull again
    finally:
        for run_ in runs:
            run_.terminate()
            run_.wait(timeout=10)
    with engine.connect() as conn:
        slot = conn.execute(select(db.schedules)).one()
    engine.dispose()
    assert {code: _roster_gets(standin, code) for code in codes} == dict.fromkeys(codes, 1)
    assert slot.name == "queue_core.roster_pull"
    assert str(slot.claimed_by).endswith(tuple(f":{r.pid}" for r in runs))


def _roster_gets(standin: StandIn, code: str) -> int:
    """Roster requests the stand-in answered for ``code`` (its access log)."""
    log = (standin.data / "standin.log").read_text(errors="replace")
    return log.count(f"GET /v1/kindergartens/{code}/roster ")
