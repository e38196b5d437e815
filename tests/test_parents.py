"""Parents' pages in a real headless Chromium against a real server: an invitation opened on
a "phone", its key made by WebCrypto, the rotating entry code, the child's own record; and a
guardian of one child cannot see another."""

from __future__ import annotations

import itertools
import json
import os
import re
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests

from tests.browser import Page, artefact
from tests.helpers import (
    QATYS,
    ServerProcess,
    claim_in_browser,
    enrol,
    faked_clock,
    invite_url,
    need_faketime,
    open_page,
    run,
)


@pytest.fixture(scope="module")
def server(sqlite_server: ServerProcess) -> ServerProcess:
    """SQLite only here: the pages' storage runs on PostgreSQL in test_consent, test_money and
    test_queue_core; a browser run per database would double the slowest tests."""
    return sqlite_server



_CHILDREN = itertools.count(10)
"""Each phone its own child of KG1's roster (child-00010-x7q …), each test its own phone."""


@pytest.fixture
def child() -> str:
    return f"child-{next(_CHILDREN):05d}-x7q"


@pytest.fixture
def phone(server: ServerProcess, child: str, tmp_path: Path) -> Iterator[Page]:
    """A phone that has just claimed an invitation of the only guardian of ``child``."""
    page = Page(tmp_path / "phone")
    try:
        claim_in_browser(page, invite_url(server, child))
        yield page
    finally:
        page.close()


def test_invitation_makes_a_phone_key_and_shows_the_child(server: ServerProcess, phone: Page,
                                                          child: str) -> None:
    names = phone.evaluate("[...document.querySelectorAll('#children li')]"
                           ".map(li => li.dataset.child)")
    assert names == [child]
    listed = [json.loads(x) for x in run("guardian", "list", "--data", str(server.data_dir),
                                         "--child", child).stdout.splitlines()]
    assert len(listed) == 1
    assert listed[0]["removed_at"] is None
    phone.evaluate("document.querySelector('#children li button').click(); true")
    text = phone.wait_for("document.getElementById('qr').dataset.text")
    assert re.fullmatch(r"QP1:[0-9a-f]{16}:" + re.escape(child) + r":\d+:[A-Z2-7]{8}:"
                        r"[A-Za-z0-9_-]{86}:[A-Za-z0-9_-]{86}", text)
    assert text.split(":")[1] == listed[0]["key_id"]
    phone.screenshot(artefact("parents-code-kk.png"))


def test_the_entry_code_works_with_the_phone_offline(server: ServerProcess,
                                                     phone: Page) -> None:
    open_page(phone, server.url + "/parents/")
    assert phone.evaluate("navigator.serviceWorker.ready.then(() => true)")
    phone.call("Network.enable")
    phone.call("Network.emulateNetworkConditions", offline=True, latency=0,
               downloadThroughput=-1, uploadThroughput=-1)
    try:
        open_page(phone, server.url + "/parents/")
        phone.wait_for("document.querySelectorAll('#children li').length > 0")
        assert "Интернет жоқ" in phone.evaluate("document.getElementById('status').textContent")
        phone.evaluate("document.querySelector('#children li button').click(); true")
        text = phone.wait_for("document.getElementById('qr').dataset.text")
        assert text.startswith("QP1:")
    finally:
        phone.call("Network.emulateNetworkConditions", offline=False, latency=0,
                   downloadThroughput=-1, uploadThroughput=-1)


def test_an_invitation_works_once(server: ServerProcess, tmp_path: Path) -> None:
    url = invite_url(server, "child-00002-x7q")
    first = Page(tmp_path / "first")
    try:
        claim_in_browser(first, url)
    finally:
        first.close()
    second = Page(tmp_path / "second")
    try:
        open_page(second, url)
        second.evaluate("document.getElementById('accept').click(); true")
        message = second.wait_for("document.getElementById('status').textContent")
        assert "пайдаланылған" in message  # used already (Kazakh by default)
    finally:
        second.close()


def test_a_guardian_sees_only_their_children(server: ServerProcess, phone: Page,
                                             child: str) -> None:
    open_page(phone, server.url + f"/parents/child/{child}")
    assert phone.evaluate("document.getElementById('month') !== null")
    # This month can be confirmed only from the 1st to the 7th of the next one.
    assert phone.evaluate("document.getElementById('closed').textContent") == "Мерзім жабық."
    for other in ("child-00002-x7q", "child-99999-x7q"):
        open_page(phone, server.url + f"/parents/child/{other}")
        assert phone.evaluate("document.getElementById('missing') !== null"), other
    other_consent = phone.evaluate(
        "fetch('/parents/api/me').then(r => r.json()).then(me => fetch('/parents/api/consent', "
        "{method: 'POST', headers: {'Content-Type': 'application/json', 'X-Qatys-CSRF': "
        "me.csrf}, body: JSON.stringify({child_id: 'child-00002-x7q', action: "
        "'grant', until: '2027-01-01', signed_at_ms: Date.now(), signature: 'AA=='})}))"
        ".then(r => r.status)")
    assert other_consent == 404
    me = phone.evaluate("fetch('/parents/api/me').then(r => r.json())")
    assert [c["child_id"] for c in me["children"]] == [child]
    assert requests.get(server.url + "/parents/api/me", timeout=5).status_code == 401
    anonymous = requests.get(server.url + f"/parents/child/{child}", timeout=5)
    assert child not in anonymous.text
    assert "Testovbayev" not in anonymous.text


@pytest.fixture(scope="module")
def terminal(server: ServerProcess, tmp_path_factory: pytest.TempPathFactory
             ) -> tuple[Path, dict[str, str]]:
    """A terminal of KG1; each test's phone is its own child's, so they share it."""
    base = tmp_path_factory.mktemp("door")
    env = {"QATYS_RUNTIME_DIR": str(base / "run")}
    enrol(server, base / "home", env)
    return base / "home", env


@pytest.fixture
def door(terminal: tuple[Path, dict[str, str]], phone: Page) -> tuple[Path, dict[str, str]]:
    """The terminal, synced after the phone was registered: it knows the phone key."""
    run("terminal", "sync", "--home", str(terminal[0]), "--quiet", env=terminal[1])
    return terminal


def _code_picture(phone: Page, out: Path) -> str:
    """Show the entry code and photograph the phone's screen; returns the code's text."""
    phone.evaluate("document.querySelector('#children li button').click(); true")
    text: str = phone.wait_for("document.getElementById('qr').dataset.text")
    phone.screenshot(out, full_page=True)
    return text


def _scan(home: Path, env: dict[str, str], picture: Path,
          faked: str | None = None) -> dict[str, object]:
    command = [*QATYS, "terminal", "scan", "--home", str(home), str(picture)]
    out = subprocess.run(command, capture_output=True, text=True, timeout=60,
                         env={**os.environ, **env, "TZ": "UTC",
                              **(faked_clock(faked) if faked is not None else {})})
    result: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def test_the_phone_code_opens_the_door_once_and_only_in_its_window(
        server: ServerProcess, phone: Page, child: str, door: tuple[Path, dict[str, str]],
        tmp_path: Path) -> None:
    home, env = door
    open_page(phone, server.url + "/parents/")
    phone.wait_for("document.querySelectorAll('#children li').length > 0")
    text = _code_picture(phone, tmp_path / "screen.png")
    accepted = _scan(home, env, tmp_path / "screen.png")
    assert accepted["result"] == "accepted", accepted
    assert accepted["method"] == "qr-phone"
    assert accepted["assurance"] == "high"
    assert accepted["child_id"] == child
    replayed = _scan(home, env, tmp_path / "screen.png")
    assert (replayed["result"], replayed["reason"]) == ("rejected", "replayed_code")

    need_faketime()
    window = int(text.split(":")[3])
    later = datetime.fromtimestamp((window + 3) * 30, UTC).strftime("%Y-%m-%d %H:%M:%S")
    text = _code_picture(phone, tmp_path / "screen2.png")
    late = _scan(home, env, tmp_path / "screen2.png", faked=later)
    assert (late["result"], late["reason"]) == ("rejected", "expired_code")

    run("terminal", "sync", "--home", str(home), "--quiet", env=env)
    month = time.strftime("%Y-%m", time.gmtime())
    open_page(phone, server.url + f"/parents/child/{child}?month={month}")
    receipts = phone.evaluate("[...document.querySelectorAll('code.receipt')]"
                              ".map(c => c.textContent)")
    assert accepted["receipt"] in receipts
    for path in home.rglob("*"):  # the stolen-disk rule holds for phones too
        if path.is_file():
            assert child.encode() not in path.read_bytes(), path
    phone.screenshot(artefact("parents-record-kk.png"), full_page=True)


def test_a_removed_guardians_code_is_refused(server: ServerProcess, phone: Page, child: str,
                                            door: tuple[Path, dict[str, str]],
                                            tmp_path: Path) -> None:
    home, env = door
    guardian = json.loads(run("guardian", "list", "--data", str(server.data_dir), "--child",
                              child).stdout.splitlines()[0])["guardian_id"]
    open_page(phone, server.url + "/parents/")
    phone.wait_for("document.querySelectorAll('#children li').length > 0")
    run("guardian", "remove", "--data", str(server.data_dir), "--guardian", guardian,
        "--child", child)
    run("terminal", "sync", "--home", str(home), "--quiet", env=env)
    _code_picture(phone, tmp_path / "screen.png")
    refused = _scan(home, env, tmp_path / "screen.png")
    assert (refused["result"], refused["reason"]) == ("rejected", "guardian_removed")
    # Left with no child, the guardian is signed out everywhere at once.
    assert phone.evaluate("fetch('/parents/api/me').then(r => r.status)") == 401


def test_the_invitation_qr_reads_back_the_printed_url(server: ServerProcess,
                                                       tmp_path: Path) -> None:
    import zxingcpp
    from PIL import Image

    picture = tmp_path / "invite.png"
    out = run("guardian", "invite", "--data", str(server.data_dir), "--child",
              "child-00003-x7q", "--qr", str(picture))
    url = out.stdout.strip().splitlines()[-1]
    assert "/parents/invite/" in url
    assert [r.text for r in zxingcpp.read_barcodes(Image.open(picture))] == [url]
