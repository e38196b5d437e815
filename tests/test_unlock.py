"""Directors' unlock cards: the format (pure) and the offline unlock of a rebooted terminal."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocol import unlock
from protocol.errors import EncodingError, SealError
from tests.helpers import ServerProcess, checkin, enrol, run


@pytest.fixture(scope="module")
def server(sqlite_server: ServerProcess) -> ServerProcess:
    """SQLite only here: unlock cards reach terminals in every roster, which the end-to-end
    tests fetch from PostgreSQL too (keeps `make test` within its time)."""
    return sqlite_server



def test_card_text_round_trip_and_alphanumeric_qr_mode() -> None:
    card = unlock.UnlockCard(unlock.new_serial(bytes(5)), bytes(range(32)))
    text = str(card)
    assert unlock.parse_card(text) == card
    assert unlock.parse_card(text.lower()) == card  # scanners may lower-case
    assert set(text) <= set("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:")


@pytest.mark.parametrize("text", ["", "QUL1-", "https://example.kz/pay", "QTK1-AAAA-BBBB",
                                  "QUL1-AAAAAAAA-" + "A" * 51, "QUL1-AAAAAAA1-" + "A" * 52])
def test_malformed_card_is_refused(text: str) -> None:
    with pytest.raises(EncodingError):
        unlock.parse_card(text)


def test_card_with_nonzero_unused_bits_is_refused() -> None:
    text = str(unlock.UnlockCard("AAAAAAAA", bytes(32)))
    assert text.endswith("A")
    with pytest.raises(EncodingError, match="damaged"):
        unlock.parse_card(text[:-1] + "B")  # same secret bits, another code: refuse


@given(key=st.binary(min_size=32, max_size=32), secret=st.binary(min_size=32, max_size=32))
def test_wrap_opens_only_with_its_card_kindergarten_and_version(key: bytes, secret: bytes) -> None:
    card = unlock.UnlockCard("AAAAAAAA", secret)
    other = unlock.UnlockCard("AAAAAAAA", bytes(b ^ 1 for b in secret))
    wrap = unlock.wrap_key(card, key, "KG1", "v1", bytes(12))
    assert unlock.unwrap_key(card, wrap, "KG1", "v1") == key
    for bad_card, kg, version in [(other, "KG1", "v1"), (card, "KG2", "v1"), (card, "KG1", "v2")]:
        with pytest.raises(SealError):
            unlock.unwrap_key(bad_card, wrap, kg, version)


def _issue(server: ServerProcess, kg: str, qr: Path | None = None) -> str:
    args = ["unlock-card", "issue", "--data", str(server.data_dir), "--kindergarten", kg]
    if qr is not None:
        args += ["--qr", str(qr)]
    return run(*args).stdout.strip().splitlines()[-1]


def _unlock(home: Path, env: dict[str, str], card: str) -> tuple[int, dict[str, object]]:
    out = run("terminal", "unlock", "--home", str(home), "--card", card, env=env, check=False)
    result: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return out.returncode, result


def _roster_state(home: Path, env: dict[str, str]) -> str:
    status = json.loads(run("terminal", "status", "--home", str(home), "--json",
                            env=env).stdout)
    return str(status["roster"])


def test_director_card_unlocks_a_rebooted_terminal_offline(
        server: ServerProcess, tmp_path: Path, runtime_env: dict[str, str]) -> None:
    kept = _issue(server, "KG1", tmp_path / "card.png")
    lost = _issue(server, "KG1")
    foreign = _issue(server, "KG2")
    assert (tmp_path / "card.png").read_bytes().startswith(b"\x89PNG")
    home = tmp_path / "door"
    enrol(server, home, runtime_env)
    run("unlock-card", "revoke", "--data", str(server.data_dir), lost.split("-")[1])
    run("terminal", "sync", "--home", str(home), env=runtime_env)  # learns of the revocation
    listed = run("unlock-card", "list", "--data", str(server.data_dir), "--kindergarten",
                 "KG1").stdout
    assert "revoked" in listed
    assert kept.split("-")[2] not in listed

    shutil.rmtree(runtime_env["QATYS_RUNTIME_DIR"])  # a reboot wipes /run
    assert _roster_state(home, runtime_env) == "locked"
    locked = checkin(home, runtime_env, "child-00003-x7q")
    assert locked["result"] == "accepted"
    assert "first_name" not in locked

    middle = len(kept) - 10
    altered = kept[:middle] + ("A" if kept[middle] != "A" else "B") + kept[middle + 1:]
    for card, reason in [("https://pay.example/qr", "not_unlock_card"),
                         (foreign, "card_unknown"), (lost, "card_revoked"),
                         (altered, "card_invalid")]:
        code, result = _unlock(home, runtime_env, card)
        assert (code, result["result"], result["reason"]) == (2, "rejected", reason), card
        assert _roster_state(home, runtime_env) == "locked"

    code, result = _unlock(home, runtime_env, kept)
    assert (code, result) == (0, {"result": "unlocked", "children": 20})
    assert _roster_state(home, runtime_env) == "unlocked"
    greeted = checkin(home, runtime_env, "child-00004-x7q")
    assert greeted["first_name"] == "Aruzhanka0004"

    log = (home / "logs" / "terminal.log").read_text()
    assert log.count('"unlock.refused"') == 4
    assert '"unlock.accepted"' in log
    assert kept.split("-")[2] not in log
    for path in (p for p in home.rglob("*") if p.is_file()):
        assert kept.split("-")[2].encode() not in path.read_bytes()


def test_unlock_without_a_roster_says_so(server: ServerProcess, tmp_path: Path,
                                         runtime_env: dict[str, str]) -> None:
    card = _issue(server, "KG1")
    home = tmp_path / "fresh"
    enrol(server, home, runtime_env)
    with sqlite3.connect(home / "terminal.db") as conn:
        conn.execute("DELETE FROM roster_unlock")
    code, result = _unlock(home, runtime_env, card)
    assert (code, result["reason"]) == (2, "no_roster")


def test_revoking_an_unknown_card_is_bad_input(server: ServerProcess) -> None:
    out = run("unlock-card", "revoke", "--data", str(server.data_dir), "ZZZZZZZZ", check=False)
    assert out.returncode == 2
    assert "no unlock card" in out.stderr
