"""A man in the middle between a real terminal and a real server (SQLite and PostgreSQL):
the terminal believes only what the server signed for its own request, keeps its last good
state when an answer is forged, altered, replayed or older, and says so (exit 5, "refused");
the server refuses a signed request that is replayed or stale and changes nothing."""

from __future__ import annotations

import base64
import json
import os
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import select

from protocol import auth, batches, crypto, roster, unlock
from server.datadir import open_data_dir
from server.storage import db
from terminal.client import ServerClient
from terminal.errors import ServerRefused
from terminal.keys import load as load_keys
from tests.face_pictures import FACES, FR
from tests.helpers import (
    ServerProcess,
    checkin,
    cli,
    enrol,
    faked_clock,
    server_rows,
    start_node,
)
from tests.tampering_proxy import (
    Answer,
    TamperingProxy,
    answer_with,
    rewrite_json,
    signed_by_impostor,
    unsigned,
    with_query,
)

ATTACKER_SEED = bytes(range(200, 232))
ATTACKER_BOX = crypto.box_public_key(bytes(range(100, 132)))

pytestmark = pytest.mark.usefixtures("commands_in_one_process")


@pytest.fixture
def proxy(server: ServerProcess) -> Iterator[TamperingProxy]:
    middle = TamperingProxy(server.url)
    yield middle
    middle.close()


def sync(home: Path, env: dict[str, str]) -> tuple[int, dict[str, Any]]:
    out = cli("terminal", "sync", "--home", str(home), "--quiet", env=env, check=False)
    return out.returncode, json.loads(out.stdout.strip().splitlines()[-1])


def refusals(home: Path) -> list[tuple[str, str]]:
    """(kind, reason) of every answer the terminal logged as not believed."""
    lines = (home / "logs" / "terminal.log").read_text(encoding="utf-8").splitlines()
    return [(e["kind"], e["reason"]) for e in map(json.loads, lines)
            if e["event"] == "sync.answer_refused"]


def consent_at(home: Path, env: dict[str, str], child: str) -> str:
    out = cli("terminal", "consent", "--home", str(home), env=env)
    states = {s["child_id"]: s["status"] for s in map(json.loads, out.stdout.splitlines())}
    return states.get(child, "none")


def terminal_row(server: ServerProcess, terminal_id: str) -> tuple[Any, ...]:
    """What a health report or any signed request would change on the server."""
    engine = open_data_dir(server.data_dir).engine
    with engine.connect() as conn:
        row = conn.execute(select(db.terminals.c.last_contact_us, db.terminals.c.head_seq)
                           .where(db.terminals.c.terminal_id == terminal_id)).one()
        health = conn.execute(select(db.terminal_health)
                              .where(db.terminal_health.c.terminal_id == terminal_id)).all()
    engine.dispose()
    return (*row, tuple(tuple(h) for h in health))


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


# --- enrolment ---------------------------------------------------------------------------


def test_an_altered_or_impostor_enrolment_answer_exits_2_and_writes_nothing(
        server: ServerProcess, proxy: TamperingProxy, tmp_path: Path,
        runtime_env: dict[str, str]) -> None:
    swapped = rewrite_json(lambda a: {**a, "server_box_pub": b64(ATTACKER_BOX)})
    impostor = signed_by_impostor(ATTACKER_SEED,
                                  lambda a: {**a, "server_box_pub": b64(ATTACKER_BOX)})
    for name, rule, reason in (("swapped", swapped, "bad_signature"),
                               ("unsigned", unsigned(swapped), "unsigned"),
                               ("impostor", impostor, "server_key_mismatch")):
        proxy.on("/api/v1/terminals/enrol", rule)
        token = cli("terminal", "token", "--data", str(server.data_dir), "--kindergarten",
                    "KG1").stdout.strip().splitlines()[-1]
        home = tmp_path / name
        out = cli("terminal", "enroll", "--home", str(home), "--server", proxy.url, "--token",
                  token, env=runtime_env, check=False)
        assert out.returncode == 2, (name, out.stdout, out.stderr)
        assert reason in out.stderr, (name, out.stderr)
        assert not (home / "terminal.toml").exists()
        assert not (home / "keys").exists()
    proxy.honest()
    assert enrol(server, tmp_path / "honest", runtime_env, via=proxy.url).startswith("T-")


# --- the roster ----------------------------------------------------------------------------


def test_a_forged_roster_granting_consent_is_refused_and_consent_stays(
        server: ServerProcess, proxy: TamperingProxy, tmp_path: Path,
        runtime_env: dict[str, str]) -> None:
    home, child = tmp_path / "t", "child-00016-x7q"
    terminal_id = enrol(server, home, runtime_env, via=proxy.url)
    box_pub = base64.b64decode(json.loads(
        proxy.last("/api/v1/terminals/enrol").request.body)["box_pub"])  # seen on the wire
    assert sync(home, runtime_env)[0] == 0
    assert consent_at(home, runtime_env, child) == "none"
    key_file = Path(runtime_env["QATYS_RUNTIME_DIR"]) / "roster.key"
    held_key = key_file.read_bytes()
    forged = roster.seal_roster(roster.RosterDelivery(
        "KG1", "f0f0f0f0f0f0f0f0", bytes(32),
        (roster.RosterEntry(child, "Aruzhanka0016", roster.Consent("granted", 999, "2099-01-01")),),
        unlock.UnlockSet((), ())), terminal_id, box_pub, os.urandom(32), os.urandom(12))
    forge = rewrite_json(lambda a: {"ok": True, "unchanged": False, "version": "f0f0f0f0f0f0f0f0",
                                    "server_time_us": a["server_time_us"] + 10**9,
                                    "sealed": b64(forged)})
    for rule, reason in ((forge, "bad_signature"), (unsigned(forge), "unsigned")):
        proxy.on("/api/v1/terminal/roster", rule)
        code, line = sync(home, runtime_env)
        assert (code, line["refused"], line["roster"]) == (5, ["roster"], "refused"), line
        assert refusals(home)[-1] == ("roster", reason)
        assert consent_at(home, runtime_env, child) == "none"
        assert key_file.read_bytes() == held_key
    if FACES.is_dir():
        out = cli("face", "enroll", "--home", str(home), "--child", child,
                  str(FR / "tests__test_images__biden.jpg"), env=runtime_env, check=False)
        assert (out.returncode, json.loads(out.stdout)["reason"]) == (2, "no_consent")


def test_an_altered_request_query_is_refused_by_the_server(
        server: ServerProcess, proxy: TamperingProxy, tmp_path: Path,
        runtime_env: dict[str, str]) -> None:
    home = tmp_path / "q"
    terminal_id = enrol(server, home, runtime_env, via=proxy.url)
    assert sync(home, runtime_env)[0] == 0
    before = terminal_row(server, terminal_id)
    proxy.on("/api/v1/terminal/roster", with_query("known=0000000000000000"))
    code, line = sync(home, runtime_env)
    # The server refuses the altered request; its refusal names the query it received, so
    # the terminal does not take it for an answer to its own request either.
    answer = proxy.last("/api/v1/terminal/roster").answer
    assert (answer.status, answer.json()["error"]["code"]) == (403, "bad_signature")
    assert (code, line["refused"], line["roster"]) == (5, ["roster"], "refused"), line
    assert refusals(home)[-1] == ("roster", "bad_signature")
    assert terminal_row(server, terminal_id)[0] >= before[0]


# --- door credentials ---------------------------------------------------------------------


def test_recorded_door_credentials_replayed_after_a_revocation_do_not_unrevoke(
        server: ServerProcess, proxy: TamperingProxy, tmp_path: Path,
        runtime_env: dict[str, str]) -> None:
    home, child = tmp_path / "d", "child-00017-x7q"
    enrol(server, home, runtime_env, via=proxy.url)
    card = tmp_path / "card.png"
    serial = cli("card", "issue", "--data", str(server.data_dir), "--child", child, "--out",
                 str(card)).stdout.strip().splitlines()[-1]
    assert sync(home, runtime_env)[0] == 0
    before_revocation = proxy.last("/api/v1/terminal/door").answer
    cli("card", "revoke", "--data", str(server.data_dir), serial)
    assert sync(home, runtime_env)[0] == 0
    proxy.on("/api/v1/terminal/door", answer_with(before_revocation))
    code, line = sync(home, runtime_env)
    assert (code, line["refused"]) == (5, ["door"]), line
    assert refusals(home)[-1] == ("door", "bad_signature")
    scanned = cli("terminal", "scan", "--home", str(home), str(card), env=runtime_env,
                  check=False)
    assert (scanned.returncode, json.loads(scanned.stdout)["reason"]) == (2, "revoked_card")


def test_a_genuine_answer_older_than_the_held_state_is_refused(
        server: ServerProcess, proxy: TamperingProxy, tmp_path: Path,
        runtime_env: dict[str, str]) -> None:
    """A node whose clock went back an hour signs door credentials older than those held."""
    home = tmp_path / "o"
    enrol(server, home, runtime_env, via=proxy.url)
    assert sync(home, runtime_env)[0] == 0
    behind = start_node(server.data_dir, env=faked_clock("-1h"))
    try:
        proxy.upstream = behind.url
        code, line = sync(home, runtime_env)
    finally:
        proxy.upstream = server.url
        behind.stop()
    assert (code, line["refused"]) == (5, ["door"]), line
    assert refusals(home)[-1] == ("door", "older")
    assert sync(home, runtime_env)[0] == 0


# --- a forged refusal ------------------------------------------------------------------------


def test_a_forged_revocation_does_not_stop_the_door(
        server: ServerProcess, proxy: TamperingProxy, tmp_path: Path,
        runtime_env: dict[str, str]) -> None:
    home = tmp_path / "r"
    enrol(server, home, runtime_env, via=proxy.url)
    assert checkin(home, runtime_env, "child-00002-x7q")["result"] == "accepted"
    revoked = json.dumps({"ok": False, "error": {"code": "terminal_revoked",
                                                 "message": "revoked"}}).encode()
    proxy.on("/api/v1/batches", answer_with(Answer(403, {"Content-Type": "application/json"},
                                                   revoked)))
    code, line = sync(home, runtime_env)
    assert (code, line["refused"], line["pending"]) == (5, ["ack"], 1), line
    status = json.loads(cli("terminal", "status", "--home", str(home), "--json",
                            env=runtime_env).stdout)
    assert status["revoked"] is False
    assert checkin(home, runtime_env, "child-00003-x7q")["result"] == "accepted"
    proxy.honest()
    code, line = sync(home, runtime_env)
    assert (code, line["pending"], line["refused"]) == (0, 0, []), line


# --- face relay --------------------------------------------------------------------------------


@pytest.mark.skipif(not FACES.is_dir(), reason="shared face images not present")
def test_forged_wrap_for_and_invented_or_dropped_erasures_are_refused(
        server: ServerProcess, proxy: TamperingProxy, tmp_path: Path,
        runtime_env: dict[str, str]) -> None:
    home, child = tmp_path / "f", "child-00019-x7q"
    enrol(server, home, runtime_env, via=proxy.url)
    cli("consent", "grant", "--data", str(server.data_dir), "--child", child, "--paper", "f-19")
    assert sync(home, runtime_env)[0] == 0
    out = cli("face", "enroll", "--home", str(home), "--child", child,
              str(FR / "tests__test_images__biden.jpg"), env=runtime_env)
    template_id = json.loads(out.stdout)["template_id"]
    assert sync(home, runtime_env)[0] == 0
    key_id = json.loads(proxy.last("/api/v1/terminal/faces/sync").request.body)["keys"][0]

    evil = {"key_id": key_id, "terminal_id": "T-EVIL0001", "box_pub": b64(ATTACKER_BOX)}
    proxy.on("/api/v1/terminal/faces/sync",
             rewrite_json(lambda a: {**a, "wrap_for": [*a["wrap_for"], evil]}))
    code, line = sync(home, runtime_env)
    assert (code, line["refused"], line["faces"]) == (5, ["faces"], "refused"), line
    assert not any(b"T-EVIL0001" in e.request.body for e in proxy.exchanges)
    assert all(w.terminal_id != "T-EVIL0001" for w in server_rows(server, db.face_key_wraps))

    proxy.on("/api/v1/terminal/faces/sync", rewrite_json(lambda a: {**a, "erase": [
        {"template_id": template_id, "reason": "withdrawn"}]}))
    assert sync(home, runtime_env)[0] == 5
    assert _templates(home) == [template_id]

    cli("consent", "withdraw", "--data", str(server.data_dir), "--child", child)
    proxy.on("/api/v1/terminal/faces/sync", rewrite_json(lambda a: {**a, "erase": []}))
    proxy.on("/api/v1/terminal/roster", unsigned())  # the old roster, with consent, stays
    code, line = sync(home, runtime_env)
    assert (code, line["refused"]) == (5, ["roster", "faces"]), line
    assert _templates(home) == [template_id]
    assert ("faces", "bad_signature") in refusals(home)
    proxy.honest()
    assert sync(home, runtime_env)[0] == 0
    assert _templates(home) == []


def _templates(home: Path) -> list[str]:
    with sqlite3.connect(home / "terminal.db") as conn:
        return [str(r[0]) for r in conn.execute("SELECT template_id FROM face_templates")]


# --- signed requests: replayed, stale, of an old protocol ------------------------------------


def test_a_replayed_or_stale_health_report_is_refused_and_changes_nothing(
        server: ServerProcess, proxy: TamperingProxy, tmp_path: Path,
        runtime_env: dict[str, str]) -> None:
    home = tmp_path / "h"
    terminal_id = enrol(server, home, runtime_env, via=proxy.url)
    assert sync(home, runtime_env)[0] == 0
    recorded = proxy.last("/api/v1/terminal/health").request
    before = terminal_row(server, terminal_id)

    def replay(url: str) -> requests.Response:
        return requests.post(url + recorded.path, data=recorded.body, timeout=10,
                             headers=recorded.headers)

    assert _code(replay(server.url)) == (401, "replayed_request")
    later = start_node(server.data_dir, env=faked_clock("+6m"))
    try:
        assert _code(replay(later.url)) == (401, "stale_request")
    finally:
        later.stop()
    keys = load_keys(home)
    stale = ServerClient(server.url, server_key=keys.server_sign_public,
                         clock_s=lambda: int(time.time()) - 360)
    with pytest.raises(ServerRefused) as refused:
        stale.signed_post("/api/v1/terminal/health", terminal_id, keys.sign_seed,
                          json.loads(recorded.body))
    assert refused.value.code == "stale_request"
    assert terminal_row(server, terminal_id) == before


def test_old_protocol_requests_are_refused_but_its_batches_still_land(
        server: ServerProcess, tmp_path: Path, runtime_env: dict[str, str]) -> None:
    home = tmp_path / "v1"
    enrol(server, home, runtime_env)
    keys = load_keys(home)
    terminal_id = json.loads(cli("terminal", "status", "--home", str(home), "--json",
                                 env=runtime_env).stdout)["terminal_id"]
    now_s = int(time.time())
    message = "\n".join(["qatys/v1/request", "GET", "/api/v1/terminal/door", terminal_id,
                         str(now_s), crypto.sha256(b"").hex()]).encode()
    old = requests.get(server.url + "/api/v1/terminal/door", timeout=10, headers={
        auth.HEADER_PROTOCOL: "1", auth.HEADER_TERMINAL: terminal_id,
        auth.HEADER_TIME: str(now_s), auth.HEADER_SIGNATURE: b64(crypto.sign(
            keys.sign_seed, message))})
    assert _code(old) == (400, "unsupported_version")
    assert checkin(home, runtime_env, "child-00004-x7q")["result"] == "accepted"
    with sqlite3.connect(home / "terminal.db") as conn:
        raws = [bytes(r[0]) for r in conn.execute("SELECT raw FROM events ORDER BY seq")]
    body = batches.build_batch(terminal_id, "KG1", raws, keys.sign_seed)
    landed = requests.post(server.url + "/api/v1/batches", data=body, timeout=10, headers={
        "Content-Type": "application/cbor", auth.HEADER_PROTOCOL: "1"})
    assert landed.status_code == 200, landed.text
    assert landed.json()["acked_seq"] == len(raws)


def _code(response: requests.Response) -> tuple[int, str]:
    return response.status_code, str(response.json()["error"]["code"])
