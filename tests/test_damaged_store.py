"""A damaged terminal store (issue 23), with real processes and real SQLite files: pages
overwritten by garbage, a file cut short, the store's head itself unreadable. The terminal moves
the file aside, keeps every event it can verify, syncs the recovered ones exactly once, declares
the rest lost (``store_damaged``) so the server shows the range on the fleet page and beside the
statement, and the chain goes on. kill -9 during the recovery, then again: the same store.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import requests

from qatys.timeutil import local_date, now_us
from server.storage import db
from terminal import recovery
from terminal.capture import simulated
from terminal.capture.sources import write_clip
from terminal.store import DB_FILE
from tests.helpers import (
    QATYS,
    ServerProcess,
    cli,
    damage_pages,
    fill_store,
    free_port,
    make_checkins,
    roster_csv,
    run,
    server_rows,
    staff_session,
    start_server,
    wait_for_kiosk,
)

PASSWORD = "finance-pass-1"
PIN = "2468"
MONTH = local_date(now_us()).strftime("%Y-%m")
pytestmark = pytest.mark.usefixtures("commands_in_one_process")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    base = tmp_path_factory.mktemp("damaged")
    server = start_server(base / "server")
    text, _ = roster_csv(20)
    (server.data_dir / "roster.csv").write_text(text, encoding="utf-8")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def site(server: ServerProcess, commands_in_one_process: None) -> ServerProcess:
    data = str(server.data_dir)
    cli("kindergarten", "add", "--data", data, "--code", "KG1", "--name", "Балабақша 1")
    cli("roster", "import", "--data", data, "--kindergarten", "KG1",
        str(server.data_dir / "roster.csv"))
    cli("user", "add", "--data", data, "--username", "fin", "--role", "finance",
        "--password-stdin", input_text=PASSWORD + "\n")
    return server


def _enrol(site: ServerProcess, home: Path) -> dict[str, str]:
    env = {"QATYS_RUNTIME_DIR": str(home.parent / f"run-{home.name}")}
    token = cli("terminal", "token", "--data", str(site.data_dir), "--kindergarten",
                "KG1").stdout.strip().splitlines()[-1]
    cli("terminal", "enroll", "--home", str(home), "--server", site.url, "--token", token,
        env=env)
    return env


def _sync(home: Path, env: dict[str, str]) -> dict[str, object]:
    out = cli("terminal", "sync", "--home", str(home), "--quiet", env=env, check=False)
    found: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    found["exit"] = out.returncode
    return found


def _held(home: Path) -> dict[int, bytes]:
    with sqlite3.connect(f"file:{home / DB_FILE}?mode=ro", uri=True) as conn:
        return {int(s): bytes(r) for s, r in conn.execute("SELECT seq, raw FROM events")}


def _terminal_id(home: Path) -> str:
    return str(json.loads(cli("terminal", "status", "--home", str(home),
                              "--json").stdout.strip().splitlines()[-1])["terminal_id"])


def _on_server(site: ServerProcess, terminal_id: str) -> dict[int, bytes]:
    return {int(r.seq): bytes(r.raw) for r in server_rows(site, db.events)
            if r.terminal_id == terminal_id}


def _lost(site: ServerProcess, terminal_id: str) -> list[tuple[int, int, str]]:
    return sorted((r.first_seq, r.last_seq, r.reason) for r in server_rows(site, db.lost_ranges)
                  if r.terminal_id == terminal_id)


def _overwrite(path: Path, first_page: int, pages: int) -> None:
    with open(path, "r+b") as handle:
        handle.seek(first_page * 4096)
        handle.write(os.urandom(pages * 4096))


def _accounted(site: ServerProcess, terminal_id: str, original: dict[int, bytes],
               made: int) -> tuple[dict[int, bytes], list[tuple[int, int, str]]]:
    """Every event made is on the server with its own bytes, or in a declared range: never
    both, never neither."""
    stored, lost = _on_server(site, terminal_id), _lost(site, terminal_id)
    declared = {s for first, last, _ in lost for s in range(first, last + 1)}
    assert not declared & set(stored)
    assert set(range(1, made + 1)) <= declared | set(stored)
    assert all(stored[s] == original[s] for s in stored if s in original)
    return stored, lost


def test_garbage_pages_recovered_synced_once_and_the_lost_range_shown(
        site: ServerProcess, tmp_path: Path) -> None:
    home = tmp_path / "door"
    env = _enrol(site, home)
    terminal_id = _terminal_id(home)
    make_checkins(home, 150)
    assert _sync(home, env)["acked_seq"] == 150
    make_checkins(home, 150, start=150)  # 151..300 pending
    original = _held(home)
    pages = (home / DB_FILE).stat().st_size // 4096
    _overwrite(home / DB_FILE, int(pages * 0.7), 3)  # among the pending ones, not the last
    check = json.loads(cli("terminal", "status", "--home", str(home), "--json",
                           env=env).stdout.strip().splitlines()[-1])
    record = check["store_damaged"]
    assert record is not None, check
    assert record["lost"] > 0
    assert record["undeclared"] > 0
    assert check["head_seq"] == 300
    kept = _held(home)
    assert all(kept[s] == original[s] for s in kept)
    assert max(kept) == 300
    assert len(kept) < 300
    aside = list((home / "damaged").iterdir())
    assert len(aside) == 1
    assert (aside[0] / DB_FILE).exists()
    assert not (home / recovery.JOURNAL).exists()
    done = _sync(home, env)
    assert done["result"] == "ok", done
    assert done["sent"] == len([s for s in kept if s > 150])  # each recovered one, once
    stored, lost = _accounted(site, terminal_id, original, 300)
    assert lost
    assert all(reason == "store_damaged" for _, _, reason in lost)
    assert sum(last - first + 1 for first, last, _ in lost) == 300 - len(stored)
    assert _sync(home, env)["sent"] == 0  # declared once, sent once
    assert len(_lost(site, terminal_id)) == len(lost)
    make_checkins(home, 2, start=300)  # the chain goes on after the recovery
    assert _sync(home, env)["acked_seq"] == 302
    status = json.loads(cli("terminal", "status", "--home", str(home), "--json",
                            env=env).stdout.strip().splitlines()[-1])
    assert status["store_damaged"]["undeclared"] == 0
    session = staff_session(site.url, "fin", PASSWORD)
    count = sum(last - first + 1 for first, last, _ in lost)
    fleet = session.get(site.url + "/finance/fleet", timeout=30).text
    assert f'data-terminal="{terminal_id}"' in fleet
    assert 'class="lost-range"' in fleet
    page = session.get(f"{site.url}/finance/k/KG1/{MONTH}", timeout=30).text
    assert 'id="lost-ranges"' in page
    assert f'data-terminal="{terminal_id}"' in page
    for first, last, _ in lost:  # each range, with its count, on both pages
        assert f'data-count="{last - first + 1}"' in fleet
        assert f'data-count="{last - first + 1}"' in page
    assert count > 0


def test_a_truncated_store_declares_its_tail_and_goes_on(site: ServerProcess,
                                                         tmp_path: Path) -> None:
    home = tmp_path / "door"
    env = _enrol(site, home)
    terminal_id = _terminal_id(home)
    make_checkins(home, 200)
    assert _sync(home, env)["acked_seq"] == 200
    make_checkins(home, 100, start=200)
    original = _held(home)
    size = (home / DB_FILE).stat().st_size
    os.truncate(home / DB_FILE, (size * 3 // 4) // 4096 * 4096 + 1000)  # and a torn page
    make_checkins(home, 2, start=300)  # opens it: recovered first, then two more
    kept = _held(home)
    assert max(kept) == 302
    assert 300 not in kept
    done = _sync(home, env)
    assert done["result"] == "ok", done
    stored, lost = _accounted(site, terminal_id, original, 302)
    assert lost[-1][1] == 300
    assert lost[-1][2] == "store_damaged"
    assert {301, 302} <= set(stored)


def test_unreadable_head_the_server_holding_more_is_believed(site: ServerProcess,
                                                            tmp_path: Path) -> None:
    """The page of ``meta`` (head, acknowledged head) is garbage: the terminal sends again from
    the start, the server's signed head says it holds those, nothing is stored twice, and the
    unknown tail is declared with a margin the server takes as the new head."""
    home = tmp_path / "door"
    env = _enrol(site, home)
    terminal_id = _terminal_id(home)
    make_checkins(home, 60)
    assert _sync(home, env)["acked_seq"] == 60
    make_checkins(home, 20, start=60)
    original = _held(home)
    with sqlite3.connect(home / DB_FILE) as conn:
        root = int(conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'meta'")
                   .fetchone()[0])
    _overwrite(home / DB_FILE, root - 1, 1)
    done = _sync(home, env)
    assert done["result"] == "ok", done
    stored, lost = _accounted(site, terminal_id, original, 80)
    assert set(range(1, 81)) <= set(stored)  # nothing was lost but the head: all there once
    assert lost == [(81, 80 + recovery.TAIL_MARGIN, "store_damaged")]
    make_checkins(home, 1, start=80)
    assert _sync(home, env)["acked_seq"] == 81 + recovery.TAIL_MARGIN


def test_kill_minus_nine_during_recovery_then_again_the_same_store(tmp_path: Path) -> None:
    control, killed = tmp_path / "control", tmp_path / "killed"
    fill_store(control, 20_000, acked=5_000, terminal="T-KILLED")
    damage_pages(control / DB_FILE, 0.01)
    shutil.copytree(control, killed)
    expected = recovery.recover_if_needed(control, "T-KILLED", now_us=1)
    assert expected is not None
    assert expected.lost
    env = {"QATYS_RUNTIME_DIR": str(tmp_path / "run")}
    (killed / "damaged").mkdir()
    journal = killed / recovery.JOURNAL
    _kill_when_opened(killed, journal, env)
    _kill_when_opened(killed, killed / (DB_FILE + ".recovering"), env)
    assert journal.exists()  # not finished: the next start goes on from it
    again = recovery.recover_if_needed(killed, "T-KILLED", now_us=1)
    assert again is not None
    assert (again.kept, [(r.first_seq, r.last_seq) for r in again.lost], again.head_seq) == (
        expected.kept, [(r.first_seq, r.last_seq) for r in expected.lost], expected.head_seq)
    assert _held(killed) == _held(control)
    assert recovery.recover_if_needed(killed, "T-KILLED") is None  # sound now: nothing more
    assert len(list((killed / "damaged").glob("*/" + DB_FILE))) == 1


def _kill_when_opened(home: Path, appears: Path, env: dict[str, str]) -> None:
    """A process doing only the recovery (the store of this test has no enrolled terminal),
    killed -9 once ``appears`` exists."""
    code = ("import sys; from pathlib import Path; from terminal import recovery; "
            "recovery.recover_if_needed(Path(sys.argv[1]), 'T-KILLED', now_us=1)")
    process = subprocess.Popen([sys.executable, "-c", code, str(home)],
                               env={**os.environ, **env}, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not appears.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.001)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL, "the recovery ended before the kill"


def test_the_running_kiosk_recovers_in_place_says_so_and_goes_on(
        site: ServerProcess, tmp_path: Path) -> None:
    """The store goes bad under the running kiosk: `selfcheck` (another process) finds it,
    changes nothing under the kiosk and says so; the kiosk recovers in its own process at the
    next scan, shows ``store_damaged`` and keeps taking check-ins; nothing is silent."""
    home = tmp_path / "door"
    env = _enrol(site, home)
    terminal_id = _terminal_id(home)
    cli("terminal", "set-pin", "--home", str(home), "--pin", PIN, env=env)
    make_checkins(home, 40)
    assert _sync(home, env)["acked_seq"] == 40
    make_checkins(home, 10, start=40)
    clip = write_clip([simulated.empty_frame(np.random.default_rng(5)) for _ in range(25)],
                      tmp_path / "idle.avi")
    port = free_port()
    log = tmp_path / "kiosk.log"
    with open(log, "ab") as out:
        kiosk = subprocess.Popen([*QATYS, "terminal", "run", "--home", str(home), "--clip",
                                  str(clip), "--port", str(port)], env={**os.environ, **env},
                                 stdout=out, stderr=out)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_kiosk(url, seconds=60)
        assert _manual(url, "child-00001-x7q")["result"] == "accepted"  # seq 51
        with sqlite3.connect(home / DB_FILE) as conn:
            meta = int(conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'meta'")
                       .fetchone()[0])
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        pages = (home / DB_FILE).stat().st_size // 4096
        _overwrite(home / DB_FILE, meta, pages - meta)  # every event page after meta's
        check = run("terminal", "selfcheck", "--home", str(home), env=env, check=False)
        said = json.loads(check.stdout.strip().splitlines()[-1])
        if said["store_damaged"] is None:  # the kiosk has not met it yet: selfcheck finds it
            assert check.returncode == 1
            assert said["storage"] == "store_damaged", said
            assert (home / recovery.NEEDED).exists()  # left for the kiosk, nothing moved
        else:  # the kiosk met it first (its status, its sync) and recovered already
            assert said["store_damaged"]["problem"] == "corruption reported while running"
        after = _manual(url, "child-00002-x7q")  # recovered first, then recorded
        assert after["result"] == "accepted", after
        status = requests.get(url + "/status", timeout=10).json()
        assert status["storage"] == "store_damaged"
        assert status["storage_text"]["kk"]
        assert kiosk.poll() is None
    finally:
        kiosk.terminate()
        assert kiosk.wait(timeout=30) == 0
    assert "Traceback" not in log.read_text()
    assert len(list((home / "damaged").glob("*/" + DB_FILE))) == 1  # recovered once
    done = _sync(home, env)
    assert done["result"] == "ok", done
    seq = int(str(after["event_id"]).rsplit(":", 1)[1])
    stored, lost = _on_server(site, terminal_id), _lost(site, terminal_id)
    declared = {s for first, last, _ in lost for s in range(first, last + 1)}
    assert not declared & set(stored)
    assert set(range(1, seq + 1)) == declared | set(stored)  # each one there, or declared
    assert seq in stored
    assert set(range(1, 41)) <= set(stored)


def _manual(url: str, child: str) -> dict[str, object]:
    answer = requests.post(url + "/manual", timeout=60, json={
        "pin": PIN, "child_id": child, "reason": "card forgotten", "direction": ""})
    found: dict[str, object] = answer.json()
    return found


def test_a_store_whose_header_is_garbage_is_read_back_whole(tmp_path: Path) -> None:
    """SQLITE_NOTADB ("file is not a database"): the 100-byte header overwritten. Every event
    is still in its pages: all kept, nothing declared lost, the new store sound."""
    home = tmp_path / "door"
    fill_store(home, 2_000, acked=500, terminal="T-HEADER")
    original = _held(home)
    with open(home / DB_FILE, "r+b") as handle:
        handle.write(os.urandom(100))
    assert recovery.check(home) != "ok"
    found = recovery.recover_if_needed(home, "T-HEADER")
    assert found is not None
    assert (found.kept, found.lost, found.head_seq) == (2_000, (), 2_000)
    assert _held(home) == original
    assert recovery.check(home) == "ok"
    assert recovery.recover_if_needed(home, "T-HEADER") is None
