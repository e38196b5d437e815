"""Adults a guardian allows to collect the child, end to end: a guardian's phone (real
headless Chromium, WebCrypto key) adds a grandmother on the parents' page; her phone (the
same Chromium on another origin: its own IndexedDB key and cookies) claims the invitation;
her entry code, photographed off the screen, is accepted by a real terminal (`qatys terminal
scan`) as a departure; after the sync the office's today list and the табель's drill-down say
who brought and who collected the child; she cannot open the record, consent, month or
report pages (404); removed by the guardian, her code is refused after the next sync. The
limit, bad names and relations refused with nothing written; the director removes an adult
from the office page; the kiosk's departure screen shows the relation word.

One server, one Chromium for the module: the tests run in order and share the family."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import segno

from protocol import phone as phone_code
from server.storage import db
from terminal.capture import simulated
from terminal.capture.decoders import read_image
from terminal.capture.sources import write_clip
from terminal.kiosk.texts import both
from tests.browser import Page, artefact
from tests.helpers import (
    QATYS,
    GuardianClient,
    ServerProcess,
    add_user,
    claim_in_browser,
    claim_with_new_phone,
    enrol,
    free_port,
    guardian_client,
    invite_url,
    open_page,
    page_csrf,
    row_counts,
    run,
    server_rows,
    staff_session,
    wait_for_kiosk,
)

CHILD = "child-00015-x7q"
"""The family's child (KG1's roster); the limit and the director's removal use others."""
PASSWORD = "pickup-director-pass-7"


@pytest.fixture(scope="module")
def server(sqlite_server: ServerProcess) -> ServerProcess:
    """SQLite only: the bindings' storage runs on PostgreSQL in test_migrations and the
    guardian tests; one browser run is enough here."""
    return sqlite_server


@dataclass
class Family:
    browser: Page
    guardian_base: str
    """The guardian's phone: the server under http://localhost:<port> (its own origin)."""
    grandmother_base: str
    """The grandmother's phone: the server under http://127.0.0.1:<port>."""
    code: str = ""
    """The grandmother's invitation code, as the guardian's page showed it."""


@pytest.fixture(scope="module")
def family(server: ServerProcess, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[Family]:
    page = Page(tmp_path_factory.mktemp("phones") / "profile")
    try:
        yield Family(page, server.url.replace("127.0.0.1", "localhost"), server.url)
    finally:
        page.close()


def _door_ready(home: Path) -> None:
    """Arrival and departure a moment apart count as two passages (the test's own rules)."""
    config = home / "terminal.toml"
    text = re.sub(r"(?m)^dedupe_window_seconds = .*$", "dedupe_window_seconds = 0",
                  config.read_text(encoding="utf-8"))
    text = re.sub(r"(?m)^departure_gap_minutes = .*$", "departure_gap_minutes = 0", text)
    config.write_text(text, encoding="utf-8")


@pytest.fixture(scope="module")
def door(server: ServerProcess, tmp_path_factory: pytest.TempPathFactory
         ) -> tuple[Path, dict[str, str]]:
    base = tmp_path_factory.mktemp("door")
    env = {"QATYS_RUNTIME_DIR": str(base / "run")}
    enrol(server, base / "home", env)
    _door_ready(base / "home")
    return base / "home", env


def _scan(home: Path, env: dict[str, str], picture: Path) -> dict[str, object]:
    out = subprocess.run([*QATYS, "terminal", "scan", "--home", str(home), str(picture)],
                         capture_output=True, text=True, timeout=60,
                         env={**os.environ, **env, "TZ": "UTC"})
    result: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def _sync(home: Path, env: dict[str, str]) -> None:
    run("terminal", "sync", "--home", str(home), "--quiet", env=env)


def _me(page: Page) -> dict[str, object]:
    me: dict[str, object] = page.evaluate("fetch('/parents/api/me').then(r => r.json())")
    return me


def _code_picture(page: Page, out: Path) -> str:
    page.wait_for("document.querySelectorAll('#children li').length > 0")
    page.evaluate("document.querySelector('#children li button').click(); true")
    text: str = page.wait_for("document.getElementById('qr').dataset.text")
    page.screenshot(out, full_page=True)
    return text


def _guardian_code(client: GuardianClient, base: str, out: Path) -> Path:
    """The guardian's own entry code (their Python phone), as a picture of a QR."""
    me = client.http.get(base + "/parents/api/me", timeout=10).json()
    mine = next(c for c in me["children"] if c["child_id"] == CHILD)
    window = phone_code.window_at(time.time())
    signature = client.phone.sign(phone_code.code_message(client.phone.key_id, CHILD, window))
    text = (f"QP1:{client.phone.key_id}:{CHILD}:{window}:{mine['serial']}:{mine['binding']}:"
            f"{phone_code.b64url(signature)}")
    segno.make(text, error="m").save(str(out), scale=8, border=4)
    return out


def test_a_guardian_adds_a_grandmother_on_the_page_and_her_phone_claims_it(
        server: ServerProcess, family: Family) -> None:
    page = family.browser
    claim_in_browser(page, invite_url(server, CHILD).replace(server.url, family.guardian_base))
    page.wait_for("document.querySelector('.pickup-form') !== null")
    page.evaluate("document.querySelector('.pickup-name').value = 'Айгүл';"
                  "document.querySelector('.pickup-relation').value = 'grandmother';"
                  "document.querySelector('.pickup-add').click(); true")
    family.code = page.wait_for("document.querySelector('.pickup-invitation').dataset.code")
    link = page.evaluate("document.querySelector('.pickup-link').href")
    assert link == f"{family.guardian_base}/parents/invite/{family.code}"
    invitation = [r for r in server_rows(server, db.guardian_invitations)
                  if r.kind == "pickup"]
    assert [(r.first_name, r.relation, r.child_id) for r in invitation] == [
        ("Айгүл", "grandmother", CHILD)]
    guardian = _me(page)["guardian_id"]
    assert invitation[0].created_by == f"guardian:{guardian}"
    page.screenshot(artefact("pickup-guardian-kk.png"), full_page=True)

    claim_in_browser(page, f"{family.grandmother_base}/parents/invite/{family.code}")
    me = _me(page)
    [child] = me["children"]  # type: ignore[misc]
    assert child["kind"] == "pickup"
    assert child["relation"] == "grandmother"
    assert "consent" not in child
    assert "pickup" not in child
    assert child["today"] == "expected"
    assert page.evaluate("document.querySelector('#children li a') === null")  # no record
    binding = next(r for r in server_rows(server, db.guardian_children)
                   if r.guardian_id == me["guardian_id"])
    assert (binding.kind, binding.first_name, binding.relation, binding.added_by) == (
        "pickup", "Айгүл", "grandmother", guardian)
    listed = [json.loads(line) for line in run(
        "guardian", "list", "--data", str(server.data_dir), "--child", CHILD).stdout.splitlines()]
    assert [(x["kind"], x.get("relation")) for x in listed] == [
        ("guardian", None), ("pickup", "grandmother")]
    page.screenshot(artefact("pickup-grandmother-kk.png"), full_page=True)
    _door_asked_with_and_without_pickup(server, str(me["guardian_id"]), binding.serial)


def _door_asked_with_and_without_pickup(server: ServerProcess, adult: str,
                                        serial: str) -> None:
    """An older terminal (no ?pickup=1) gets keys as before; a new one her relation only."""
    from datetime import date

    from protocol import canonical, cards
    from server.datadir import open_data_dir
    from server.registry.cards import door_credentials

    engine = open_data_dir(server.data_dir).engine
    key_of = {r.guardian_id: r.key_id for r in server_rows(server, db.guardians)}
    with engine.connect() as conn:
        older = door_credentials(conn, "KG1", date.today(), 1)
        newer = door_credentials(conn, "KG1", date.today(), 1, with_pickup=True)
    engine.dispose()
    raw, _ = cards.sign_door(older, bytes(32))
    assert all(set(k) == {"id", "spki"}
               for k in canonical.decode_map(raw, "door")["phone_keys"])
    theirs = newer.phone_key(key_of[adult])
    assert theirs is not None
    assert theirs.pickup == ((serial, "grandmother"),)
    raw, _ = cards.sign_door(newer, bytes(32))
    assert "Айгүл".encode() not in raw
    assert CHILD.encode() not in raw


def test_her_pages_are_the_entry_code_and_today_only(server: ServerProcess,
                                                     family: Family) -> None:
    page = family.browser
    open_page(page, family.grandmother_base + "/parents/")
    for path in (f"/parents/child/{CHILD}", f"/parents/child/{CHILD}?month=2026-01"):
        open_page(page, family.grandmother_base + path)
        assert page.evaluate("document.getElementById('missing') !== null"), path
    before = row_counts(server, db.consent_records, db.month_confirmations,
                        db.absence_reports, db.guardian_invitations)
    posts = {
        "/parents/api/consent": {"child_id": CHILD, "action": "grant", "until": "2027-01-01",
                                 "signed_at_ms": 1, "signature": "AA=="},
        "/parents/api/month": {"child_id": CHILD, "month": "2026-01", "kind": "confirm"},
        "/parents/api/pickup": {"child_id": CHILD, "first_name": "Сәуле",
                                "relation": "aunt"},
        "/parents/api/pickup/remove": {"child_id": CHILD, "adult": "G-0"},
    }
    for path, body in posts.items():
        status = page.evaluate(
            "fetch('/parents/api/me').then(r => r.json()).then(me => fetch("
            f"{json.dumps(path)}, {{method: 'POST', headers: {{'Content-Type': "
            "'application/json', 'X-Qatys-CSRF': me.csrf}, body: JSON.stringify("
            f"{json.dumps(body)})}})).then(r => r.status)")
        assert status == 404, path
    report = page.evaluate(
        "fetch('/parents/api/me').then(r => r.json()).then(me => { const f = new FormData();"
        f"f.append('child_id', {json.dumps(CHILD)}); f.append('first_day', '2026-01-05');"
        "f.append('last_day', '2026-01-05'); f.append('reason', 'illness');"
        "return fetch('/parents/api/absence-report', {method: 'POST', headers: "
        "{'X-Qatys-CSRF': me.csrf}, body: f}); }).then(r => r.status)")
    assert report == 404
    assert row_counts(server, db.consent_records, db.month_confirmations,
                      db.absence_reports, db.guardian_invitations) == before


def test_her_code_collects_the_child_and_the_pages_say_who(
        server: ServerProcess, family: Family, door: tuple[Path, dict[str, str]],
        tmp_path: Path) -> None:
    home, env = door
    father = guardian_client(server, CHILD)
    _sync(home, env)  # the terminal learns the phones (and her relation, no name)
    stored = b"".join(p.read_bytes() for p in home.rglob("*") if p.is_file())
    assert "Айгүл".encode() not in stored
    arrival = _scan(home, env, _guardian_code(father, server.url, tmp_path / "father.png"))
    assert (arrival["result"], arrival["direction"]) == ("accepted", "in"), arrival
    page = family.browser
    open_page(page, family.grandmother_base + "/parents/")
    _code_picture(page, tmp_path / "grandmother.png")
    departure = _scan(home, env, tmp_path / "grandmother.png")
    assert (departure["result"], departure["direction"], departure["method"]) == (
        "accepted", "out", "qr-phone"), departure
    _sync(home, env)

    open_page(page, family.grandmother_base + "/parents/")
    page.wait_for("document.querySelector('.today-state') !== null")
    assert page.evaluate("document.querySelector('.today-state').dataset.state") == "left"

    add_user(server, "pickup-dir", "director", PASSWORD, "KG1")
    office = staff_session(server.url, "pickup-dir", PASSWORD)
    rows = office.get(server.url + "/office/today/rows", timeout=10).text
    row = next(line for line in rows.split("<tr ") if f'data-child="{CHILD}"' in line)
    assert 'data-brought-by="guardian"' in row
    assert 'data-collected-by="pickup:grandmother"' in row
    assert "Айгүл" in row
    month = time.strftime("%Y-%m", time.gmtime(time.time() + 5 * 3600))
    drill = office.get(f"{server.url}/finance/k/KG1/{month}/child/{CHILD}", timeout=60)
    assert drill.status_code == 200, drill.text[:500]
    assert 'data-collected-by="pickup:grandmother"' in drill.text
    assert 'data-brought-by="guardian"' in drill.text
    record = father.http.get(f"{server.url}/parents/child/{CHILD}", timeout=10).text
    assert 'data-by="pickup:grandmother"' in record
    assert "Айгүл" in record


def test_the_kiosk_shows_her_relation_on_the_departure(
        server: ServerProcess, family: Family, tmp_path: Path) -> None:
    env = {"QATYS_RUNTIME_DIR": str(tmp_path / "run")}
    home = tmp_path / "kiosk"
    enrol(server, home, env)
    _door_ready(home)
    _sync(home, env)
    run("terminal", "checkin", "--home", str(home), "--child", CHILD, "--manual", "--reason",
        "test arrival", env=env)
    page = family.browser
    open_page(page, family.grandmother_base + "/parents/")
    # a fresh window: the code stays valid while the kiosk starts and the clip plays
    time.sleep(30 - time.time() % 30 + 0.5)
    _code_picture(page, tmp_path / "code.png")
    rng = np.random.default_rng(5)
    frames = [simulated.empty_frame(rng) for _ in range(30)]
    frames += simulated.door_clip([read_image(str(tmp_path / "code.png"))], rng,
                                  idle_frames=5)
    clip = write_clip(frames, tmp_path / "door.avi")
    port = free_port()
    process = subprocess.Popen([*QATYS, "terminal", "run", "--home", str(home), "--clip",
                                str(clip), "--port", str(port)], env={**os.environ, **env},
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for_kiosk(url)
        page.goto(url + "/?lang=kk")
        page.wait_for("document.getElementById('result').className === 'green'", timeout=60)
        assert page.evaluate("document.getElementById('result-relation').textContent") \
            == both("grandmother")["kk"]
        assert page.evaluate("document.getElementById('result-name').textContent") != ""
        page.screenshot(artefact("pickup-kiosk-kk.png"))
    finally:
        process.terminate()
        assert process.wait(timeout=15) == 0


def test_the_limit_and_bad_inputs_are_refused_with_nothing_written(
        server: ServerProcess) -> None:
    child = "child-00016-x7q"
    mother = guardian_client(server, child)
    for number in range(6):
        answer = mother.post(server.url, "/parents/api/pickup", {
            "child_id": child, "first_name": f"Adult{'abcdef'[number]}", "relation": "nanny"})
        assert answer.status_code == 200, answer.text
        assert answer.json()["invitation"]["url"].startswith("/parents/invite/")
    before = row_counts(server, db.guardian_invitations, db.guardian_children)
    for body, status, code in [
        ({"first_name": "Seventh", "relation": "aunt"}, 409, "pickup_limit"),
    ]:
        answer = mother.post(server.url, "/parents/api/pickup", {"child_id": child, **body})
        assert (answer.status_code, answer.json()["error"]["code"]) == (status, code)
        assert "6" in answer.json()["error"]["message"]
    other = "child-00017-x7q"
    father = guardian_client(server, other)
    before = row_counts(server, db.guardian_invitations, db.guardian_children)
    for body, code in [
        ({"first_name": "", "relation": "aunt"}, "bad_first_name"),
        ({"first_name": "A" * 101, "relation": "aunt"}, "bad_first_name"),
        ({"first_name": "Bob2", "relation": "aunt"}, "bad_first_name"),
        ({"first_name": "Bob\u0007", "relation": "aunt"}, "bad_first_name"),
        ({"first_name": "Bob", "relation": "cousin"}, "bad_relation"),
        ({"first_name": "Bob", "relation": "GRANDMOTHER "}, "bad_relation"),
    ]:
        answer = father.post(server.url, "/parents/api/pickup", {"child_id": other, **body})
        assert (answer.status_code, answer.json()["error"]["code"]) == (400, code), body
    answer = father.post(server.url, "/parents/api/pickup", {
        "child_id": child, "first_name": "Bob", "relation": "aunt"})  # not his child
    assert answer.status_code == 404
    assert row_counts(server, db.guardian_invitations, db.guardian_children) == before


def test_the_director_removes_an_adult_from_the_office_page(server: ServerProcess) -> None:
    child = "child-00018-x7q"
    mother = guardian_client(server, child)
    code = mother.post(server.url, "/parents/api/pickup", {
        "child_id": child, "first_name": "Нұрлан", "relation": "uncle"}).json()["invitation"][
        "code"]
    uncle = claim_with_new_phone(server, code)
    office = staff_session(server.url, "pickup-dir", PASSWORD)
    listed = office.get(f"{server.url}/office/guardians?child={child}", timeout=10).text
    assert f'data-guardian="{uncle.guardian_id}" data-state="bound" data-kind="pickup"' in listed
    assert "Нұрлан" in listed
    answer = office.post(server.url + "/office/guardians/remove", allow_redirects=False,
                         data={"csrf": page_csrf(listed), "child": child,
                               "guardian": uncle.guardian_id}, timeout=10)
    assert answer.status_code == 303, answer.text[:500]
    assert uncle.http.get(server.url + "/parents/api/me", timeout=10).status_code == 401
    trail = [r.action for r in server_rows(server, db.audit_trail) if r.subject == child]
    assert trail == ["pickup_removed"]
    me = mother.http.get(server.url + "/parents/api/me", timeout=10).json()
    assert me["children"][0]["pickup"] == []


def test_removed_by_the_guardian_her_code_is_refused_at_the_next_sync(
        server: ServerProcess, family: Family, door: tuple[Path, dict[str, str]],
        tmp_path: Path) -> None:
    home, env = door
    page = family.browser
    open_page(page, family.grandmother_base + "/parents/")
    # a code taken before she was removed: valid for its window and the next (≥ 30 s)
    _code_picture(page, tmp_path / "removed.png")
    open_page(page, family.guardian_base + "/parents/")
    page.wait_for("document.querySelector('.pickup-remove') !== null")
    page.evaluate("document.querySelector('.pickup-remove').click(); true")
    page.wait_for("document.querySelector('.pickup-form') !== null && "
                  "document.querySelector('.pickup-remove') === null")
    removed = [r for r in server_rows(server, db.guardian_children)
               if r.child_id == CHILD and r.kind == "pickup"]
    assert [r.removed_at_us is not None for r in removed] == [True]
    assert str(removed[0].removed_by).startswith("guardian:")
    open_page(page, family.grandmother_base + "/parents/")  # her pages: the child gone now
    assert page.wait_for("fetch('/parents/api/me').then(r => r.ok ? r.json().then("
                         "me => me.children.length === 0) : false)")
    _sync(home, env)
    refused = _scan(home, env, tmp_path / "removed.png")
    assert (refused["result"], refused["reason"]) == ("rejected", "guardian_removed"), refused


def test_door_credentials_carry_relations_only_for_pickup_keys_and_read_without_them(
        ) -> None:
    """The protocol's compatibility: a guardian's key is encoded as before pickup adults (an
    older terminal, which refuses unknown fields, reads it), a pickup key's relations travel
    only when present, and credentials without them (an older server's) read as no relation."""
    from protocol import canonical, cards, crypto
    from tests.helpers import Phone

    seed = bytes(range(32))
    mother, grandmother = Phone(), Phone()
    plain = cards.DoorCredentials("KG1", (crypto.signing_public_key(seed),), frozenset(), 1,
                                  (cards.PhoneKey(mother.key_id, mother.spki),))
    raw, _ = cards.sign_door(plain, seed)
    assert set(canonical.decode_map(raw, "door")["phone_keys"][0]) == {"id", "spki"}
    with_pickup = cards.DoorCredentials("KG1", plain.card_keys, frozenset(), 2, (
        cards.PhoneKey(mother.key_id, mother.spki),
        cards.PhoneKey(grandmother.key_id, grandmother.spki,
                       (("AAAABBBB", "grandmother"), ("CCCCDDDD", "zz-new-relation")))))
    raw, signature = cards.sign_door(with_pickup, seed)
    read = cards.verify_door(raw, signature, crypto.signing_public_key(seed))
    key = read.phone_key(grandmother.key_id)
    assert key is not None
    assert (key.relation_of("AAAABBBB"), key.relation_of("CCCCDDDD"),
            key.relation_of("EEEEFFFF")) == ("grandmother", "zz-new-relation", "")
    assert read.phone_key(mother.key_id) == cards.PhoneKey(mother.key_id, mother.spki)
