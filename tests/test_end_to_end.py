"""A real server process on 127.0.0.1, real terminal homes, the real CLI."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
import requests

from protocol import batches, canonical
from terminal import keys as key_file
from tests.conftest import table_counts
from tests.helpers import ServerProcess, cli, enrol, free_port

pytestmark = pytest.mark.usefixtures("commands_in_one_process")


def checkin(home: Path, env: dict[str, str], child: str) -> dict[str, object]:
    """As `tests.helpers.checkin`, in the module's worker process."""
    out = cli("terminal", "checkin", "--home", str(home), "--child", child, "--manual",
              "--reason", "card forgotten", env=env, check=False)
    result: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def exported(server: ServerProcess) -> list[dict[str, object]]:
    """As `tests.helpers.exported`, in the module's worker process."""
    out = cli("events", "export", "--data", str(server.data_dir), "--format", "jsonl")
    return [json.loads(line) for line in out.stdout.splitlines()]


def counts(server: ServerProcess) -> tuple[int, ...]:
    return table_counts(server)


def pending_raws(home: Path) -> list[bytes]:
    conn = sqlite3.connect(home / "terminal.db")
    try:
        return [bytes(r[0]) for r in conn.execute("SELECT raw FROM events ORDER BY seq")]
    finally:
        conn.close()


def post(server: ServerProcess, body: bytes, **headers: str) -> requests.Response:
    return requests.post(server.url + "/api/v1/batches", data=body, timeout=30,
                         headers={"Content-Type": "application/cbor", **headers})


def test_checkin_sync_export(server: ServerProcess, tmp_path: Path,
                             runtime_env: dict[str, str]) -> None:
    home = tmp_path / "t1"
    terminal_id = enrol(server, home, runtime_env)
    first = checkin(home, runtime_env, "child-00001-x7q")
    assert first["result"] == "accepted"
    assert first["direction"] == "in"
    assert first["first_name"] == "Aruzhanka0001"
    again = checkin(home, runtime_env, "child-00001-x7q")
    assert again["event_id"] == first["event_id"]
    assert again["repeat"] is True
    refused = checkin(home, runtime_env, "nobody-here")
    assert refused == {"result": "rejected", "reason": "unknown_child",
                       "message": "this child is not on the kindergarten's roster"}
    sync = cli("terminal", "sync", "--home", str(home), env=runtime_env)
    assert json.loads(sync.stdout)["acked_seq"] == 1
    status = json.loads(cli("terminal", "status", "--home", str(home), "--json",
                            env=runtime_env).stdout)
    assert status["pending"] == 0
    assert status["acked_seq"] == 1
    assert status["last_sync"]
    mine = [e for e in exported(server) if e["terminal_id"] == terminal_id]
    assert [(e["event_id"], e["child_id"], e["direction"], e["method"]) for e in mine] == [
        (f"{terminal_id}:1", "child-00001-x7q", "in", "manual")]


def test_refusals_change_nothing(server: ServerProcess, tmp_path: Path,
                                 runtime_env: dict[str, str]) -> None:
    home_a, home_b = tmp_path / "a", tmp_path / "b"
    enrol(server, home_a, runtime_env)
    id_b = enrol(server, home_b, {"QATYS_RUNTIME_DIR": str(tmp_path / "run-b")})
    for i in range(3):
        checkin(home_a, runtime_env, f"child-0000{i}-x7q")
    raws = pending_raws(home_a)
    keys_a = key_file.load(home_a)
    keys_b = key_file.load(home_b)
    id_a = json.loads(cli("terminal", "status", "--home", str(home_a), "--json",
                          env=runtime_env).stdout)["terminal_id"]
    good = batches.build_batch(id_a, "KG1", raws, keys_a.sign_seed)
    before = counts(server)

    forged = batches.build_batch(id_a, "KG1", raws, keys_b.sign_seed)
    flipped = bytearray(good)
    flipped[len(good) // 2] ^= 0x01
    as_b = canonical.decode(good)
    as_b["terminal"] = id_b
    replay_under_b = canonical.encode(as_b)
    old = canonical.decode(good)
    old["v"] = 0
    wrong_kg = batches.build_batch(id_a, "KG2", raws, keys_a.sign_seed)
    cases = [
        (forged, {}, 403, "bad_signature"),
        (bytes(flipped), {}, None, None),
        (replay_under_b, {}, 403, "bad_signature"),
        (canonical.encode(old), {}, 400, "unsupported_version"),
        (good, {"Qatys-Protocol": "0"}, 400, "unsupported_version"),
        (wrong_kg, {}, 403, "wrong_kindergarten"),
        (b"\x00" * (10 * 1024 * 1024), {}, 413, "payload_too_large"),
        (b"not cbor", {}, 400, "malformed"),
    ]
    for body, headers, status, code in cases:
        response = post(server, body, **headers)
        payload = response.json()
        assert 400 <= response.status_code < 500
        assert payload["ok"] is False
        assert set(payload["error"]) >= {"code", "message"}
        if status is not None:
            assert (response.status_code, payload["error"]["code"]) == (status, code)
    assert counts(server) == before

    assert post(server, good).status_code == 200
    after_first = counts(server)
    again = post(server, good)
    assert again.status_code == 200
    assert again.json()["stored"] == 0
    assert counts(server) == after_first


def test_equivocation_is_refused_and_kept(server: ServerProcess, tmp_path: Path,
                                          runtime_env: dict[str, str]) -> None:
    home = tmp_path / "eq"
    terminal_id = enrol(server, home, runtime_env)
    checkin(home, runtime_env, "child-00005-x7q")
    original = pending_raws(home)
    cli("terminal", "sync", "--home", str(home), env=runtime_env)
    event = canonical.decode(original[0])
    event["time_us"] += 1
    other = batches.build_batch(terminal_id, "KG1", [canonical.encode(event)],
                                key_file.load(home).sign_seed)
    before = counts(server)
    response = post(server, other)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "equivocation"
    after = counts(server)
    assert after[:3] == before[:3]
    assert after[3] == before[3] + 1


def test_revoked_terminal_keeps_its_data(server: ServerProcess, tmp_path: Path,
                                         runtime_env: dict[str, str]) -> None:
    home = tmp_path / "rv"
    terminal_id = enrol(server, home, runtime_env)
    checkin(home, runtime_env, "child-00006-x7q")
    cli("terminal", "revoke", "--data", str(server.data_dir), terminal_id)
    before = counts(server)
    sync = cli("terminal", "sync", "--home", str(home), env=runtime_env, check=False)
    assert sync.returncode == 4
    assert json.loads(sync.stdout)["code"] == "terminal_revoked"
    status = json.loads(cli("terminal", "status", "--home", str(home), "--json",
                            env=runtime_env).stdout)
    assert status["revoked"] is True
    assert status["pending"] == 1
    assert counts(server) == before
    refused = checkin(home, runtime_env, "child-00007-x7q")
    assert refused["reason"] == "terminal_revoked"


def test_a_terminal_revoked_after_its_batches_were_taken_is_refused_by_every_worker(
        server: ServerProcess, tmp_path: Path, runtime_env: dict[str, str]) -> None:
    """Ingest keeps an enrolled terminal's row per process (server/sync/ingest.py): a
    revocation after that must still refuse its next batch, whichever worker takes it."""
    home = tmp_path / "rc"
    terminal_id = enrol(server, home, runtime_env)
    checkin(home, runtime_env, "child-00009-x7q")
    checkin(home, runtime_env, "child-00010-x7q")
    first, second = pending_raws(home)
    seed = key_file.load(home).sign_seed
    taken = batches.build_batch(terminal_id, "KG1", [first], seed)
    for _ in range(12):  # every gunicorn worker has, most likely, now read the terminal
        assert post(server, taken).status_code == 200
    cli("terminal", "revoke", "--data", str(server.data_dir), terminal_id)
    before = counts(server)
    refused = batches.build_batch(terminal_id, "KG1", [first, second], seed)
    for _ in range(12):
        response = post(server, refused)
        assert response.json()["error"]["code"] == "terminal_revoked"
        assert response.status_code == 403
    assert counts(server) == before


def test_unreachable_server_exit_3_keeps_data(server: ServerProcess, tmp_path: Path,
                                              runtime_env: dict[str, str]) -> None:
    home = tmp_path / "off"
    enrol(server, home, runtime_env)
    checkin(home, runtime_env, "child-00008-x7q")
    config = home / "terminal.toml"
    text = config.read_text().replace(server.url, f"http://127.0.0.1:{free_port()}")
    text = text.replace("sync_attempts = 4", "sync_attempts = 2")
    config.write_text(text.replace("backoff_base_seconds = 1.0", "backoff_base_seconds = 0.05"))
    sync = cli("terminal", "sync", "--home", str(home), env=runtime_env, check=False)
    assert sync.returncode == 3
    assert json.loads(sync.stdout)["pending"] == 1


def test_token_is_single_use(server: ServerProcess, tmp_path: Path,
                             runtime_env: dict[str, str]) -> None:
    token = cli("terminal", "token", "--data", str(server.data_dir), "--kindergarten",
                "KG1").stdout.strip().splitlines()[-1]
    cli("terminal", "enroll", "--home", str(tmp_path / "x"), "--server", server.url,
        "--token", token, env=runtime_env)
    second = cli("terminal", "enroll", "--home", str(tmp_path / "y"), "--server", server.url,
                 "--token", token, env=runtime_env, check=False)
    assert second.returncode == 4
    assert "token_used" in second.stderr


@pytest.mark.parametrize("bad", ["unknown-kg"])
def test_token_for_unknown_kindergarten(server: ServerProcess, bad: str) -> None:
    out = cli("terminal", "token", "--data", str(server.data_dir), "--kindergarten", bad,
              check=False)
    assert out.returncode == 2
    assert "does not exist" in out.stderr


def test_stolen_disk_reveals_no_child(server: ServerProcess, tmp_path: Path,
                                      runtime_env: dict[str, str]) -> None:
    home = tmp_path / "stolen"
    enrol(server, home, runtime_env)
    for i in range(10, 16):
        assert checkin(home, runtime_env, f"child-{i:05d}-x7q")["result"] == "accepted"
    cli("terminal", "sync", "--home", str(home), env=runtime_env)
    for i in range(16, 19):
        checkin(home, runtime_env, f"child-{i:05d}-x7q")
    roster = (server.data_dir / "roster.csv").read_text().splitlines()[1:]
    secrets = set()
    for line in roster:
        child_id, iin, last, first = line.split(",")[:4]
        secrets |= {child_id, iin, last, first}
    files = [p for p in home.rglob("*") if p.is_file()]
    assert any(p.name == "terminal.db" for p in files)
    for path in files:
        data = path.read_bytes()
        for secret in secrets:
            assert secret.encode() not in data, f"{secret} readable in {path.name}"
