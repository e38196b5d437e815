"""N stateless server nodes on one PostgreSQL behind a real HAProxy (issue 19): the second node
joins with the keys sealed in the database (server/node_keys.py); a terminal's batches go to
both nodes and one is killed -9 in the middle of a sync without an event lost or stored twice;
a finance sign-in outlives the node it was made on; rate limits count across the nodes."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
import tomli_w
from sqlalchemy import func, select

from server.datadir import open_data_dir
from server.queue_core import outbox
from server.storage import db
from tests.helpers import (
    QATYS,
    Balancer,
    Command,
    ServerProcess,
    add_user,
    enrol,
    exported,
    free_port,
    login_form,
    make_checkins,
    post_login,
    qatys_batch,
    roster_csv,
    run,
    staff_session,
    start_haproxy,
    start_node,
)

PASSWORD = "nodes-pass-1"


@dataclass
class Deployment:
    a: ServerProcess
    b: ServerProcess
    balancer: Balancer
    kek_file: Path
    database_url: str


def _settings(data: Path) -> None:
    """What a node behind the balancer sets: the balancer trusted for X-Forwarded-For, and no
    worker beside it (the tests of the queue run workers)."""
    path = data / "server.toml"
    import tomllib

    body = tomllib.loads(path.read_text()) | {"trusted_proxies": ["127.0.0.1"],
                                             "run_worker": False}
    path.write_text(tomli_w.dumps(body))


@pytest.fixture(scope="module")
def deployment(pg_cluster: object, tmp_path_factory: pytest.TempPathFactory
               ) -> Iterator[Deployment]:
    base = tmp_path_factory.mktemp("nodes")
    url = pg_cluster.create_database("nodes_" + base.name.replace("-", "_").lower())  # type: ignore[attr-defined]
    port_a, port_b, port_lb = free_port(), free_port(), free_port()
    public = f"http://127.0.0.1:{port_lb}"
    kek, a_dir, b_dir = base / "kek", base / "a", base / "b"
    roster, _ = roster_csv(20)
    (base / "roster.csv").write_text(roster, encoding="utf-8")
    qatys_batch(
        Command(["server", "init", "--data", str(a_dir), "--database-url", url, "--public-url",
                 public, "--kek-file", str(kek)]),
        Command(["kindergarten", "add", "--data", str(a_dir), "--code", "KG1", "--name",
                 "Балабақша 1"]),
        Command(["roster", "import", "--data", str(a_dir), "--kindergarten", "KG1",
                 str(base / "roster.csv")]),
        Command(["server", "init", "--data", str(b_dir), "--database-url", url, "--public-url",
                 public, "--kek-file", str(kek), "--join"]))
    _settings(a_dir)
    _settings(b_dir)
    a = start_node(a_dir, port=port_a)
    b = start_node(b_dir, port=port_b)
    balancer = start_haproxy(base, [port_a, port_b], port_lb)
    add_user(a, "fin", "finance", PASSWORD)
    deployment = Deployment(a, b, balancer, kek, url)
    yield deployment
    balancer.stop()
    deployment.a.stop()
    deployment.b.stop()


def _init(*args: str | Path, env: dict[str, str] | None = None
          ) -> subprocess.CompletedProcess[str]:
    return run("server", "init", *map(str, args), env=env, check=False)


def test_a_joined_node_has_the_first_nodes_keys_and_the_database_only_sealed_ones(
        deployment: Deployment) -> None:
    a, b = deployment.a.data_dir, deployment.b.data_dir
    for name in ("server-keys.json", "session-secret", "vapid-private.pem"):
        assert (a / "keys" / name).read_bytes() == (b / "keys" / name).read_bytes()
        assert (b / "keys" / name).stat().st_mode & 0o077 == 0
    assert deployment.kek_file.stat().st_mode & 0o777 == 0o600
    engine = open_data_dir(a).engine
    with engine.connect() as conn:
        sealed = {row.name: bytes(row.sealed) for row in conn.execute(select(db.node_keys))}
    engine.dispose()
    assert set(sealed) == {"server-keys", "session-secret", "vapid-private"}
    secret = (a / "keys" / "session-secret").read_bytes()
    seed = base64.b64decode(json.loads((a / "keys" / "server-keys.json").read_text())
                            ["sign_seed"])
    assert all(secret not in body and seed not in body and b"sign_seed" not in body
               for body in sealed.values())  # a stolen database holds no usable key


def test_a_join_with_another_kek_or_to_a_database_without_sealed_keys_is_refused(
        deployment: Deployment, pg_cluster: object, tmp_path: Path) -> None:
    other = tmp_path / "other-kek"
    other.write_text(base64.b64encode(os.urandom(32)).decode())
    other.chmod(0o600)
    refused = _init("--data", tmp_path / "c", "--database-url", deployment.database_url,
                    "--kek-file", other, "--join")
    assert refused.returncode == 2
    assert "does not open the keys sealed in this database" in refused.stderr
    assert not (tmp_path / "c").exists()
    by_env = _init("--data", tmp_path / "c", "--database-url", deployment.database_url,
                   "--join", env={"QATYS_KEK": other.read_text()})
    assert by_env.returncode == 2
    assert not (tmp_path / "c").exists()
    empty = pg_cluster.create_database("nodes_empty_" + tmp_path.name.lower()[-20:])  # type: ignore[attr-defined]
    no_keys = _init("--data", tmp_path / "d", "--database-url", empty, "--kek-file",
                    deployment.kek_file, "--join")
    assert no_keys.returncode == 2
    assert "holds no sealed server keys" in no_keys.stderr
    assert not (tmp_path / "d").exists()
    own_keys = _init("--data", tmp_path / "e", "--database-url", deployment.database_url)
    assert own_keys.returncode == 2
    assert "run `qatys server init --join`" in own_keys.stderr
    assert not (tmp_path / "e").exists()


def _first_refusal(urls: list[str], username: str) -> int:
    """How many failed sign-ins for ``username``, spread round robin over ``urls``, pass
    before one is refused (429)."""
    for attempt in range(30):
        browser = requests.Session()
        base = urls[attempt % len(urls)]
        answer = post_login(browser, base, username, "wrong-password", login_form(browser, base))
        if answer.status_code == 429:
            return attempt
    raise AssertionError(f"{username}: never refused")


def test_failed_sign_ins_spread_over_both_nodes_reach_the_limit_at_the_one_node_count(
        deployment: Deployment) -> None:
    add_user(deployment.a, "limited-one", "finance", PASSWORD)
    add_user(deployment.a, "limited-all", "finance", PASSWORD)
    one = _first_refusal([deployment.a.url], "limited-one")
    spread = _first_refusal([deployment.a.url, deployment.b.url, deployment.balancer.url],
                            "limited-all")
    assert one == spread == 10  # limit_finance_login_account: 10 per 15 minutes


def test_a_sign_in_outlives_the_node_it_was_made_on(deployment: Deployment) -> None:
    browser = staff_session(deployment.a.url, "fin", PASSWORD)
    assert browser.get(deployment.balancer.url + "/finance/", timeout=10,
                       allow_redirects=False).status_code == 200
    port = deployment.a.port
    deployment.a.stop()
    deployment.balancer.wait_status("node1", "DOWN")
    for _ in range(4):
        page = browser.get(deployment.balancer.url + "/finance/", timeout=10,
                           allow_redirects=False)
        assert page.status_code == 200, page.text
    deployment.a = start_node(deployment.a.data_dir, port=port)
    deployment.balancer.wait_status("node1", "UP")


def _batches(deployment: Deployment, terminal_id: str) -> int:
    engine = open_data_dir(deployment.b.data_dir).engine
    with engine.connect() as conn:
        count = conn.execute(select(func.count()).select_from(db.batches)
                             .where(db.batches.c.terminal_id == terminal_id)).scalar_one()
    engine.dispose()
    return int(count)


def test_batches_go_to_both_nodes_and_a_node_killed_mid_sync_loses_nothing(
        deployment: Deployment, tmp_path: Path) -> None:
    env = {"QATYS_RUNTIME_DIR": str(tmp_path / "run")}
    home = tmp_path / "door"
    terminal_id = enrol(deployment.a, home, env, via=deployment.balancer.url)
    config = home / "terminal.toml"
    config.write_text(config.read_text().replace("backoff_base_seconds = 1.0",
                                                 "backoff_base_seconds = 0.2"))
    before = {name: int(row["stot"]) for name, row in deployment.balancer.stats().items()}
    make_checkins(home, 2000)
    run("terminal", "sync", "--home", str(home), "--quiet", env=env)
    after = {name: int(row["stot"]) for name, row in deployment.balancer.stats().items()}
    assert _batches(deployment, terminal_id) == 4
    assert all(after[name] - before[name] >= 2 for name in ("node1", "node2")), (before, after)

    make_checkins(home, 5000, start=2000)
    stored_before = _batches(deployment, terminal_id)
    sync = subprocess.Popen([*QATYS, "terminal", "sync", "--home", str(home), "--quiet"],
                            env={**os.environ, **env}, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while _batches(deployment, terminal_id) < stored_before + 2:
        assert time.monotonic() < deadline
        assert sync.poll() is None
        time.sleep(0.02)
    os.killpg(deployment.a.process.pid, signal.SIGKILL)  # node A, its web workers too
    killed_mid_sync = sync.poll() is None
    sync.communicate(timeout=120)
    deployment.a.process.wait()
    deployment.a.log.close()
    assert killed_mid_sync
    run("terminal", "sync", "--home", str(home), "--quiet", env=env)  # through node B
    stored = [e["event_id"] for e in exported(deployment.b) if e["terminal_id"] == terminal_id]
    assert len(stored) == len(set(stored)) == 7000
    status = json.loads(run("terminal", "status", "--home", str(home), "--json",
                            env=env).stdout)
    assert status["pending"] == 0
    assert status["acked_seq"] == 7000


def test_an_outbox_row_another_node_is_claiming_is_skipped_not_sent_twice(
        deployment: Deployment) -> None:
    """Two senders on two nodes: while one holds its claim's lock, the other's claim passes
    the row by (SKIP LOCKED) instead of claiming it too once the first commits."""
    engine = open_data_dir(deployment.b.data_dir).engine
    now = time.time_ns() // 1000
    with engine.begin() as conn:
        row_id = conn.execute(db.outbox.insert().values(
            kind="statement", kindergarten="KG1", month="2026-03",
            idempotency_key="nodes-claim-test", body=b"{}", signature="", created_at_us=now,
            status="pending", attempts=0, next_attempt_at_us=now, last_error="")
        ).inserted_primary_key[0]
    found: list[list[int]] = []
    other = engine.connect()
    try:
        other.begin()
        other.execute(select(db.outbox.c.id).where(db.outbox.c.id == row_id).with_for_update())
        claimer = threading.Thread(target=lambda: found.append(
            [r.id for r in outbox._claim(engine, now, True, set())]))
        claimer.start()
        claimer.join(10)
        assert not claimer.is_alive(), "the claim waited for the other node's lock"
        assert row_id not in found[0]
    finally:
        other.rollback()
        other.close()
    assert row_id in [r.id for r in outbox._claim(engine, now, True, set())]
    with engine.begin() as conn:
        conn.execute(db.outbox.delete().where(db.outbox.c.id == row_id))
    engine.dispose()


def _standin(directory: Path, key: str) -> tuple[subprocess.Popen[bytes], str, Path]:
    directory.mkdir()
    port, log = free_port(), directory / "standin.log"
    with open(log, "wb") as out:
        process = subprocess.Popen([*QATYS[:1], "-m", "tools.queue_core_standin", "--data",
                                    str(directory), "--trust-key", key, "--port", str(port)],
                                   stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if requests.get(url + "/stand-in/health", timeout=1).ok:
                return process, url, log
        except requests.RequestException:
            time.sleep(0.1)
    process.kill()
    raise AssertionError(log.read_text())


def test_two_workers_on_two_nodes_deliver_each_approved_statement_once(
        deployment: Deployment, tmp_path: Path) -> None:
    a, b = deployment.a.data_dir, deployment.b.data_dir
    key = run("server", "public-key", "--data", str(a)).stdout.strip()
    standin, url, log = _standin(tmp_path / "core", key)
    months = [f"2025-{m:02d}" for m in range(1, 9)]
    workers: list[subprocess.Popen[bytes]] = []
    try:
        for data in (a, b):
            path = data / "server.toml"
            path.write_text(path.read_text() + f'queue_core_url = "{url}"\n')
        qatys_batch(*(Command(["funding", "approve", "--data", str(a), "--kindergarten", "KG1",
                               "--month", month, "--by", "finance-1"]) for month in months))
        workers = [subprocess.Popen([*QATYS, "server", "worker", "--data", str(data),
                                     "--every", "0.2"], stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL) for data in (a, b) * 2]
        deadline = time.monotonic() + 90
        while len(requests.get(url + "/stand-in/statements", timeout=5).json()) < len(months):
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        time.sleep(2)  # time enough for a second delivery, were there one
        got = requests.get(url + "/stand-in/statements", timeout=5).json()
        assert sorted(s["month"] for s in got) == months
        posts = [line for line in log.read_text().splitlines()
                 if "POST /v1/funding-statements" in line]
        assert len(posts) == len(months), posts  # each sent once, by one of the workers
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.wait(timeout=20)
        standin.terminate()
        standin.wait(timeout=10)
        for data in (a, b):
            path = data / "server.toml"
            path.write_text("".join(line for line in path.read_text().splitlines(True)
                                    if not line.startswith("queue_core_url")))
