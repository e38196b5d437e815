"""Terminal faults of the field, with real processes: a terminal home on a 3 MB tmpfs filled
to 100 % (storage_low, then storage_full refusals, no traceback, the kiosk page in Chromium
shows the reason, what was confirmed before is synced afterwards, the ledger events reach
the server and the fleet page alerts), an ext4 card the kernel makes read-only mid-run
(storage_readonly, nothing lost, a restart after the card is back recovers), and a clock
that booted in 1970 without network (a phone code refused with clock_not_set)."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import requests
from sqlalchemy import select

from protocol import phone
from server.datadir import open_data_dir
from server.storage import db
from terminal.capture import simulated
from terminal.capture.sources import write_clip
from terminal.clock import Reading
from terminal.home import open_terminal
from terminal.kiosk.pin import PinGuard, PinVerdict, hash_pin
from terminal.kiosk.texts import say
from terminal.scan import ScanService
from terminal.storage_guard import RESERVE_FILE
from tests.browser import Page, artefact, chromium
from tests.helpers import (
    QATYS,
    Command,
    LastLine,
    ServerProcess,
    add_user,
    free_port,
    guardian_client,
    qatys_batch,
    run,
    staff_session,
    wait_for_kiosk,
)

PIN = "2468"
SMALL_LIMITS = ("storage_floor_mb=0.25", "storage_low_mb=1.0", "storage_reserve_mb=0.5")


@pytest.fixture(scope="module")
def server(sqlite_server: ServerProcess) -> ServerProcess:
    """One server for the module (SQLite: the terminal's side is what is tried here)."""
    add_user(sqlite_server, "fin", "finance", "finance-pass-1")
    return sqlite_server


def _mount(*args: str) -> None:
    done = subprocess.run(["mount", *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        if os.geteuid() != 0 or "permission denied" in done.stderr.lower() \
                or "only root" in done.stderr.lower():
            pytest.skip(f"mounting a test file system is not permitted here: {done.stderr}")
        raise AssertionError(f"mount {' '.join(args)}: {done.stderr}")


def _umount(path: Path) -> None:
    for _ in range(50):
        if subprocess.run(["umount", str(path)], capture_output=True,
                          check=False).returncode == 0 or not os.path.ismount(path):
            return
        time.sleep(0.1)
    subprocess.run(["umount", "-l", str(path)], check=False)


@pytest.fixture
def small_tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 3 MB tmpfs, unmounted afterwards whatever happened."""
    mount = tmp_path / "card"
    mount.mkdir()
    _mount("-t", "tmpfs", "-o", "size=3m,mode=0700", "tmpfs", str(mount))
    try:
        yield mount
    finally:
        _umount(mount)


@pytest.fixture
def ext4_card(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A 24 MB ext4 image on a loop device, mounted with ``errors=remount-ro`` (as a Pi's
    root is): the mount point and the device name (``loop3``)."""
    image, mount = tmp_path / "card.img", tmp_path / "card"
    mount.mkdir()
    subprocess.run(["truncate", "-s", "24M", str(image)], check=True)
    subprocess.run(["mkfs.ext4", "-q", "-F", str(image)], check=True, capture_output=True)
    found = subprocess.run(["losetup", "-f", "--show", str(image)], capture_output=True,
                           text=True, check=False)
    if found.returncode != 0:
        pytest.skip(f"no loop device here: {found.stderr}")
    device = found.stdout.strip()
    try:
        _mount("-o", "errors=remount-ro", device, str(mount))
        try:
            yield mount, device
        finally:
            _umount(mount)
    finally:
        subprocess.run(["losetup", "-d", device], check=False)


def _fill(mount: Path, leave: int = 0) -> Path:
    """Write a filler file until only ``leave`` bytes are free (0: every last block)."""
    filler = mount / f"filler-{time.monotonic_ns()}"
    chunk = b"\xa5" * 65536
    with open(filler, "wb") as out:
        with contextlib.suppress(OSError):
            while True:
                stat = os.statvfs(mount)
                free = stat.f_bavail * stat.f_frsize - leave
                if free <= 0:
                    break
                out.write(chunk[:min(len(chunk), free)])
                out.flush()
        with contextlib.suppress(OSError):
            out.flush()
    return filler


def _checkin(home: Path, env: dict[str, str], child: str) -> tuple[int, dict[str, object], str]:
    done = run("terminal", "checkin", "--home", str(home), "--child", child, "--manual",
               "--reason", "card forgotten", env=env, check=False)
    return done.returncode, json.loads(done.stdout.strip().splitlines()[-1]), \
        done.stdout + done.stderr


def _start_kiosk(home: Path, clip: Path, env: dict[str, str],
                 log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    with open(log, "ab") as out:
        process = subprocess.Popen([*QATYS, "terminal", "run", "--home", str(home), "--clip",
                                    str(clip), "--port", str(port)],
                                   env={**os.environ, **env}, stdout=out, stderr=out)
    url = f"http://127.0.0.1:{port}"
    wait_for_kiosk(url, seconds=60)
    return process, url


def _stop_kiosk(process: subprocess.Popen[bytes]) -> int:
    process.terminate()
    try:
        return process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        return -9


def _idle_clip(out: Path) -> Path:
    rng = np.random.default_rng(5)
    return write_clip([simulated.empty_frame(rng) for _ in range(25)], out)


def _manual(url: str, child: str) -> tuple[int, dict[str, object]]:
    answer = requests.post(url + "/manual", timeout=30, json={
        "pin": PIN, "child_id": child, "reason": "card forgotten", "direction": ""})
    return answer.status_code, answer.json()


def _until_status(url: str, storage: str, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while (seen := requests.get(url + "/status", timeout=10).json()["storage"]) != storage:
        assert time.monotonic() < deadline, f"the kiosk still says {seen}, not {storage}"
        time.sleep(0.2)


def _server_events(server: ServerProcess, terminal_id: str) -> list[tuple[int, str, str]]:
    """(seq, child or '-', system note) of every event the server holds of the terminal."""
    engine = open_data_dir(server.data_dir).engine
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(db.events.c.seq, db.events.c.child_id, db.events.c.note)
                                .where(db.events.c.terminal_id == terminal_id)
                                .order_by(db.events.c.seq)).all()
    finally:
        engine.dispose()
    return [(int(r.seq), r.child_id or "-", (r.note or "") if r.child_id is None else "")
            for r in rows]


def _enrolled(server: ServerProcess, home: Path, env: dict[str, str]) -> str:
    """Enrolled with the small card's limits and the staff PIN (one process for all)."""
    done = qatys_batch(
        Command(["terminal", "token", "--data", str(server.data_dir), "--kindergarten", "KG1"]),
        Command(["terminal", "enroll", "--home", str(home), "--server", server.url,
                 "--token", LastLine(0)], env),
        Command(["terminal", "config", "--home", str(home),
                 *[a for s in SMALL_LIMITS for a in ("--set", s)]], env),
        Command(["terminal", "set-pin", "--home", str(home), "--pin", PIN], env))
    return done[1].stdout.strip().splitlines()[-1]


def test_a_full_card_refuses_says_why_and_syncs_what_it_confirmed(
        server: ServerProcess, small_tmpfs: Path, tmp_path: Path,
        runtime_env: dict[str, str]) -> None:
    home = small_tmpfs / "home"
    terminal_id = _enrolled(server, home, runtime_env)
    code, before, _ = _checkin(home, runtime_env, "child-00001-x7q")
    assert (code, before["result"]) == (0, "accepted")  # confirmed before the card filled
    assert (home / RESERVE_FILE).stat().st_size == 512 * 1024  # made while there was room

    fillers = [_fill(small_tmpfs, leave=700 * 1024)]  # under storage_low_mb: a warning only
    code, low, _ = _checkin(home, runtime_env, "child-00002-x7q")
    assert (code, low["result"]) == (0, "accepted")

    kiosk, url = _start_kiosk(home, _idle_clip(tmp_path / "idle.avi"), runtime_env,
                              tmp_path / "kiosk.log")
    try:
        fillers.append(_fill(small_tmpfs))  # 100 %: not one block left
        code, full, said = _checkin(home, runtime_env, "child-00003-x7q")
        assert (code, full["result"], full["reason"]) == (2, "rejected", "storage_full")
        assert "Traceback" not in said
        # the kiosk reads the card's space at most a second late (terminal/storage_guard.py):
        # once it shows the card full, a check-in by hand is refused too
        _until_status(url, "storage_full")
        status, answer = _manual(url, "child-00004-x7q")
        assert (status, answer.get("reason")) == (400, "storage_full"), answer

        chromium()
        page = Page(tmp_path / "profile")
        try:
            page.goto(url + "/?lang=kk")
            page.wait_for("document.getElementById('storage').getAttribute('data-storage')"
                          " === 'storage_full'")
            assert page.evaluate("document.getElementById('storage').textContent") \
                == say("storage_full")["kk"]
            page.screenshot(artefact("kiosk-storage-full-kk.png"))
        finally:
            page.close()

        synced = run("terminal", "sync", "--home", str(home), "--quiet", env=runtime_env,
                     check=False)
        assert synced.returncode == 0, synced.stdout + synced.stderr
        assert json.loads(synced.stdout.splitlines()[-1])["pending"] == 0
        assert "Traceback" not in synced.stdout + synced.stderr
        assert kiosk.poll() is None  # the kiosk never exits on this fault

        held = _server_events(server, terminal_id)
        children = [child for _, child, _ in held if child != "-"]
        assert children == ["child-00001-x7q", "child-00002-x7q"]  # each exactly once
        notes = [note.split(" ")[0] for _, child, note in held if child == "-"]
        assert "storage_low" in notes
        assert "storage_full" in notes
        assert notes.index("storage_low") < notes.index("storage_full")
        fleet = staff_session(server.url, "fin", "finance-pass-1").get(
            server.url + "/finance/fleet", timeout=30).text
        assert f'data-terminal="{terminal_id}" data-storage="storage_full"' in fleet

        for filler in fillers:  # staff free the card
            filler.unlink()
        code, again, _ = _checkin(home, runtime_env, "child-00005-x7q")
        assert (code, again["result"]) == (0, "accepted")
        assert (home / RESERVE_FILE).exists()  # the reserve is back
        run("terminal", "sync", "--home", str(home), "--quiet", env=runtime_env)
        held = _server_events(server, terminal_id)
        assert [c for _, c, _ in held if c != "-"] == [
            "child-00001-x7q", "child-00002-x7q", "child-00005-x7q"]
        assert [n.split(" ")[0] for _, c, n in held if c == "-"][-1] == "storage_ok"
        fleet = staff_session(server.url, "fin", "finance-pass-1").get(
            server.url + "/finance/fleet", timeout=30).text
        assert f'data-terminal="{terminal_id}" data-storage=' not in fleet
    finally:
        assert _stop_kiosk(kiosk) == 0
    assert "Traceback" not in (tmp_path / "kiosk.log").read_text()


def test_a_kiosk_started_on_a_card_full_to_the_last_block_waits_instead_of_exiting(
        server: ServerProcess, small_tmpfs: Path, tmp_path: Path,
        runtime_env: dict[str, str]) -> None:
    """No reserve to give back (``storage_reserve_mb=0``): the store cannot even be opened,
    so the kiosk shows the fault screen (no crash loop under systemd) and takes the door
    over by itself once space is freed."""
    home = small_tmpfs / "home"
    _enrolled(server, home, runtime_env)
    run("terminal", "config", "--home", str(home), "--set", "storage_reserve_mb=0",
        env=runtime_env)
    filler = _fill(small_tmpfs)
    code, refused, said = _checkin(home, runtime_env, "child-00013-x7q")
    assert (code, refused["reason"]) == (2, "storage_full")
    assert "Traceback" not in said
    kiosk, url = _start_kiosk(home, _idle_clip(tmp_path / "idle.avi"), runtime_env,
                              tmp_path / "kiosk.log")
    try:
        status = requests.get(url + "/status", timeout=10).json()
        assert (status["mode"], status["storage"]) == ("fault", "storage_full")
        assert say("storage_full")["ru"] in requests.get(url + "/", timeout=10).text
        filler.unlink()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with contextlib.suppress(requests.RequestException):
                if requests.get(url + "/status", timeout=2).json().get("mode") == "door":
                    break
            time.sleep(0.5)
        status = requests.get(url + "/status", timeout=10).json()
        assert (status["mode"], status["storage"]) == ("door", "")
        assert kiosk.poll() is None
    finally:
        assert _stop_kiosk(kiosk) == 0
    assert "Traceback" not in (tmp_path / "kiosk.log").read_text()


def test_a_card_made_read_only_refuses_keeps_the_door_and_recovers_after_a_restart(
        server: ServerProcess, ext4_card: tuple[Path, str], tmp_path: Path,
        runtime_env: dict[str, str]) -> None:
    mount, device = ext4_card
    trigger = Path("/sys/fs/ext4") / Path(device).name / "trigger_fs_error"
    if not trigger.exists():
        pytest.skip(f"{trigger} is missing: this kernel cannot fail an ext4 file system")
    home = mount / "home"
    terminal_id = _enrolled(server, home, runtime_env)
    code, before, _ = _checkin(home, runtime_env, "child-00006-x7q")
    assert (code, before["result"]) == (0, "accepted")
    clip = _idle_clip(tmp_path / "idle.avi")
    kiosk, url = _start_kiosk(home, clip, runtime_env, tmp_path / "kiosk.log")
    try:
        status, answer = _manual(url, "child-00007-x7q")
        assert (status, answer["result"]) == (200, "accepted")
        # What the kernel does to a failing card: ext4 reports an error and, mounted
        # errors=remount-ro, turns itself read-only under the running kiosk. (`mount -o
        # remount,ro` is refused while the kiosk has its files open for writing.)
        trigger.write_text("qatys test: the card failed\n")
        status, answer = _manual(url, "child-00008-x7q")
        assert (status, answer["reason"]) == (400, "storage_readonly")
        assert requests.get(url + "/status", timeout=10).json()["storage"] == "storage_readonly"
        code, refused, said = _checkin(home, runtime_env, "child-00009-x7q")
        assert (code, refused["reason"]) == (2, "storage_readonly")
        assert "Traceback" not in said
        check = run("terminal", "selfcheck", "--home", str(home), env=runtime_env, check=False)
        assert check.returncode == 1
        assert json.loads(check.stdout.splitlines()[-1])["storage"] == "storage_readonly"
        assert kiosk.poll() is None  # the door screen stays, saying why
    finally:
        assert _stop_kiosk(kiosk) == 0
    assert "Traceback" not in (tmp_path / "kiosk.log").read_text()

    _umount(mount)  # the card replaced (here: the same one, checked and mounted again)
    subprocess.run(["e2fsck", "-fy", device], capture_output=True, check=False)
    _mount("-o", "errors=remount-ro", device, str(mount))
    kiosk, url = _start_kiosk(home, clip, runtime_env, tmp_path / "kiosk-2.log")
    try:
        assert requests.get(url + "/status", timeout=10).json()["storage"] == ""
        status, answer = _manual(url, "child-00010-x7q")
        assert (status, answer["result"]) == (200, "accepted")
    finally:
        assert _stop_kiosk(kiosk) == 0
    run("terminal", "sync", "--home", str(home), "--quiet", env=runtime_env)
    children = [c for _, c, _ in _server_events(server, terminal_id) if c != "-"]
    assert children == ["child-00006-x7q", "child-00007-x7q", "child-00010-x7q"]


def test_a_clock_at_1970_refuses_phone_codes_with_a_reason_and_still_takes_cards(
        server: ServerProcess, tmp_path: Path, runtime_env: dict[str, str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in runtime_env.items():
        monkeypatch.setenv(key, value)
    guardian = guardian_client(server, "child-00011-x7q")
    home = tmp_path / "door"
    done = qatys_batch(
        Command(["terminal", "token", "--data", str(server.data_dir), "--kindergarten", "KG1"]),
        Command(["terminal", "enroll", "--home", str(home), "--server", server.url,
                 "--token", LastLine(0)], runtime_env),
        Command(["terminal", "sync", "--home", str(home), "--quiet"], runtime_env),
        Command(["card", "issue", "--data", str(server.data_dir), "--child", "child-00012-x7q",
                 "--out", str(tmp_path / "card.png")]),
        Command(["terminal", "decode", str(tmp_path / "card.png")]))
    card = json.loads(done[-1].stdout)["payloads"][0]
    now = time.time()
    engine = open_data_dir(server.data_dir).engine
    with engine.connect() as conn:
        row = conn.execute(select(db.guardian_children.c.serial, db.guardian_children.c.binding)
                           .where(db.guardian_children.c.child_id == "child-00011-x7q")).one()
    engine.dispose()
    mine, window = guardian.phone, phone.window_at(now)
    signed = mine.sign(phone.code_message(mine.key_id, "child-00011-x7q", window))
    code = (f"QP1:{mine.key_id}:child-00011-x7q:{window}:{row.serial}:"
            f"{phone.b64url(bytes(row.binding))}:{phone.b64url(signed)}")

    boot = os.urandom(16)  # a boot that has not synced: no server time to carry forward

    def in_1970() -> Reading:
        return Reading(86_400_000_000 + int(time.monotonic() * 1e6) % 1_000_000, boot,
                       time.monotonic_ns())

    terminal = open_terminal(home, log=False)
    try:
        door = ScanService(terminal, read_clock=in_1970)
        refused = door.scan(code)
        assert (refused["result"], refused["reason"]) == ("rejected", "clock_not_set")
        assert say("clock_not_set") != say("no such reason")  # its own words on the screen
        taken = door.scan(card)  # the card's dates are checked against the last known time
        assert (taken["result"], taken["child_id"]) == ("accepted", "child-00012-x7q")
        assert str(taken["recorded_at"]).startswith("1970-01-02")
        assert ScanService(terminal).scan(code)["result"] == "accepted"  # a set clock takes it
    finally:
        terminal.close()
    # the staff PIN's lockout counts on the monotonic clock: a wall clock at 1970 changes nothing
    guard = PinGuard(hash_pin(PIN))
    verdicts = [guard.check("0000", now=100.0 + i) for i in range(5)]
    assert verdicts == [PinVerdict.WRONG] * 4 + [PinVerdict.LOCKED]
    assert guard.check(PIN, now=105.0) == PinVerdict.LOCKED
    assert guard.check(PIN, now=100.0 + 5 * 60 + 10) == PinVerdict.OK


def test_the_terminal_log_is_capped_and_never_fails_a_command(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Rotated in the process at max_bytes with `backups` old files (each 0600); a line that
    cannot be written is dropped and counted, not printed as a traceback."""
    import logging

    from qatys import logs

    log_file = tmp_path / "logs" / "terminal.log"
    logs.configure(log_file, max_bytes=4096, backups=2)
    logger = logging.getLogger("qatys.terminal.test")
    try:
        for i in range(2000):
            logs.log(logger, "test.line", number=i, padding="x" * 40)
        files = sorted(log_file.parent.iterdir())
        assert [f.name for f in files] == ["terminal.log", "terminal.log.1", "terminal.log.2"]
        assert sum(f.stat().st_size for f in files) <= 3 * 4096
        assert {f.stat().st_mode & 0o777 for f in files} == {0o600}
        handler = next(h for h in logging.getLogger("qatys").handlers
                       if isinstance(h, logs.CappedFileHandler))
        handler.stream.close()  # as if the card refused every write from now on
        dropped = logs.CappedFileHandler.dropped
        capsys.readouterr()
        logs.log(logger, "test.lost")
        assert logs.CappedFileHandler.dropped == dropped + 1
        assert capsys.readouterr().err == ""  # no "--- Logging error ---" traceback
    finally:
        logs.configure()
