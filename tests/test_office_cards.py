"""The office's cards, paper consent forms and guardians, through the real server: a group's
sheet printed from the browser whose QR codes the real decoders read as valid cards, a card
revoked on the page that a terminal refuses after its sync, a paper consent with its scan in
the ledger (and in ``qatys consent list``), an invitation the parents' claim accepts, a
removal that ends the guardian's session; every refusal leaves the database as it was."""

from __future__ import annotations

import base64
import json
import subprocess
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
import segno

from protocol import cards
from qatys.timeutil import local_date, now_us
from server.datadir import open_data_dir
from server.families.guardians import claim_message
from server.registry.cards import door_credentials
from server.storage import db
from terminal.capture.decoders import default_reader, read_image
from tests.browser import Page, artefact
from tests.helpers import (
    Phone,
    ServerProcess,
    add_user,
    browser_login,
    enrol,
    open_page,
    page_csrf,
    row_counts,
    run,
    server_rows,
    staff_session,
    submit_form,
)

PASSWORD = "cards-office-pw-1"
CHILD = "child-00001-x7q"
PNG = (b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02"
       b"\x00\x00\x00\x90wS\xde\x00\x00\x00\x0cIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05"
       b"\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82")
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


@pytest.fixture(scope="module")
def office(server: ServerProcess) -> ServerProcess:
    add_user(server, "cards-dir1", "director", PASSWORD, "KG1")
    add_user(server, "cards-dir2", "director", PASSWORD, "KG2")
    add_user(server, "cards-teacher", "teacher", PASSWORD, "KG1", groups=["Group A"])
    return server


def _counts(server: ServerProcess) -> dict[str, int]:
    return row_counts(server, db.cards, db.consent_records, db.documents, db.audit_trail,
                      db.guardian_invitations, db.guardian_children, db.face_templates)


def _session(server: ServerProcess, username: str, path: str) -> tuple[requests.Session, str]:
    session = staff_session(server.url, username, PASSWORD)
    page = session.get(server.url + path, timeout=10)
    assert page.status_code == 200, page.text
    return session, page_csrf(page.text)


def _post(session: requests.Session, url: str, csrf: str, files: Any = None,
          **fields: str) -> requests.Response:
    return session.post(url, data={"csrf": csrf, **fields}, files=files, timeout=60,
                        allow_redirects=False)


def _refused(answer: requests.Response, status: int, code: str) -> None:
    assert answer.status_code == status, (code, answer.status_code, answer.text[:2000])
    assert f'data-code="{code}"' in answer.text, (code, answer.text[:2000])


def _decoded(pdf: Path, out: Path) -> list[str]:
    """Every QR code on the pages of a printed PDF, read by the terminal's real decoders."""
    subprocess.run(["pdftoppm", "-r", "200", "-png", str(pdf), str(out / "page")],
                   check=True, timeout=120)
    reader, found = default_reader(), []
    for page in sorted(out.glob("page-*.png")):
        gray = read_image(str(page))
        h, w = gray.shape
        if h < w * 1.2:  # one card on a card-sized page
            found += reader.read(gray)
            continue
        for row in range(5):  # an A4 sheet, cut along its card grid
            for column in range(2):
                top, left = int(h * (13.5 + row * 54) / 297), int(w * (19.4 + column * 85.6) / 210)
                found += reader.read(gray[top:top + int(h * 54 / 297),
                                          left:left + int(w * 85.6 / 210)])
    return found


def _door(server: ServerProcess) -> cards.DoorCredentials:
    engine = open_data_dir(server.data_dir).engine
    try:
        with engine.connect() as conn:
            now = now_us()
            return door_credentials(conn, "KG1", local_date(now), now)
    finally:
        engine.dispose()


def _scan(home: Path, env: dict[str, str], image: Path) -> dict[str, Any]:
    out = run("terminal", "scan", "--home", str(home), str(image), env=env, check=False)
    line: dict[str, Any] = json.loads(out.stdout.splitlines()[0])
    return line


def test_a_group_sheet_decodes_to_valid_cards_and_a_revoked_card_is_refused_at_the_door(
        office: ServerProcess, tmp_path: Path, runtime_env: dict[str, str]) -> None:
    base = office.url
    session, csrf = _session(office, "cards-dir1", "/office/cards")
    answer = _post(session, base + "/office/cards/print", csrf, group="Group A")
    assert answer.status_code == 200, answer.text[:2000]
    assert answer.headers["Content-Type"] == "application/pdf"
    assert answer.headers["Content-Disposition"].startswith("attachment;")
    assert answer.content.startswith(b"%PDF")
    (tmp_path / "sheet").mkdir()
    (tmp_path / "sheet" / "sheet.pdf").write_bytes(answer.content)
    texts = _decoded(tmp_path / "sheet" / "sheet.pdf", tmp_path / "sheet")
    door, today = _door(office), local_date(now_us())
    valid = [cards.verify_card(text, door, today) for text in texts]
    assert {c.child_id for c in valid} == {f"child-{i:05d}-x7q" for i in range(20)}
    assert {c.serial for c in valid} == set(answer.headers["X-Qatys-Serials"].split())

    one = _post(session, base + "/office/cards/print", csrf, child=CHILD)
    assert one.status_code == 200
    assert one.headers["Content-Type"] == "application/pdf"
    (tmp_path / "one").mkdir()
    (tmp_path / "one" / "card.pdf").write_bytes(one.content)
    [text] = _decoded(tmp_path / "one" / "card.pdf", tmp_path / "one")
    card = cards.verify_card(text, _door(office), today)
    assert card.child_id == CHILD
    assert card.serial == one.headers["X-Qatys-Serials"]
    listed = session.get(base + "/office/cards", timeout=10).text
    assert f'data-serial="{card.serial}" data-state="valid"' in listed
    assert listed.count('data-state="valid"') >= 21

    home = tmp_path / "door"
    enrol(office, home, runtime_env)
    picture = tmp_path / "card.png"
    segno.make(text, error="m").save(str(picture), scale=6, border=4)
    assert _scan(home, runtime_env, picture)["result"] == "accepted"
    revoked = _post(session, base + "/office/cards/revoke", csrf, serial=card.serial.lower(),
                    reason="lost on the bus")
    assert revoked.status_code == 303
    listed = session.get(base + revoked.headers["Location"], timeout=10).text
    assert f'data-serial="{card.serial}" data-state="revoked"' in listed
    assert "lost on the bus" in listed
    assert 'id="done"' in listed
    run("terminal", "sync", "--home", str(home), env=runtime_env)
    refused = _scan(home, runtime_env, picture)
    assert (refused["result"], refused["reason"]) == ("rejected", "revoked_card")

    trail = [(r.action, json.loads(r.detail)) for r in server_rows(office, db.audit_trail)
             if r.username == "cards-dir1"]
    issued = [d for a, d in trail if a == "card_issued"]
    assert sorted(len(d["serials"]) for d in issued) == [1, 20]
    assert ("card_revoked", card.serial) in [(a, d.get("serial")) for a, d in trail]


def test_every_card_refusal_changes_nothing(office: ServerProcess) -> None:
    base = office.url
    session, csrf = _session(office, "cards-dir1", "/office/cards")
    printed = _post(session, base + "/office/cards/print", csrf, child="child-00002-x7q")
    serial = printed.headers["X-Qatys-Serials"]
    assert _post(session, base + "/office/cards/revoke", csrf, serial=serial,
                 reason="broken").status_code == 303
    other, other_csrf = _session(office, "cards-dir2", "/office/cards")
    before = _counts(office)
    for who, token, path, fields, status, code in [
        (session, csrf, "print", {"child": CHILD, "group": "Group A"}, 400, "bad_form"),
        (session, csrf, "print", {}, 400, "bad_form"),
        (session, csrf, "print", {"child": "child-99999-x7q"}, 404, "unknown_child"),
        (session, csrf, "print", {"group": "Group Z"}, 404, "unknown_group"),
        (other, other_csrf, "print", {"child": CHILD}, 403, "not_your_child"),
        (session, csrf, "revoke", {"serial": "ZZZZZZZZ", "reason": "lost"}, 404,
         "unknown_record"),
        (session, csrf, "revoke", {"serial": serial, "reason": " "}, 400, "bad_form"),
        (session, csrf, "revoke", {"serial": serial, "reason": "x" * 201}, 400, "bad_form"),
        (session, csrf, "revoke", {"serial": serial, "reason": "lost"}, 409, "already_revoked"),
        (other, other_csrf, "revoke", {"serial": serial, "reason": "lost"}, 403,
         "not_your_child"),
    ]:
        _refused(_post(who, f"{base}/office/cards/{path}", token, **fields), status, code)
    assert _post(session, base + "/office/cards/revoke", "wrong", serial=serial,
                 reason="lost").status_code == 400  # no CSRF token: nothing happens
    teacher = staff_session(base, "cards-teacher", PASSWORD)
    assert teacher.get(base + "/office/cards", timeout=10).status_code == 403
    assert teacher.get(base + "/office/consent", timeout=10).status_code == 403
    assert teacher.get(base + "/office/guardians", timeout=10).status_code == 403
    assert _counts(office) == before


def _consent_list(server: ServerProcess) -> dict[str, dict[str, Any]]:
    out = run("consent", "list", "--data", str(server.data_dir), "--kindergarten", "KG1")
    return {s["child_id"]: s for s in json.loads(out.stdout)}


def test_a_paper_consent_with_its_scan_is_in_the_ledger_and_every_refusal_changes_nothing(
        office: ServerProcess) -> None:
    base, child = office.url, "child-00005-x7q"
    session, csrf = _session(office, "cards-dir1", "/office/consent")
    until = (date.today() + timedelta(days=200)).isoformat()
    granted = _post(session, base + "/office/consent/paper", csrf,
                    files={"scan": ("form.png", PNG, "image/png")}, child=child,
                    action="grant", reference="Form 17 of 2026-04-01", until=until)
    assert granted.status_code == 303, granted.text[:2000]
    ledger = session.get(base + granted.headers["Location"], timeout=10).text
    assert 'data-action="grant"' in ledger
    assert "Form 17 of 2026-04-01" in ledger
    listed = _consent_list(office)[child]
    assert (listed["status"], listed["until"], listed["source"]) == ("granted", until, "paper")
    scan = session.get(f"{base}/office/consent/scan/{listed['record']}", timeout=10)
    assert scan.status_code == 200
    assert scan.content == PNG
    assert scan.headers["Content-Type"] == "image/png"
    other = staff_session(base, "cards-dir2", PASSWORD)
    assert other.get(f"{base}/office/consent/scan/{listed['record']}",
                     timeout=10).status_code == 404

    before = _counts(office)
    other_csrf = page_csrf(other.get(base + "/office/consent", timeout=10).text)
    form = {"child": child, "action": "grant", "reference": "Form 18", "until": until}
    png = {"scan": ("form.png", PNG, "image/png")}
    for who, token, fields, files, status, code in [
        (session, csrf, {**form, "child": "child-99999-x7q"}, png, 404, "unknown_child"),
        (other, other_csrf, form, png, 403, "not_your_child"),
        (session, csrf, {**form, "reference": "  "}, png, 400, "reference_missing"),
        (session, csrf, {**form, "reference": "r" * 201}, png, 400, "bad_form"),
        (session, csrf, {**form, "action": "extend"}, png, 400, "bad_form"),
        (session, csrf, {**form, "until": (date.today() - timedelta(days=1)).isoformat()}, png,
         400, "bad_consent_period"),
        (session, csrf, {**form, "until": (date.today() + timedelta(days=400)).isoformat()},
         png, 400, "bad_consent_period"),
        (session, csrf, {**form, "until": "next spring"}, png, 400, "bad_form"),
        (session, csrf, form, {"scan": ("form.png", b"GIF89a not a form", "image/png")}, 415,
         "document_type"),
        (session, csrf, form, {"scan": ("big.pdf", b"%PDF-" + b"0" * (10 * 1024 * 1024),
                                        "application/pdf")}, 413, "document_too_large"),
        (session, csrf, form, None, 400, "document_missing"),
        (session, csrf, {**form, "child": "child-00006-x7q", "action": "withdraw"}, png, 409,
         "nothing_to_withdraw"),
    ]:
        _refused(_post(who, base + "/office/consent/paper", token, files=files, **fields),
                 status, code)
    assert _counts(office) == before

    withdrawn = _post(session, base + "/office/consent/paper", csrf,
                      files={"scan": ("withdrawal.pdf", PDF, "application/pdf")}, child=child,
                      action="withdraw", reference="Withdrawal 3")
    assert withdrawn.status_code == 303, withdrawn.text[:2000]
    ledger = session.get(base + withdrawn.headers["Location"], timeout=10).text
    assert ledger.count('data-action="') == 2
    assert 'data-action="withdraw"' in ledger
    listed = _consent_list(office)[child]
    assert (listed["status"], listed["source"]) == ("withdrawn", "paper")
    scan = session.get(f"{base}/office/consent/scan/{listed['record']}", timeout=10)
    assert scan.content == PDF
    assert scan.headers["Content-Type"] == "application/pdf"
    trail = [(r.action, r.subject) for r in server_rows(office, db.audit_trail)]
    assert trail.count(("consent_recorded", child)) == 2
    assert sum(1 for a, _ in trail if a == "document_shown") >= 2


def test_an_invitation_is_claimed_and_a_removal_ends_the_guardians_session(
        office: ServerProcess) -> None:
    base, child = office.url, "child-00007-x7q"
    session, csrf = _session(office, "cards-dir1", "/office/guardians")
    invited = _post(session, base + "/office/guardians/invite", csrf, child=child)
    assert invited.status_code == 200, invited.text[:2000]
    assert 'id="invitation-qr"' in invited.text
    code = invited.text.split('id="invitation-code">', 1)[1].split("<", 1)[0]
    assert f"/parents/invite/{code}" in invited.text
    listed = session.get(f"{base}/office/guardians?child={child}", timeout=10).text
    assert listed.count('class="pending"') == 1

    phone, parent = Phone(), requests.Session()
    claimed = parent.post(base + "/parents/api/claim", timeout=10, json={
        "code": code, "public_key": base64.b64encode(phone.spki).decode(),
        "proof": base64.b64encode(phone.sign(claim_message(code))).decode()})
    assert claimed.status_code == 200, claimed.text
    guardian = claimed.json()["guardian_id"]
    me = parent.get(base + "/parents/api/me", timeout=10)
    assert me.status_code == 200
    assert child in me.text
    listed = session.get(f"{base}/office/guardians?child={child}", timeout=10).text
    assert f'data-guardian="{guardian}" data-state="bound"' in listed
    assert 'class="pending"' not in listed

    other, other_csrf = _session(office, "cards-dir2", "/office/guardians")
    before = _counts(office)
    for who, token, path, fields, status, code_ in [
        (other, other_csrf, "invite", {"child": child}, 403, "not_your_child"),
        (session, csrf, "invite", {"child": "child-99999-x7q"}, 404, "unknown_child"),
        (other, other_csrf, "remove", {"child": child, "guardian": guardian}, 403,
         "not_your_child"),
        (session, csrf, "remove", {"child": "child-00008-x7q", "guardian": guardian}, 404,
         "not_bound"),
    ]:
        _refused(_post(who, f"{base}/office/guardians/{path}", token, **fields), status, code_)
    assert _counts(office) == before

    removed = _post(session, base + "/office/guardians/remove", csrf, child=child,
                    guardian=guardian)
    assert removed.status_code == 303
    listed = session.get(base + removed.headers["Location"], timeout=10).text
    assert f'data-guardian="{guardian}" data-state="removed"' in listed
    assert parent.get(base + "/parents/api/me", timeout=10).status_code == 401
    _refused(_post(session, base + "/office/guardians/remove", csrf, child=child,
                   guardian=guardian), 404, "not_bound")
    trail = [r.action for r in server_rows(office, db.audit_trail) if r.subject == child]
    assert trail == ["guardian_invited", "guardian_removed"]


def test_a_director_revokes_a_card_and_records_a_paper_form_in_the_browser(
        sqlite_server: ServerProcess, tmp_path: Path) -> None:
    server, base = sqlite_server, sqlite_server.url
    add_user(server, "cards-browser", "director", PASSWORD, "KG1")
    serial = run("card", "issue", "--data", str(server.data_dir), "--child", CHILD, "--out",
                 str(tmp_path / "card.pdf")).stdout.strip().splitlines()[-1]
    (tmp_path / "form.png").write_bytes(PNG)
    page = Page(tmp_path / "profile")
    try:
        browser_login(page, base, "cards-browser", PASSWORD)
        open_page(page, base + "/office/cards?lang=ru")
        assert page.evaluate("document.getElementById('nav-cards') !== null")
        page.evaluate(f"document.querySelector('#card-revoke [name=serial]').value = "
                      f"{json.dumps(serial)}; true")
        submit_form(page, "#card-revoke")  # no reason: refused, in Russian
        assert page.evaluate("document.getElementById('problem').dataset.code") == "bad_form"
        assert page.evaluate("document.documentElement.lang") == "ru"
        page.screenshot(artefact("office-card-revoke-refused.png"), full_page=True)
        page.evaluate("document.querySelector('#card-revoke [name=reason]').value = "
                      "'потеряна'; true")
        submit_form(page, "#card-revoke")
        assert page.evaluate(f"document.querySelector('tr[data-serial=\"{serial}\"]')"
                             ".dataset.state") == "revoked"
        page.screenshot(artefact("office-card-revoked.png"), full_page=True)

        open_page(page, base + "/office/consent")
        page.evaluate(f"document.querySelector('#consent-paper [name=child]').value = "
                      f"{json.dumps(CHILD)};"
                      "document.querySelector('#consent-paper [name=reference]').value = "
                      "'Өтініш 5'; true")
        page.set_files("#consent-paper [name=scan]", tmp_path / "form.png")
        submit_form(page, "#consent-paper")
        assert page.evaluate("document.getElementById('done') !== null")
        assert page.evaluate("document.querySelectorAll('#ledger tr[data-action=grant]')"
                             ".length") == 1
        page.screenshot(artefact("office-consent-recorded.png"), full_page=True)
        link = page.evaluate("document.querySelector('#ledger a.scan').href")
        opened = page.evaluate(f"fetch({json.dumps(link)}).then(r => r.headers.get("
                               "'Content-Type'))")
        assert opened == "image/png"
    finally:
        page.close()
    assert _consent_list(server)[CHILD]["status"] == "granted"
