"""Face check-in end to end: real server processes (SQLite and PostgreSQL), two terminals of
one kindergarten, the real dlib models on the shared public pictures (adults only).

Enrolment needs consent in force; a template reaches the sibling terminal through a server
that cannot read it; withdrawal (on the server, or at a terminal) and expiry erase it from
every terminal's files and show in the consent ledger; no picture is ever written."""

from __future__ import annotations

import base64
import itertools
import json
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from protocol import consent, crypto, faces
from protocol.errors import ProtocolError
from server.datadir import open_data_dir
from server.families.face_templates import face_state
from server.storage import db
from terminal.client import ServerClient
from terminal.errors import ServerRefused
from terminal.faces.engine import load_rgb, read_face
from terminal.keys import load as load_keys
from tests.browser import Page, chromium
from tests.face_pictures import FACES, FR, held_up, save
from tests.helpers import (
    QATYS,
    Command,
    LastLine,
    QatysWorker,
    ServerProcess,
    claim_in_browser,
    faked_clock,
    invite_url,
    need_faketime,
    roster_csv,
    server_rows,
)

pytestmark = pytest.mark.skipif(not FACES.is_dir(), reason="shared face images not present")

OBAMA, BIDEN, NO_CONSENT, ROSE, ALEX, LEAVING = 11, 12, 13, 14, 15, 18
"""Children by their place in each kindergarten's roster (`Kindergarten.child`)."""
CONSENTED = (OBAMA, ROSE, ALEX)
"""Whose paper consent every kindergarten starts with."""
Door = tuple[Path, dict[str, str]]
"""A terminal's home and its environment (its RAM directory)."""


@dataclass
class Kindergarten:
    """A kindergarten of one test's own on the module's server: its roster (children
    ``{prefix}-00000-x7q`` …), terminals A and B, and F of another kindergarten if asked."""
    server: ServerProcess
    code: str
    prefix: str
    doors: dict[str, Door]
    terminal_ids: dict[str, str]
    worker: QatysWorker
    """Runs this kindergarten's setup commands (the module's, see `Kindergartens`)."""

    def child(self, place: int) -> str:
        return f"{self.prefix}-{place:05d}-x7q"

    def mine(self, rows: list[Any]) -> list[Any]:
        """The rows (of a table with a child_id) about this kindergarten's children."""
        return [r for r in rows if r.child_id.startswith(self.prefix + "-")]


def face_command(door: Door, *args: str | Path) -> Command:
    return Command(["face", str(args[0]), "--home", str(door[0]), *map(str, args[1:])], door[1])


def sync_command(door: Door) -> Command:
    return Command(["terminal", "sync", "--home", str(door[0]), "--quiet"], door[1])


def synced_fine(done: subprocess.CompletedProcess[str]) -> None:
    answer = json.loads(done.stdout.splitlines()[-1])
    assert answer["faces"] == "ok", answer


class Kindergartens:
    """Makes each test a kindergarten of its own on the module's server, which the tests
    share only to read; the setup's commands run in the module's `QatysWorker` (no process
    start each)."""

    def __init__(self, server: ServerProcess, base: Path, worker: QatysWorker) -> None:
        self.server, self.base, self.worker = server, base, worker
        self.numbers = itertools.count(1)

    def new(self, *, foreign: bool = False, obama: str = "") -> Kindergarten:
        """Terminals A and B (F too, of another kindergarten, if ``foreign``), paper consent
        for OBAMA, ROSE and ALEX, A and B synced; ``obama`` "at A": OBAMA enrolled at A,
        "everywhere": then A and B synced again (the template and its key at B too)."""
        number = next(self.numbers)
        code, prefix = f"FACES{number}", f"f{number}"
        home = self.base / code
        home.mkdir()
        text, _ = roster_csv(20, prefix)
        (home / "roster.csv").write_text(text, encoding="utf-8")
        data = str(self.server.data_dir)
        commands = [Command(["kindergarten", "add", "--data", data, "--code", code, "--name",
                             f"Балабақша {number}"]),
                    Command(["roster", "import", "--data", data, "--kindergarten", code,
                             str(home / "roster.csv")])]
        names = {"A": code, "B": code}
        if foreign:
            names["F"] = code + "-F"
            commands.append(Command(["kindergarten", "add", "--data", data, "--code",
                                     names["F"], "--name", f"Балабақша {number} F"]))
        doors, enrolled = {}, {}
        for name, kindergarten in names.items():
            doors[name] = (home / name, {"QATYS_RUNTIME_DIR": str(home / f"run-{name}")})
            commands.append(Command(["terminal", "token", "--data", data, "--kindergarten",
                                     kindergarten]))
            enrolled[name] = len(commands)
            commands.append(Command(["terminal", "enroll", "--home", str(doors[name][0]),
                                     "--server", self.server.url, "--token",
                                     LastLine(len(commands) - 1)], doors[name][1]))
        kg = Kindergarten(self.server, code, prefix, doors, {}, self.worker)
        commands += [Command(["consent", "grant", "--data", data, "--child", kg.child(c),
                              "--paper", f"form-{kg.child(c)}"]) for c in CONSENTED]
        syncs = [len(commands), len(commands) + 1]
        commands += [sync_command(doors["A"]), sync_command(doors["B"])]
        if obama:
            commands.append(face_command(doors["A"], "enroll", "--child", kg.child(OBAMA),
                                         FR / "tests__test_images__obama.jpg"))
        if obama == "everywhere":
            syncs += [len(commands), len(commands) + 1]
            commands += [sync_command(doors["A"]), sync_command(doors["B"])]
        done = self.worker.batch(*commands)
        for step in syncs:
            synced_fine(done[step])
        kg.terminal_ids.update({name: done[step].stdout.strip().splitlines()[-1]
                                for name, step in enrolled.items()})
        return kg


@pytest.fixture(scope="module")
def kindergartens(server: ServerProcess, tmp_path_factory: pytest.TempPathFactory
                  ) -> Iterator[Kindergartens]:
    base = tmp_path_factory.mktemp("face-kindergartens")
    worker = QatysWorker(base / "worker.log")
    _WORKERS.update({base: worker, server.data_dir: worker})
    yield Kindergartens(server, base, worker)
    del _WORKERS[base], _WORKERS[server.data_dir]
    worker.close()


@pytest.fixture
def kg(kindergartens: Kindergartens) -> Kindergarten:
    """A fresh kindergarten: A and B synced, consent for OBAMA, ROSE and ALEX, no face yet."""
    return kindergartens.new()


@pytest.fixture
def obama_at_a(kindergartens: Kindergartens) -> Kindergarten:
    """As `kg`, with OBAMA enrolled at A (not synced since)."""
    return kindergartens.new(obama="at A")


@pytest.fixture
def obama_everywhere(kindergartens: Kindergartens) -> Kindergarten:
    """As `obama_at_a`, then A and B synced: the template and its key at B too."""
    return kindergartens.new(obama="everywhere")


_WORKERS: dict[Path, QatysWorker] = {}
"""The module's `QatysWorker` by the folders it serves (its kindergartens' terminal homes,
the server's data directory): the tests' `qatys` commands run there, not a process each
(each would load the face models again)."""


def _worker(args: tuple[str | Path, ...]) -> QatysWorker:
    """The worker serving the ``--home`` or ``--data`` folder a command line names."""
    folder = next(Path(args[i + 1]) for i, a in enumerate(args) if a in ("--home", "--data"))
    return next(_WORKERS[p] for p in (folder, *folder.parents) if p in _WORKERS)


def cli(*args: str | Path, env: dict[str, str] | None = None
        ) -> subprocess.CompletedProcess[str]:
    """A `qatys` command as `run` gives it (raising if it fails), run in the module's worker."""
    return _worker(args).batch(Command(args, env or {}))[-1]


def sync(door: tuple[Path, dict[str, str]]) -> dict[str, Any]:
    home, env = door
    out = cli("terminal", "sync", "--home", str(home), "--quiet", env=env)
    answer: dict[str, Any] = json.loads(out.stdout.splitlines()[-1])
    assert answer["faces"] == "ok", answer
    return answer


def face(door: tuple[Path, dict[str, str]], *args: str | Path,
         faked: str | None = None) -> tuple[int, list[dict[str, Any]]]:
    """A `qatys face` command at ``door``: in the module's worker, or with a ``faked`` clock
    in a process of its own (libfaketime is preloaded at a process's start)."""
    home, env = door
    if faked is None:
        done = _worker(("--home", home)).batch(face_command(door, *args),
                                                         check=False)[-1]
    else:
        command = [*QATYS, "face", str(args[0]), "--home", str(home), *map(str, args[1:])]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120,
                              env={**os.environ, **env, "TZ": "UTC", **faked_clock(faked)})
    return done.returncode, [json.loads(line) for line in done.stdout.splitlines()]


def template_blobs(home: Path) -> list[bytes]:
    with sqlite3.connect(home / "terminal.db") as conn:
        return [bytes(r[0]) for r in conn.execute("SELECT blob FROM face_templates")]


def files_under(*folders: Path) -> Iterator[Path]:
    for folder in folders:
        yield from (p for p in folder.rglob("*") if p.is_file())


def nowhere_under(needle: bytes, *folders: Path) -> list[Path]:
    return [p for p in files_under(*folders) if needle in p.read_bytes()]


def ledger(server: ServerProcess, child: str) -> list[dict[str, Any]]:
    out = cli("consent", "ledger", "--data", str(server.data_dir), "--child", child)
    return [json.loads(line) for line in out.stdout.splitlines()]


def test_enrolment_is_refused_without_consent_in_force(kg: Kindergarten) -> None:
    picture = FR / "tests__test_images__biden.jpg"
    code, lines = face(kg.doors["A"], "enroll", "--child", kg.child(NO_CONSENT), picture)
    assert (code, lines[0]["result"], lines[0]["reason"]) == (2, "rejected", "no_consent")
    code, lines = face(kg.doors["A"], "enroll", "--child", "nobody-00001", picture)
    assert (code, lines[0]["reason"]) == (2, "unknown_child")
    home, env = kg.doors["A"]
    key = Path(env["QATYS_RUNTIME_DIR"]) / "roster.key"
    saved = key.read_bytes()
    key.unlink()  # a reboot: the roster, and with it the consent, cannot be read
    code, lines = face(kg.doors["A"], "enroll", "--child", kg.child(OBAMA), picture)
    assert (code, lines[0]["reason"]) == (2, "roster_locked")
    key.write_bytes(saved)
    assert template_blobs(home) == []


def test_enrol_from_one_picture_identify_on_others_refuse_the_rest(kg: Kindergarten) -> None:
    obama = kg.child(OBAMA)
    code, lines = face(kg.doors["A"], "enroll", "--child", obama,
                       FR / "tests__test_images__obama.jpg")
    assert code == 0, lines
    assert (lines[0]["result"], lines[0]["child_id"], lines[0]["encodings"]) == (
        "enrolled", obama, 1)
    pictures = [FR / "tests__test_images__obama2.jpg", FR / "examples__obama-720p.jpg",
                FR / "tests__test_images__biden.jpg",
                FACES / "dlib" / "examples__faces__dogs.jpg"]
    code, lines = face(kg.doors["A"], "identify", *pictures)
    assert code == 0
    assert [(x["result"], x["child_id"]) for x in lines] == [
        ("match", obama), ("match", obama), ("unknown", None), ("no_face", None)]
    assert all(set(x) >= {"image", "result", "child_id", "distance", "margin"} for x in lines)
    assert lines[0]["distance"] < 0.45 < lines[2]["distance"]


def test_pictures_that_cannot_enrol_are_refused_with_the_reason(
        obama_at_a: Kindergarten, tmp_path: Path) -> None:
    door = obama_at_a.doors["A"]
    rose, alex = obama_at_a.child(ROSE), obama_at_a.child(ALEX)
    code, lines = face(door, "enroll", "--child", rose, FR / "examples__two_people.jpg")
    assert (code, lines[0]["reason"], lines[0]["frames"][0]["verdict"]) == (
        2, "no_usable_frame", "several_faces")
    code, lines = face(door, "enroll", "--child", rose,
                       FR / "examples__knn_examples__train__rose_leslie__img1.jpg",
                       FR / "tests__test_images__biden.jpg")
    assert (code, lines[0]["reason"]) == (2, "several_people")
    # Obama is enrolled as OBAMA: the same face under another child is refused.
    code, lines = face(door, "enroll", "--child", alex, FR / "tests__test_images__obama2.jpg")
    assert (code, lines[0]["reason"]) == (2, "looks_like_another_child")
    picture = load_rgb(FR / "examples__knn_examples__train__alex_lacamoire__img1.jpg")
    printed = save(held_up(picture, size=(320, 400), at=(150, 40)), tmp_path / "print.png")
    code, lines = face(door, "enroll", "--child", alex, printed)
    assert (code, lines[0]["reason"], lines[0]["frames"][0]["verdict"]) == (
        2, "no_usable_frame", "spoof")
    not_a_picture = tmp_path / "notes.jpg"
    not_a_picture.write_text("not a picture")
    code, lines = face(door, "identify", not_a_picture)
    assert (code, lines[0]["result"], lines[0]["reason"]) == (2, "no_face", "unreadable_image")
    assert len(template_blobs(door[0])) == 1  # only Obama's, enrolled before


def _terminal_rows(home: Path) -> tuple[int, ...]:
    with sqlite3.connect(home / "terminal.db") as conn:
        return tuple(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: S608
                     for table in ("face_templates", "consent_outbox", "events", "face_keys"))


def test_bad_command_line_input_is_refused_and_changes_nothing(
        kg: Kindergarten, tmp_path: Path) -> None:
    door = kg.doors["A"]
    before = _terminal_rows(door[0])
    not_a_picture = tmp_path / "notes.jpg"
    not_a_picture.write_text("not a picture")
    huge = tmp_path / "huge.png"
    with huge.open("wb") as handle:
        handle.truncate(31 << 20)  # over the 30 MB a picture may have: refused unread
    code, lines = face(door, "enroll", "--child", kg.child(ALEX), not_a_picture)
    assert (code, lines[0]["result"], lines[0]["reason"]) == (2, "rejected", "unreadable_image")
    code, lines = face(door, "scan", not_a_picture)
    assert (code, lines[0]["result"], lines[0]["reason"]) == (2, "rejected", "unreadable_image")
    code, lines = face(door, "identify", huge)
    assert (code, lines[0]["reason"]) == (2, "unreadable_image")
    assert "larger than 30 MB" in lines[0]["message"]
    for child, by, reason in (("../etc/passwd", "", "bad_child_id"),
                              ("nobody-00001", "", "unknown_child"),
                              (kg.child(ALEX), "x" * 201, "too_long")):
        code, lines = face(door, "withdraw", "--child", child, "--by", by)
        assert (code, lines[0]["result"], lines[0]["reason"]) == (2, "rejected", reason)
    assert _terminal_rows(door[0]) == before


def test_a_sequence_needs_a_turn_a_still_picture_does_not_pass(
        obama_at_a: Kindergarten) -> None:
    still = FR / "tests__test_images__obama2.jpg"
    code, lines = face(obama_at_a.doors["A"], "identify", "--sequence", still, still, still)
    assert [x["result"] for x in lines] == ["spoof"] * 3
    assert lines[-1]["reason"] == "no_blink_or_turn"
    code, lines = face(obama_at_a.doors["A"], "identify", "--sequence",
                       FR / "tests__test_images__obama.jpg", still)
    assert (code, [x["result"] for x in lines]) == (0, ["spoof", "match"])


def test_no_picture_is_written_anywhere_on_the_terminal(obama_at_a: Kindergarten) -> None:
    home, env = obama_at_a.doors["A"]
    magic = (b"\xff\xd8\xff", b"\x89PNG", b"GIF8", b"BM", b"RIFF")
    found = [p for p in files_under(home, Path(env["QATYS_RUNTIME_DIR"]))
             if p.read_bytes()[:4].startswith(magic)
             or p.suffix.lower() in (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp")]
    assert found == []
    encoding = read_face(load_rgb(FR / "tests__test_images__obama.jpg"), only_one=True).encoding
    assert encoding is not None
    packed = faces.pack_encodings([[float(x) for x in encoding]])
    assert nowhere_under(packed[:64], home, Path(env["QATYS_RUNTIME_DIR"])) == []


def test_the_sibling_terminal_gets_the_template_and_the_server_cannot_read_it(
        obama_at_a: Kindergarten) -> None:
    kg, server = obama_at_a, obama_at_a.server
    sync(kg.doors["A"])  # up: the face key and the template; the key sealed to B
    sync(kg.doors["B"])  # down
    code, lines = face(kg.doors["B"], "identify", FR / "tests__test_images__obama2.jpg")
    assert (code, [(x["result"], x["child_id"]) for x in lines]) == (
        0, [("match", kg.child(OBAMA))])

    templates = kg.mine(server_rows(server, db.face_templates))
    wraps = [w for w in server_rows(server, db.face_key_wraps)
             if w.terminal_id in kg.terminal_ids.values()]
    assert [(t.child_id, t.erased_at_us) for t in templates] == [(kg.child(OBAMA), None)]
    assert len(wraps) == 2  # one for A, one for B
    encoding = read_face(load_rgb(FR / "tests__test_images__obama.jpg"), only_one=True).encoding
    assert encoding is not None
    packed = faces.pack_encodings([[float(x) for x in encoding]])
    assert all(packed[:64] not in bytes(t.blob) for t in templates)
    data = open_data_dir(server.data_dir)
    server_keys = data.keys
    data.engine.dispose()
    for wrap in wraps:
        with pytest.raises(ProtocolError):
            faces.unwrap_face_key(bytes(wrap.sealed), wrap.key_id, kg.code, wrap.terminal_id,
                                  server_keys.box_private)
    if (server.data_dir / "qatys.db").exists():
        assert nowhere_under(packed[:64], server.data_dir) == []


def test_after_a_reboot_the_face_key_comes_back_with_the_roster(
        obama_everywhere: Kindergarten) -> None:
    door = obama_everywhere.doors["B"]
    home, env = door
    shutil.rmtree(env["QATYS_RUNTIME_DIR"])  # RAM is gone: roster key and with it the face key
    code, lines = face(door, "identify", FR / "tests__test_images__obama2.jpg")
    assert (code, lines[0]["reason"]) == (2, "roster_locked")
    listed = cli("face", "list", "--home", str(home), env=env).stdout.splitlines()
    assert [json.loads(x)["child_id"] for x in listed] == [None]  # kept, but unreadable
    sync(door)  # a new roster key; the face key sealed to B comes back from the server
    code, lines = face(door, "identify", FR / "tests__test_images__obama2.jpg")
    assert (code, lines[0]["result"], lines[0]["child_id"]) == (
        0, "match", obama_everywhere.child(OBAMA))


def test_a_face_scan_records_an_arrival_with_method_face(obama_everywhere: Kindergarten) -> None:
    kg, obama = obama_everywhere, obama_everywhere.child(OBAMA)
    code, lines = face(kg.doors["B"], "scan", FR / "examples__obama-720p.jpg",
                       FR / "tests__test_images__biden.jpg")
    assert code == 2  # the second picture was refused
    assert [(x["result"], x["child_id"], x.get("method")) for x in lines] == [
        ("accepted", obama, "face"), ("rejected", None, None)]
    assert lines[1]["reason"] == "face_unknown"
    sync(kg.doors["B"])
    exported = cli("events", "export", "--data", str(kg.server.data_dir), "--format", "jsonl")
    mine = [e for e in map(json.loads, exported.stdout.splitlines())
            if e.get("event_id") == lines[0]["event_id"]]
    assert [(e["child_id"], e["method"]) for e in mine] == [(obama, "face")]


def test_withdrawal_on_the_server_erases_the_template_from_every_terminal(
        obama_everywhere: Kindergarten) -> None:
    kg, server, obama = obama_everywhere, obama_everywhere.server, obama_everywhere.child(OBAMA)
    (home_a, env_a), (home_b, env_b) = kg.doors["A"], kg.doors["B"]
    blobs = template_blobs(home_a) + template_blobs(home_b)
    assert len(blobs) == 2
    cli("consent", "withdraw", "--data", str(server.data_dir), "--child", obama)
    assert kg.mine(server_rows(server, db.face_templates))[0].blob is None  # at once
    for door in (kg.doors["A"], kg.doors["B"]):
        sync(door)
        code, lines = face(door, "identify", FR / "tests__test_images__obama2.jpg")
        assert (code, lines[0]["result"], lines[0]["child_id"]) == (0, "unknown", None)
    for blob in blobs:
        assert nowhere_under(blob[-48:], home_a, home_b, Path(env_a["QATYS_RUNTIME_DIR"]),
                             Path(env_b["QATYS_RUNTIME_DIR"])) == []
    trail = [(e["action"], e.get("terminal_id"), e.get("reason")) for e in ledger(server, obama)
             if e["action"] != "grant"]
    assert trail[:3] == [("face_enrolled", trail[0][1], None), ("withdraw", None, None),
                         ("face_erased_on_server", None, "withdrawn")]
    terminals = {json.loads(cli("terminal", "status", "--home", str(h), "--json",
                                env=e).stdout)["terminal_id"]
                 for h, e in (kg.doors["A"], kg.doors["B"])}
    assert {(t, r) for a, t, r in trail[3:]} == {(t, "withdrawn") for t in terminals}


def test_withdrawal_at_a_terminal_erases_there_at_once_and_reaches_the_ledger(
        obama_everywhere: Kindergarten) -> None:
    kg, server, rose = obama_everywhere, obama_everywhere.server, obama_everywhere.child(ROSE)
    data = str(server.data_dir)
    # OBAMA's consent withdrawn, his template erased everywhere: A keeps its face key, and
    # the roster has changed since that key was made.
    done = kg.worker.batch(Command(["consent", "withdraw", "--data", data, "--child",
                                    kg.child(OBAMA)]),
                           sync_command(kg.doors["A"]), sync_command(kg.doors["B"]))
    for synced in done[1:]:
        synced_fine(synced)
    picture = FR / "examples__knn_examples__train__rose_leslie__img1.jpg"
    code, lines = face(kg.doors["A"], "enroll", "--child", rose, picture)
    assert code == 0, lines
    with sqlite3.connect(kg.doors["A"][0] / "terminal.db") as conn:
        # the roster changed since the key was made: it was wrapped anew, not replaced
        assert conn.execute("SELECT count(*) FROM face_keys").fetchone()[0] == 1
    sync(kg.doors["A"])
    sync(kg.doors["B"])
    assert len(template_blobs(kg.doors["B"][0])) == 1
    code, lines = face(kg.doors["B"], "withdraw", "--child", rose, "--by", "Айгүл")
    assert (code, lines[0]["result"], lines[0]["erased"]) == (0, "withdrawn", 1)
    assert template_blobs(kg.doors["B"][0]) == []
    code, lines = face(kg.doors["B"], "identify",
                       FR / "examples__knn_examples__train__rose_leslie__img2.jpg")
    assert lines[0]["result"] == "unknown"
    code, lines = face(kg.doors["B"], "enroll", "--child", rose, picture)
    assert (code, lines[0]["reason"]) == (2, "consent_withdrawn")
    sync(kg.doors["B"])
    states = json.loads(cli("consent", "list", "--data", data,
                            "--kindergarten", kg.code).stdout)
    assert {s["child_id"]: (s["status"], s["source"]) for s in states}[rose] == (
        "withdrawn", "terminal")
    sync(kg.doors["A"])
    assert template_blobs(kg.doors["A"][0]) == []
    actions = [e["action"] for e in ledger(server, rose)]
    assert (actions.count("withdraw"), actions.count("face_erased")) == (1, 2)


def test_consent_that_runs_out_erases_the_template_on_an_offline_terminal(
        kg: Kindergarten) -> None:
    need_faketime()
    door, biden = kg.doors["A"], kg.child(BIDEN)
    until = (datetime.now(UTC) + timedelta(days=2)).date().isoformat()
    cli("consent", "grant", "--data", str(kg.server.data_dir), "--child", biden, "--paper",
        "form-b", "--until", until)
    sync(door)
    code, lines = face(door, "enroll", "--child", biden, FR / "tests__test_images__biden.jpg")
    assert code == 0, lines
    blob = template_blobs(door[0])[0]
    later = (datetime.now(UTC) + timedelta(days=4)).strftime("%Y-%m-%d %H:%M:%S")
    code, lines = face(door, "identify",
                       FR / "examples__knn_examples__train__biden__biden2.jpg", faked=later)
    assert (code, lines[0]["result"]) == (0, "unknown")
    assert nowhere_under(blob[-48:], door[0]) == []
    code, lines = face(door, "enroll", "--child", biden,
                       FR / "tests__test_images__biden.jpg", faked=later)
    assert (code, lines[0]["reason"]) == (2, "consent_expired")
    assert template_blobs(door[0]) == []


def test_a_child_who_leaves_the_kindergarten_is_erased_everywhere(
        kg: Kindergarten, tmp_path: Path) -> None:
    leaving, data = kg.child(LEAVING), str(kg.server.data_dir)
    cli("consent", "grant", "--data", data, "--child", leaving, "--paper", "f-18")
    sync(kg.doors["A"])
    code, lines = face(kg.doors["A"], "enroll", "--child", leaving,
                       FR / "examples__lin-manuel-miranda.png")
    assert code == 0, lines
    sync(kg.doors["A"])
    sync(kg.doors["B"])
    assert len(template_blobs(kg.doors["B"][0])) == 1
    today = datetime.now(UTC).date().isoformat()  # the first day the child no longer belongs
    text, _ = roster_csv(20, kg.prefix)
    csv = tmp_path / "roster.csv"
    csv.write_text("".join(line[:-1] + today + "\n" if line.startswith(leaving) else line
                           for line in text.splitlines(keepends=True)), encoding="utf-8")
    cli("roster", "import", "--data", data, "--kindergarten", kg.code, str(csv))
    for door in (kg.doors["B"], kg.doors["A"]):
        sync(door)
        assert template_blobs(door[0]) == []
    sync(kg.doors["B"])  # B's receipt
    reasons = {(e["action"], e["reason"]) for e in ledger(kg.server, leaving)
               if e["action"].startswith("face_erased")}
    assert reasons == {("face_erased_on_server", "left"), ("face_erased", "left")}


# --- refusals over the API: each changes nothing -------------------------------------


def _client(kg: Kindergarten, name: str) -> tuple[ServerClient, str, bytes]:
    keys = load_keys(kg.doors[name][0])
    return ServerClient(kg.server.url, server_key=keys.server_sign_public), \
        kg.terminal_ids[name], keys.sign_seed


def _counts(server: ServerProcess) -> tuple[int, ...]:
    engine = open_data_dir(server.data_dir).engine
    with engine.connect() as conn:
        counts = tuple(int(conn.execute(select(func.count()).select_from(t)).scalar_one())
                       for t in (db.face_templates, db.face_key_wraps, db.face_erasures,
                                 db.consent_records, db.consent_notices))
    engine.dispose()
    return counts


def _upload(child: str | int, key_id: str = "0123456789abcdef", blob: bytes = b"x" * 600,
            template_id: str = "ab" * 16) -> dict[str, Any]:
    """A template upload; ``child`` an id, or a place in the roster (`Kindergarten.child`)."""
    return {"template_id": template_id, "key_id": key_id, "child_id": child,
            "consent_record": 1, "blob": crypto_b64(blob)}


def crypto_b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@pytest.fixture(scope="module")
def refusing(kindergartens: Kindergartens) -> Kindergarten:
    """One kindergarten for the module's refused requests: each only reads it (and checks
    that the server's tables are as they were)."""
    return kindergartens.new()


@pytest.mark.parametrize(("path", "payload", "code"), [
    ("/api/v1/terminal/faces/templates", _upload("nobody-00001"), "unknown_child"),
    ("/api/v1/terminal/faces/templates", _upload(NO_CONSENT), "consent_not_in_force"),
    ("/api/v1/terminal/faces/templates", _upload(ALEX, blob=b"x" * 20_000),
     "template_too_large"),
    ("/api/v1/terminal/faces/templates", _upload(ALEX, key_id="nothex"), "malformed"),
    ("/api/v1/terminal/faces/templates", {"template_id": "ab" * 16}, "malformed"),
    ("/api/v1/terminal/faces/sync", {"have": [], "keys": [], "erased": [
        {"template_id": "ab" * 16, "erased_at_us": 1, "reason": "because"}]}, "malformed"),
    ("/api/v1/terminal/faces/keys", {"wraps": [{"key_id": "0123456789abcdef",
                                                "terminal_id": "T-NOBODY", "sealed": "AAAA"}]},
     "foreign_terminal"),
    ("/api/v1/terminal/consent/withdrawals", {"request_id": "ab" * 16, "sealed": "AAAA"},
     "bad_notice"),
    ("/api/v1/terminal/faces/sync", {"have": ["ab" * 16] * 5001, "keys": [], "erased": []},
     "malformed"),
    ("/api/v1/terminal/faces/sync", {"have": [], "keys": [], "erased": [
        {"template_id": "ab" * 16, "erased_at_us": "yesterday", "reason": "withdrawn"}]},
     "malformed"),
    ("/api/v1/terminal/faces/keys", {"wraps": []}, "malformed"),
    ("/api/v1/terminal/faces/keys", {"wraps": [{"key_id": "0123456789abcdef",
                                                "terminal_id": "T-NOBODY",
                                                "sealed": crypto_b64(b"x" * 400)}]},
     "malformed"),
])
def test_bad_face_requests_are_refused_and_change_nothing(
        refusing: Kindergarten, path: str, payload: dict[str, Any], code: str) -> None:
    if isinstance(payload.get("child_id"), int):
        payload = {**payload, "child_id": refusing.child(payload["child_id"])}
    before = _counts(refusing.server)
    client, terminal_id, seed = _client(refusing, "A")
    with pytest.raises(ServerRefused) as refused:
        client.signed_post(path, terminal_id, seed, payload)
    assert refused.value.code == code
    assert _counts(refusing.server) == before


def test_refusals_against_what_the_relay_holds_change_nothing(
        kindergartens: Kindergartens) -> None:
    """A template id already taken, a key passed on by a terminal that does not hold it, a
    key id of another kindergarten, a notice whose sealed request id is not the one named."""
    kg = kindergartens.new(foreign=True, obama="everywhere")
    server, alex_id = kg.server, kg.child(ALEX)
    before = _counts(server)
    client, a_id, a_seed = _client(kg, "A")
    _, b_id, _ = _client(kg, "B")
    f_client, f_id, f_seed = _client(kg, "F")
    taken = kg.mine(server_rows(server, db.face_templates))[0]
    a_key = next(w.key_id for w in server_rows(server, db.face_key_wraps)
                 if w.terminal_id == a_id)
    keys = load_keys(kg.doors["A"][0])
    sealed = consent.seal_withdrawal(consent.Withdrawal("ab" * 16, alex_id, "x", 1), a_id,
                                     keys.server_box_public, os.urandom(32), os.urandom(12))
    states = json.loads(cli("consent", "list", "--data", str(server.data_dir),
                            "--kindergarten", kg.code).stdout)
    alex = {**_upload(alex_id),
            "consent_record": {x["child_id"]: x["record"] for x in states}[alex_id]}
    attempts = [
        (client, a_id, a_seed, "/api/v1/terminal/faces/templates",
         _upload(alex_id, key_id=a_key, template_id=taken.template_id), "template_conflict"),
        # consent in force, but under a key this terminal never registered
        (client, a_id, a_seed, "/api/v1/terminal/faces/templates", alex, "unknown_face_key"),
        (client, a_id, a_seed, "/api/v1/terminal/faces/keys", {"wraps": [
            {"key_id": "fedcba9876543210", "terminal_id": b_id,
             "sealed": crypto_b64(b"x" * 81)}]}, "unknown_face_key"),
        (f_client, f_id, f_seed, "/api/v1/terminal/faces/keys", {"wraps": [
            {"key_id": a_key, "terminal_id": f_id, "sealed": crypto_b64(b"x" * 81)}]},
         "template_conflict"),
        (client, a_id, a_seed, "/api/v1/terminal/consent/withdrawals",
         {"request_id": "cd" * 16, "sealed": crypto_b64(sealed)}, "bad_notice"),
    ]
    for who, terminal_id, seed, path, payload, code in attempts:
        with pytest.raises(ServerRefused) as refused:
            who.signed_post(path, terminal_id, seed, payload)
        assert refused.value.code == code, path
    assert _counts(server) == before


def test_a_foreign_terminal_gets_nothing_and_cannot_hand_in_anything(
        kindergartens: Kindergartens) -> None:
    kg = kindergartens.new(foreign=True)
    server, alex = kg.server, kg.child(ALEX)
    before = _counts(server)
    client, terminal_id, seed = _client(kg, "F")
    answer = client.signed_post("/api/v1/terminal/faces/sync", terminal_id, seed,
                                {"have": [], "keys": [], "erased": []})
    assert (answer["add"], answer["key_wraps"], answer["wrap_for"]) == ([], [], [])
    with pytest.raises(ServerRefused) as refused:
        client.signed_post("/api/v1/terminal/faces/templates", terminal_id, seed,
                           _upload(alex))
    assert refused.value.code == "unknown_child"
    keys = load_keys(kg.doors["F"][0])
    _, a_id, _ = _client(kg, "A")
    sealed = consent.seal_withdrawal(consent.Withdrawal("cd" * 16, alex, "x", 1), terminal_id,
                                     keys.server_box_public, os.urandom(32), os.urandom(12))
    with pytest.raises(ServerRefused) as refused:
        client.signed_post("/api/v1/terminal/consent/withdrawals", terminal_id, seed,
                           {"request_id": "cd" * 16, "sealed": crypto_b64(sealed)})
    assert refused.value.code == "unknown_child"
    assert _counts(server) == before
    assert a_id != terminal_id


def test_a_withdrawal_notice_sent_twice_counts_once_and_never_undoes_a_later_grant(
        kg: Kindergarten) -> None:
    server, alex = kg.server, kg.child(ALEX)
    client, terminal_id, seed = _client(kg, "A")
    keys = load_keys(kg.doors["A"][0])

    def notice(request_id: str, at_us: int) -> dict[str, str]:
        sealed = consent.seal_withdrawal(consent.Withdrawal(request_id, alex, "Айгүл", at_us),
                                         terminal_id, keys.server_box_public, os.urandom(32),
                                         os.urandom(crypto.NONCE_SIZE))
        return {"request_id": request_id, "sealed": crypto_b64(sealed)}

    path = "/api/v1/terminal/consent/withdrawals"
    taken_at = int(datetime.now(UTC).timestamp() * 1_000_000)
    first = client.signed_post(path, terminal_id, seed, notice("ef" * 16, taken_at))
    again = client.signed_post(path, terminal_id, seed, notice("ef" * 16, taken_at))
    assert (first["outcome"], again["outcome"]) == ("recorded", "already")
    assert [e["action"] for e in ledger(server, alex)].count("withdraw") == 1
    # The parent gives consent again; a notice taken at the door before that (delivered late,
    # after weeks offline) must not withdraw the newer grant.
    cli("consent", "grant", "--data", str(server.data_dir), "--child", alex, "--paper", "f-2")
    late = client.signed_post(path, terminal_id, seed, notice("0f" * 16, taken_at))
    assert late["outcome"] == "no_effect"
    states = json.loads(cli("consent", "list", "--data", str(server.data_dir),
                            "--kindergarten", kg.code).stdout)
    assert {s["child_id"]: s["status"] for s in states}[alex] == "granted"


def test_the_guardian_sees_that_the_face_was_erased_and_where(
        kg: Kindergarten, tmp_path: Path) -> None:
    """After a withdrawal at a terminal (ROSE's, at B, as in the test of that above): the
    parents' page says the face template was erased, on both terminals. Chromium on the
    SQLite run; on PostgreSQL the same state straight from the server's database (the page
    only shows it)."""
    server, rose = kg.server, kg.child(ROSE)
    a, b = kg.doors["A"], kg.doors["B"]
    done = kg.worker.batch(
        face_command(a, "enroll", "--child", rose,
                     FR / "examples__knn_examples__train__rose_leslie__img1.jpg"),
        sync_command(a), sync_command(b),
        face_command(b, "withdraw", "--child", rose, "--by", "Айгүл"),
        sync_command(b), sync_command(a))
    for step in (1, 2, 4, 5):
        synced_fine(done[step])
    data = open_data_dir(server.data_dir)
    with data.engine.connect() as conn:
        state = face_state(conn, rose)
    data.engine.dispose()
    assert (state["enrolled"], state["erased_on_terminals"]) == (False, 2)
    assert state["erased_at"] is not None
    if "postgres" in server.data_dir.name:
        return
    chromium()
    phone = Page(tmp_path / "phone")
    try:
        claim_in_browser(phone, invite_url(server, rose))
        phone.wait_for("document.querySelector('.face-state') !== null")
        line = phone.evaluate("document.querySelector('.face-state').textContent")
    finally:
        phone.close()
    assert line.startswith("Бет үлгісі өшірілді 20")
    assert line.endswith("(2 терминалда)")
