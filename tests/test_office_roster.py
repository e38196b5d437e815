"""The office's roster, terminals, accounts and audit trail pages, through a real server
(SQLite and PostgreSQL for the data parts): a Windows-1251 ``;``-separated roster imports
from the page and the history shows what it changed; a roster with bad lines names each and
imports nothing; an operator makes a director of a district kindergarten and is refused
another district's; a director makes a teacher with groups, who then sees only them; every
refusal leaves the tables as they were; the audit trail lists the actions. On SQLite: an
operator makes an enrolment code on the page, the QR drawn from the page's SVG is shown to
a new terminal's camera at first boot (``qatys terminal run``) and enrols it; revoked from
the page, the terminal is refused at its next sync. One Chromium session for the page."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import requests

from provisioning.iin import generated
from server.storage import db
from terminal.capture import simulated
from terminal.capture.decoders import read_image
from terminal.capture.sources import write_clip
from tests.browser import Page, artefact, chromium
from tests.helpers import (
    HEADER,
    QATYS,
    ServerProcess,
    add_user,
    browser_login,
    free_port,
    open_page,
    page_csrf,
    qr_svg_png,
    roster_csv,
    row_counts,
    run,
    server_rows,
    staff_session,
    submit_form,
)

PASSWORD = "office-password-1"
NEW_GROUP = "Ромашка"
NEW_IINS = list(zip(range(3), generated("1905205"), strict=False))
"""Three new children born 2019-05-20 (the IINs begin 190520 and the century digit 5)."""


def counts(server: ServerProcess) -> dict[str, int]:
    """Rows of what the roster and account forms write."""
    return row_counts(server, db.children, db.roster_imports, db.users, db.user_groups,
                      db.audit_trail)


rows_of = server_rows


@pytest.fixture(scope="module")
def office(server: ServerProcess) -> ServerProcess:
    """KG1 (20 children) with its director; KG3 in district North with its operator; KG4 in
    district South."""
    data = str(server.data_dir)
    run("kindergarten", "add", "--data", data, "--code", "KG3", "--name", "Балабақша 3",
        "--district", "North")
    run("kindergarten", "add", "--data", data, "--code", "KG4", "--name", "Балабақша 4",
        "--district", "South")
    add_user(server, "dir-one", "director", PASSWORD, "KG1")
    add_user(server, "op-north", "operator", PASSWORD, district="North")
    return server


def cp1251_roster() -> bytes:
    """Excel's "CSV" here: Windows-1251, ``;`` separators, no BOM. Three new children in
    NEW_GROUP, one child of the seeded roster renamed, one as it was."""
    _, people = roster_csv(20)
    lines = [HEADER.replace(",", ";")]
    for i, iin in NEW_IINS:
        lines.append(f"new-{i}-x7q;{iin};Ахметова;Айгерим;2019-05-20;{NEW_GROUP};"
                     f"age3-full-state;2025-09-01;")
    renamed, same = people[0], people[1]
    lines.append(f"{renamed['child_id']};{renamed['iin']};Сериков;{renamed['first_name']};"
                 "2020-03-15;Group A;age3-full-state;2025-09-01;")
    lines.append(f"{same['child_id']};{same['iin']};{same['last_name']};{same['first_name']};"
                 "2020-03-15;Group A;age3-full-state;2025-09-01;")
    return ("\r\n".join(lines) + "\r\n").encode("cp1251")


def upload(session: requests.Session, base: str, data: bytes, name: str,
           lang: str = "ru") -> requests.Response:
    csrf = page_csrf(session.get(base + "/office/roster", timeout=10).text)
    return session.post(f"{base}/office/roster?lang={lang}", data={"csrf": csrf},
                        files={"file": (name, data, "text/csv")}, timeout=30)


def test_cp1251_roster_imports_and_the_history_says_what_changed(office: ServerProcess) -> None:
    director = staff_session(office.url, "dir-one", PASSWORD)
    before = counts(office)
    answer = upload(director, office.url, cp1251_roster(), "ромашка.csv")
    assert answer.status_code == 200, answer.text
    assert 'id="imported" data-added="3" data-updated="1" data-unchanged="1"' in answer.text
    after = counts(office)
    assert after["children"] == before["children"] + 3
    assert after["roster_imports"] == before["roster_imports"] + 1  # one import
    assert after["audit_trail"] == before["audit_trail"] + 1  # its audit line
    names = {r.child_id: r for r in rows_of(office, db.children)}
    assert names["new-0-x7q"].last_name == "Ахметова"
    assert names["new-0-x7q"].group_name == NEW_GROUP
    assert names["child-00000-x7q"].last_name == "Сериков"
    imports = sorted(rows_of(office, db.roster_imports), key=lambda r: r.id)
    assert (imports[-1].added, imports[-1].updated, imports[-1].unchanged) == (3, 1, 1)
    assert (imports[0].added, imports[0].updated, imports[0].unchanged) == (20, 0, 0)  # the CLI
    page = director.get(office.url + "/office/roster", timeout=10).text
    history = page.split('id="roster-history"', 1)[1].split("</table>", 1)[0]
    newest = history.split('data-source="ромашка.csv"', 1)[1].split("</tr>", 1)[0]
    assert re.findall(r'class="num (?:added|updated|unchanged)">(\d+)<', newest) == \
        ["3", "1", "1"]
    assert 'data-source="roster.csv"' in history
    assert f'data-group="{NEW_GROUP}"' in page
    assert page.count('data-enrolled="yes"') == 23


def test_roster_with_three_bad_lines_names_each_and_imports_nothing(
        office: ServerProcess) -> None:
    director = staff_session(office.url, "dir-one", PASSWORD)
    _, people = roster_csv(3)
    good = people[2]
    text = "\n".join([
        HEADER,
        "bad-1-x7q,123456789012,Бекова,Дана,2020-03-15,Group A,age3-full-state,2025-09-01,",
        f"bad-2-x7q,{people[0]['iin']},Бекова,Дана,2020-13-45,Group A,age3-full-state,"
        "2025-09-01,",
        "bad-3-x7q,only,three",
        f"{good['child_id']},{good['iin']},{good['last_name']},{good['first_name']},2020-03-15,"
        "Group A,age3-full-state,2025-09-01,",
    ]) + "\n"
    before = counts(office)
    answer = upload(director, office.url, text.encode("utf-8-sig"), "bad.csv", lang="ru")
    assert answer.status_code == 400
    assert 'data-code="roster_refused"' in answer.text
    items = re.findall(r"<li>([^<]*)</li>",
                       answer.text.split('id="roster-problems"', 1)[1].split("</ul>", 1)[0])
    assert len(items) == 3, items
    assert [item.split(":", 1)[0] for item in items] == ["строка 2", "строка 3", "строка 4"]
    assert "ИИН" in items[0]
    assert counts(office) == before


def test_operator_makes_a_director_of_the_district_only(office: ServerProcess) -> None:
    operator = staff_session(office.url, "op-north", PASSWORD)
    page = operator.get(office.url + "/office/accounts", timeout=10)
    assert page.status_code == 200
    csrf = page_csrf(page.text)
    before = counts(office)
    for form, status, code in [
            ({"username": "dir-south", "role": "director", "kindergarten": "KG4"}, 403,
             "outside_scope"),
            ({"username": "dir-kg1", "role": "director", "kindergarten": "KG1"}, 403,
             "outside_scope"),
            ({"username": "teach-n", "role": "teacher", "kindergarten": "KG3",
              "group": "Group A"}, 403, "role_not_managed"),
            ({"username": "dir-one", "role": "director", "kindergarten": "KG3"}, 409,
             "username_taken"),
            ({"username": "No Spaces", "role": "director", "kindergarten": "KG3"}, 400,
             "bad_form")]:
        refused = operator.post(office.url + "/office/accounts/add",
                                data={"csrf": csrf, **form}, timeout=10)
        assert refused.status_code == status, (form, refused.text)
        assert f'data-code="{code}"' in refused.text
    assert counts(office) == before
    made = operator.post(office.url + "/office/accounts/add", data={
        "csrf": csrf, "username": "dir-three", "role": "director", "kindergarten": "KG3"},
        timeout=30)
    assert made.status_code == 200, made.text
    found = re.search(r'id="new-password">([a-z0-9-]+)<', made.text)
    assert found is not None
    assert counts(office)["users"] == before["users"] + 1
    director = staff_session(office.url, "dir-three", found.group(1))
    assert director.get(office.url + "/office/today", timeout=10).status_code == 200
    listed = operator.get(office.url + "/office/accounts", timeout=10).text
    assert 'data-username="dir-three"' in listed
    assert 'data-username="dir-one"' not in listed  # KG1 is no kindergarten of North
    trail = operator.get(office.url + "/office/audit?kindergarten=KG3", timeout=10).text
    assert 'data-action="account_created" data-username="op-north"' in trail
    assert operator.get(office.url + "/office/audit?kindergarten=KG1",
                        timeout=10).status_code == 403


def roster_of_a_new_group(prefix: str) -> bytes:
    """A UTF-8 roster of three children, all in NEW_GROUP, with ids of their own."""
    lines = [HEADER] + [f"{prefix}-{i},{iin},Ахметова,Айгерим,2019-05-20,{NEW_GROUP},"
                        "age3-full-state,2025-09-01," for i, iin in NEW_IINS]
    return ("\n".join(lines) + "\n").encode()


def test_director_makes_a_teacher_who_sees_only_their_groups(office: ServerProcess) -> None:
    """In a kindergarten of its own (KG5), whose director imports a roster with NEW_GROUP."""
    run("kindergarten", "add", "--data", str(office.data_dir), "--code", "KG5",
        "--name", "Балабақша 5")
    add_user(office, "dir-five", "director", PASSWORD, "KG5")
    director = staff_session(office.url, "dir-five", PASSWORD)
    imported = upload(director, office.url, roster_of_a_new_group("t5"), "ромашка.csv")
    assert 'data-added="3"' in imported.text, imported.text
    page = director.get(office.url + "/office/accounts", timeout=10).text
    assert f'value="{NEW_GROUP}"' in page  # the roster's groups to choose from
    csrf = page_csrf(page)
    before = counts(office)
    for form, status, code in [
            ({"username": "teach-x", "role": "teacher", "group": "No such group"}, 404,
             "unknown_group"),
            ({"username": "teach-x", "role": "teacher", "kindergarten": "KG3",
              "group": "Group A"}, 403, "outside_scope"),
            ({"username": "dir-two", "role": "director"}, 403, "role_not_managed"),
            ({"username": "teach-x", "role": "teacher"}, 400, "bad_form")]:
        refused = director.post(office.url + "/office/accounts/add",
                                data={"csrf": csrf, **form}, timeout=10)
        assert refused.status_code == status, (form, refused.text)
        assert f'data-code="{code}"' in refused.text
    assert counts(office) == before
    made = director.post(office.url + "/office/accounts/add", data={
        "csrf": csrf, "username": "teach-romashka", "role": "teacher", "group": NEW_GROUP},
        timeout=30)
    assert made.status_code == 200, made.text
    found = re.search(r'id="new-password">([a-z0-9-]+)<', made.text)
    assert found is not None
    teacher = staff_session(office.url, "teach-romashka", found.group(1))
    today = teacher.get(office.url + "/office/today", timeout=10).text
    shown = set(re.findall(r'data-child="([^"]+)"', today))
    assert shown == {f"t5-{i}" for i, _ in NEW_IINS}
    assert teacher.get(office.url + "/office/accounts", timeout=10).status_code == 403

    # Disabled by the director: the teacher's session ends at once.
    disabled = director.post(office.url + "/office/accounts/disable",
                             data={"csrf": csrf, "username": "teach-romashka"}, timeout=10)
    assert disabled.status_code == 200
    assert 'id="account-disabled"' in disabled.text
    assert teacher.get(office.url + "/office/today", allow_redirects=False,
                       timeout=10).status_code == 302
    before = counts(office)
    for username in ("teach-romashka", "op-north", "dir-five", "nobody"):
        again = director.post(office.url + "/office/accounts/disable",
                              data={"csrf": csrf, "username": username}, timeout=10)
        assert again.status_code == 404
    assert counts(office) == before

    trail = director.get(office.url + "/office/audit?lang=ru", timeout=10).text
    actions = re.findall(r'data-action="([a-z_]+)" data-username="([a-z-]+)"', trail)
    assert actions[:3] == [("account_disabled", "dir-five"), ("account_created", "dir-five"),
                           ("roster_imported", "dir-five")]
    assert "ромашка.csv" in trail
    lines = [json.loads(r.detail) for r in rows_of(office, db.audit_trail)
             if r.action == "account_created"]
    assert {"role": "teacher", "district": None, "groups": [NEW_GROUP]} in lines


@pytest.fixture(scope="module")
def east(sqlite_server: ServerProcess) -> ServerProcess:
    run("kindergarten", "add", "--data", str(sqlite_server.data_dir), "--code", "KG9",
        "--name", "Балабақша 9", "--district", "East")
    add_user(sqlite_server, "op-east", "operator", PASSWORD, district="East")
    return sqlite_server


def test_operator_enrols_a_terminal_from_the_code_on_the_page_and_revokes_it(
        east: ServerProcess, tmp_path: Path, runtime_env: dict[str, str]) -> None:
    operator = staff_session(east.url, "op-east", PASSWORD)
    page = operator.get(east.url + "/office/terminals?kindergarten=KG9", timeout=10).text
    assert 'id="no-terminals"' in page
    answer = operator.post(east.url + "/office/terminals/code",
                           data={"csrf": page_csrf(page), "kindergarten": "KG9"}, timeout=10)
    assert answer.status_code == 200, answer.text
    svg = answer.text.split('<div id="terminal-qr">', 1)[1].split("</div>", 1)[0]
    token = re.search(r'id="terminal-token">([^<]+)<', answer.text)
    assert token is not None
    trail = [r for r in rows_of(east, db.audit_trail)
             if r.action == "terminal_code_issued" and r.kindergarten == "KG9"]
    assert len(trail) == 1
    assert token.group(1) not in trail[0].detail
    assert token.group(1) not in trail[0].subject

    # The new kiosk's camera sees the screen's QR at first boot.
    picture = read_image(str(qr_svg_png(svg, tmp_path / "screen.png")))
    rng = np.random.default_rng(17)
    frames = [simulated.empty_frame(rng) for _ in range(10)]
    frames += simulated.door_clip([picture], rng, idle_frames=5, held_frames=20)
    clip = write_clip(frames, tmp_path / "installer.avi")
    home, port = tmp_path / "new-terminal", free_port()
    process = subprocess.Popen([*QATYS, "terminal", "run", "--home", str(home), "--clip",
                                str(clip), "--port", str(port)], env=_env(runtime_env),
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        status = _status_until_door(process, f"http://127.0.0.1:{port}/status")
    finally:
        process.terminate()
        stderr = process.communicate(timeout=20)[1]
    assert status["kindergarten"] == "Балабақша 9", stderr
    listed = operator.get(east.url + "/office/terminals?kindergarten=KG9", timeout=10).text
    terminal_id = re.search(r'data-terminal="(T-[A-Z2-7]+)" data-state="active"', listed)
    assert terminal_id is not None, listed

    # Revoked from the page (a reason is required): refused at the next sync.
    csrf = page_csrf(listed)
    before = counts(east)
    refused = operator.post(east.url + "/office/terminals/revoke", data={
        "csrf": csrf, "kindergarten": "KG9", "terminal": terminal_id.group(1), "reason": "  "},
        timeout=10)
    assert refused.status_code == 400
    assert 'data-code="bad_form"' in refused.text
    other = operator.post(east.url + "/office/terminals/revoke", data={
        "csrf": csrf, "kindergarten": "KG1", "terminal": terminal_id.group(1),
        "reason": "stolen"}, timeout=10)
    assert other.status_code == 403  # KG1 is no kindergarten of East
    assert counts(east) == before
    revoked = operator.post(east.url + "/office/terminals/revoke", data={
        "csrf": csrf, "kindergarten": "KG9", "terminal": terminal_id.group(1),
        "reason": "stolen from the hall"}, timeout=10)
    assert revoked.status_code == 200
    assert f'data-terminal="{terminal_id.group(1)}" data-state="revoked"' in revoked.text
    sync = run("terminal", "sync", "--home", str(home), env=runtime_env, check=False)
    assert sync.returncode == 4
    assert json.loads(sync.stdout)["code"] == "terminal_revoked"
    actions = [r.action for r in rows_of(east, db.audit_trail)]
    assert actions.count("terminal_revoked") == 1


def _env(runtime_env: dict[str, str]) -> dict[str, str]:
    return {**os.environ, **runtime_env}


def _status_until_door(process: subprocess.Popen[str], url: str) -> dict[str, object]:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        try:
            status: dict[str, object] = requests.get(url, timeout=5).json()
        except requests.RequestException:
            status = {}
        if status.get("mode") == "door":
            return status
        time.sleep(0.3)
    raise AssertionError("the terminal did not enrol from the code on the page")


def test_terminal_code_page_in_chromium(east: ServerProcess, tmp_path: Path) -> None:
    add_user(east, "dir-kg1", "director", PASSWORD, "KG1")
    chromium()
    page = Page(tmp_path / "profile")
    try:
        browser_login(page, east.url, "dir-kg1", PASSWORD)
        open_page(page, east.url + "/office/terminals?lang=kk")
        assert page.evaluate("document.getElementById('nav-terminals') !== null")
        submit_form(page, "#terminal-code")
        page.wait_for("document.querySelector('#terminal-qr svg') !== null")
        token = page.evaluate("document.getElementById('terminal-token').innerText")
        assert token.startswith("QT")
        page.screenshot(artefact("office-terminal-code.png"), full_page=True)
        open_page(page, east.url + "/office/roster")
        assert page.evaluate("document.querySelector('#roster-upload [name=file]') !== null")
        open_page(page, east.url + "/office/audit")
        assert page.evaluate("document.querySelectorAll("
                             "'tr[data-action=terminal_code_issued]').length") == 1
        page.screenshot(artefact("office-audit.png"), full_page=True)
    finally:
        page.close()
