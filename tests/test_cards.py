"""Children's QR cards end to end: printed by `qatys card`, photographed at the door by
simulation, read by the real decoders, checked offline by a real terminal, synced."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import zlib
from datetime import date, timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest
import segno
from sqlalchemy import select

from protocol import cards
from server.datadir import open_data_dir
from server.storage import db
from terminal.capture import simulated as door_photos
from terminal.capture.decoders import default_reader, read_image
from tests.helpers import ServerProcess, cli, enrol

pytestmark = pytest.mark.usefixtures("commands_in_one_process")


def _issue(server: ServerProcess, child: str, out: Path) -> str:
    return cli("card", "issue", "--data", str(server.data_dir), "--child", child, "--out",
               str(out)).stdout.strip().splitlines()[-1]


def _scan(home: Path, env: dict[str, str], *images: Path) -> tuple[int, list[dict[str, object]]]:
    out = cli("terminal", "scan", "--home", str(home), *map(str, images), env=env, check=False)
    return out.returncode, [json.loads(line) for line in out.stdout.splitlines()]


def _pending(home: Path, env: dict[str, str]) -> int:
    status = json.loads(cli("terminal", "status", "--home", str(home), "--json",
                            env=env).stdout)
    return int(status["pending"])


def _qr_png(text: str, out: Path) -> Path:
    segno.make(text, error="m").save(str(out), scale=6, border=4)
    return out


def _card_seed(server: ServerProcess, kindergarten: str) -> bytes:
    data = open_data_dir(server.data_dir)
    try:
        with data.engine.connect() as conn:
            seed = conn.execute(select(db.card_keys.c.seed)
                                .where(db.card_keys.c.kindergarten == kindergarten)).scalar()
    finally:
        data.engine.dispose()
    assert seed is not None
    return bytes(seed)


def test_card_at_the_door_accepted_and_every_bad_code_refused(
        server: ServerProcess, tmp_path: Path, runtime_env: dict[str, str]) -> None:
    serial_1 = _issue(server, "child-00011-x7q", tmp_path / "card1.png")
    serial_2 = _issue(server, "child-00012-x7q", tmp_path / "card2.pdf")
    assert serial_1 != serial_2
    assert (tmp_path / "card2.pdf").read_bytes().startswith(b"%PDF")
    home = tmp_path / "door"
    enrol(server, home, runtime_env)

    code, lines = _scan(home, runtime_env, tmp_path / "card1.png")
    assert code == 0
    assert lines[0]["result"] == "accepted"
    assert lines[0]["child_id"] == "child-00011-x7q"
    assert lines[0]["direction"] == "in"
    assert lines[0]["method"] == "qr-card"
    assert lines[0]["first_name"] == "Aruzhanka0011"
    assert lines[0]["card"] == serial_1
    receipt = lines[0]["receipt"]
    assert isinstance(receipt, str)
    assert len(receipt) == 7
    code, again = _scan(home, runtime_env, tmp_path / "card1.png")  # shown twice
    assert again[0]["result"] == "accepted"
    assert again[0]["repeat"] is True
    assert again[0]["event_id"] == lines[0]["event_id"]
    assert again[0]["receipt"] == receipt

    # Lost card: revoked on the server, known to the door after the next sync.
    cli("card", "revoke", "--data", str(server.data_dir), serial_1)
    cli("terminal", "sync", "--home", str(home), env=runtime_env)
    today = date.today()
    seed = _card_seed(server, "KG1")
    expired = cards.sign_card(cards.Card("KG1", "child-00013-x7q", "EEEEEEEE",
                                         today - timedelta(days=400),
                                         today - timedelta(days=2)), seed)
    foreign = cards.sign_card(cards.Card("KG2", "child-00013-x7q", "FFFFFFFF", today,
                                         today + timedelta(days=30)), os.urandom(32))
    forged = cards.sign_card(cards.Card("KG1", "child-00013-x7q", "GGGGGGGG", today,
                                        today + timedelta(days=30)), os.urandom(32))
    blank = tmp_path / "blank.png"
    cv2.imwrite(str(blank), door_photos.empty_frame(np.random.default_rng(1)))
    (tmp_path / "broken.png").write_bytes(b"not a picture")
    pending = _pending(home, runtime_env)
    code, lines = _scan(home, runtime_env, tmp_path / "card1.png",
                        _qr_png(expired, tmp_path / "expired.png"),
                        _qr_png(foreign, tmp_path / "foreign.png"),
                        _qr_png(forged, tmp_path / "forged.png"),
                        _qr_png("https://kaspi.example/pay?x=1", tmp_path / "url.png"),
                        blank, tmp_path / "broken.png")
    assert code == 2
    assert [(x["result"], x["reason"]) for x in lines] == [
        ("rejected", "revoked_card"), ("rejected", "expired_card"),
        ("rejected", "foreign_card"), ("rejected", "forged_card"),
        ("rejected", "not_a_card"), ("none", None), ("rejected", "unreadable_image")]
    assert all(x["event_id"] is None and x["child_id"] is None for x in lines)
    assert _pending(home, runtime_env) == pending  # refusals record nothing
    log = (home / "logs" / "terminal.log").read_text()
    assert log.count('"scan.rejected"') >= 5
    assert "child-00013-x7q" not in log


def test_locked_terminal_still_records_cards(server: ServerProcess, tmp_path: Path,
                                             runtime_env: dict[str, str]) -> None:
    _issue(server, "child-00014-x7q", tmp_path / "card.png")
    home = tmp_path / "door"
    enrol(server, home, runtime_env)
    shutil.rmtree(runtime_env["QATYS_RUNTIME_DIR"])  # reboot: the roster key is gone
    code, lines = _scan(home, runtime_env, tmp_path / "card.png")
    assert code == 0
    assert lines[0]["result"] == "accepted"
    assert lines[0]["child_id"] == "child-00014-x7q"
    assert "first_name" not in lines[0]  # cannot greet by name until unlocked
    cli("terminal", "sync", "--home", str(home), env=runtime_env)
    exported = cli("events", "export", "--data", str(server.data_dir), "--format",
                   "jsonl").stdout
    mine = [json.loads(x) for x in exported.splitlines()
            if json.loads(x)["event_id"] == lines[0]["event_id"]]
    assert mine[0]["method"] == "qr-card"
    assert mine[0]["child_id"] == "child-00014-x7q"
    assert mine[0]["receipt"] == lines[0]["receipt"]  # what the door showed, on the server


@pytest.mark.parametrize("condition", sorted(door_photos.CONDITIONS))
def test_printed_card_is_read_in_door_conditions(condition: str, tmp_path: Path,
                                                 printed_card: tuple[Path, str]) -> None:
    path, text = printed_card
    card = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    rng = np.random.default_rng(zlib.crc32(condition.encode()))
    frames = [door_photos.CONDITIONS[condition](card, rng) for _ in range(5)]
    still, live = default_reader(still=True), default_reader()
    assert all(still.read(frame) == [text] for frame in frames)  # `terminal scan` reads each
    # The camera reads most frames; a parent holding a card up gives it several.
    assert sum(live.read(frame) == [text] for frame in frames) >= 4


@pytest.fixture(scope="module")
def printed_card(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A card PNG drawn by the real printing code (no server needed for its looks)."""
    from provisioning.card_print import IssuedCard, write_png

    today = date(2026, 11, 23)
    card = cards.Card("KG-ALMATY-017", "child-00001-x7q", "ABCDEFGH", today,
                      today + timedelta(days=730))
    text = cards.sign_card(card, bytes(32))
    path = tmp_path_factory.mktemp("card") / "card.png"
    write_png(IssuedCard(card, text, "Әлихан-Нұрсұлтан", "Күншуақ балабақшасы"), path)
    return path, text


def test_sheet_prints_one_readable_card_per_child(server: ServerProcess,
                                                  tmp_path: Path) -> None:
    sheet = tmp_path / "sheet.pdf"
    out = cli("card", "sheet", "--data", str(server.data_dir), "--kindergarten", "KG1",
              "--out", str(sheet))
    assert "20 cards" in out.stdout
    subprocess.run(["pdftoppm", "-r", "200", "-png", str(sheet), str(tmp_path / "page")],
                   check=True, timeout=120)
    pages = sorted(tmp_path.glob("page-*.png"))
    assert len(pages) == 2  # ten cards a page
    reader, found = default_reader(), []
    for page in pages:
        gray = read_image(str(page))
        for row in range(5):  # cut the page along its card grid, as scissors would
            for column in range(2):
                h, w = gray.shape
                top = int(h * (13.5 + row * 54) / 297)
                left = int(w * (19.4 + column * 85.6) / 210)
                found += reader.read(gray[top:top + int(h * 54 / 297),
                                          left:left + int(w * 85.6 / 210)])
    children = {cards.read_card(text)[0].child_id for text in found}
    assert children == {f"child-{i:05d}-x7q" for i in range(20)}


def test_bad_card_commands_exit_2(server: ServerProcess, tmp_path: Path) -> None:
    for args, message in [
        (["card", "issue", "--child", "nobody", "--out", str(tmp_path / "x.png")], "no child"),
        (["card", "issue", "--child", "child-00001-x7q", "--out", str(tmp_path / "x.gif")],
         ".png or .pdf"),
        (["card", "revoke", "ZZZZZZZZ"], "no card"),
        (["card", "sheet", "--kindergarten", "NOPE", "--out", str(tmp_path / "s.pdf")],
         "does not exist"),
    ]:
        out = cli(*args[:2], "--data", str(server.data_dir), *args[2:], check=False)
        assert out.returncode == 2, args
        assert message in out.stderr, (args, out.stderr)


def test_decode_prints_what_each_picture_holds(tmp_path: Path,
                                               printed_card: tuple[Path, str]) -> None:
    path, text = printed_card
    (tmp_path / "notes.txt").write_text("not a picture")
    blank = tmp_path / "blank.png"
    cv2.imwrite(str(blank), door_photos.empty_frame(np.random.default_rng(3)))
    out = cli("terminal", "decode", str(path), str(blank), str(tmp_path / "notes.txt"),
              check=False)
    lines = [json.loads(x) for x in out.stdout.splitlines()]
    assert out.returncode == 2  # one of the three is not a picture
    assert [line["payloads"] for line in lines] == [[text], [], []]
    assert "not a readable image" in lines[2]["error"]
