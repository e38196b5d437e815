"""Sessions kept on the server, against real server processes (SQLite and PostgreSQL): a
cookie copied before logout opens nothing after it, disabling an account ends its open
session, staff and guardian sessions are apart, the browser holds only a random id; and every
HTML page carries the security headers, with nothing blocked by its CSP in Chromium."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from sqlalchemy import select

from server.app import create_app
from server.config import load_config
from server.datadir import init_data_dir, open_data_dir
from server.staff.accounts import add_user as add_account
from server.storage import db
from tests.browser import Page
from tests.helpers import (
    ServerProcess,
    add_user,
    guardian_client,
    login_form,
    page_csrf,
    post_login,
    run,
    staff_session,
)

MONTH = "2026-03"
CHILD = "child-00003-x7q"


def _cookie(response: requests.Response, name: str) -> str:
    """The Set-Cookie header of ``name`` in one answer."""
    found = [c for c in response.raw.headers.getlist("Set-Cookie") if c.startswith(name + "=")]
    assert len(found) == 1, response.raw.headers.getlist("Set-Cookie")
    return found[0]


def _signed_in_as(server: ServerProcess, cookies: dict[str, str]) -> requests.Response:
    return requests.get(server.url + f"/finance/?month={MONTH}", cookies=cookies,
                        allow_redirects=False, timeout=10)


def _went_to_sign_in(answer: requests.Response) -> bool:
    where = urlsplit(answer.headers.get("Location", ""))
    return answer.status_code == 302 and where.path == "/finance/login" and \
        parse_qs(where.query).get("expired") == ["1"]


def test_a_staff_cookie_copied_before_logout_opens_nothing_after_it(
        server: ServerProcess) -> None:
    add_user(server, "copied", "finance", "copied-pass-12")
    browser = requests.Session()
    answer = post_login(browser, server.url, "copied", "copied-pass-12",
                        login_form(browser, server.url))
    assert answer.status_code == 302
    set_cookie = _cookie(answer, "qatys_staff")
    assert "HttpOnly" in set_cookie
    assert "Path=/;" in set_cookie  # the finance and the office pages
    assert "SameSite=Lax" in set_cookie
    copy = {"qatys_staff": browser.cookies["qatys_staff"]}
    assert _signed_in_as(server, copy).status_code == 200
    page = browser.get(server.url + f"/finance/?month={MONTH}", timeout=10).text
    out = browser.post(server.url + "/finance/logout", data={"csrf": page_csrf(page)},
                       allow_redirects=False, timeout=10)
    assert out.status_code == 302
    assert "qatys_staff" not in browser.cookies
    refused = _signed_in_as(server, copy)
    assert _went_to_sign_in(refused)
    signin = requests.get(server.url + refused.headers["Location"], timeout=10)
    assert "Сессия аяқталды" in signin.text  # the sign-in page says why, in Kazakh
    assert "copied" not in signin.text
    log = (server.data_dir / "logs" / "server.log").read_text()
    assert '"event": "session.refused"' in log
    assert '"status": "revoked"' in log


def test_a_guardian_cookie_copied_before_logout_opens_nothing_after_it(
        server: ServerProcess) -> None:
    guardian = guardian_client(server, CHILD)
    copy = {"qatys_guardian": guardian.http.cookies["qatys_guardian"]}
    me = requests.get(server.url + "/parents/api/me", cookies=copy, timeout=10)
    assert [c["child_id"] for c in me.json()["children"]] == [CHILD]
    page = requests.get(server.url + f"/parents/child/{CHILD}", cookies=copy, timeout=10,
                        allow_redirects=False)
    assert page.status_code == 200
    assert guardian.post(server.url, "/parents/api/logout", {}).json() == {"ok": True}
    after = requests.get(server.url + "/parents/api/me", cookies=copy, timeout=10)
    assert after.status_code == 401
    assert after.json()["error"]["code"] == "not_signed_in"
    page = requests.get(server.url + f"/parents/child/{CHILD}", cookies=copy, timeout=10,
                        allow_redirects=False)
    assert (page.status_code, page.headers["Location"]) == (302, "/parents/")
    assert CHILD not in page.text


def test_disabling_an_account_ends_its_open_session(server: ServerProcess) -> None:
    add_user(server, "leaver", "auditor", "leaver-pass-12")
    browser = staff_session(server.url, "leaver", "leaver-pass-12")
    assert browser.get(server.url + f"/finance/?month={MONTH}", timeout=10).status_code == 200
    run("user", "disable", "--data", str(server.data_dir), "--username", "leaver")
    assert _went_to_sign_in(_signed_in_as(server, {
        "qatys_staff": browser.cookies["qatys_staff"]}))
    engine = open_data_dir(server.data_dir).engine
    with engine.connect() as conn:
        rows = conn.execute(select(db.web_sessions.c.revoke_reason)
                            .where(db.web_sessions.c.subject == "leaver")).scalars().all()
    engine.dispose()
    assert rows == ["account_disabled"]


def test_staff_and_guardian_sessions_are_apart(server: ServerProcess) -> None:
    add_user(server, "apart", "finance", "apart-pass-123")
    staff = staff_session(server.url, "apart", "apart-pass-123")
    guardian = guardian_client(server, "child-00004-x7q")
    staff_id, guardian_id = staff.cookies["qatys_staff"], guardian.http.cookies["qatys_guardian"]
    # A guardian's session id sent as a staff cookie, and the other way round, opens nothing.
    assert _went_to_sign_in(_signed_in_as(server, {"qatys_staff": guardian_id}))
    crossed = requests.get(server.url + "/parents/api/me", timeout=10,
                           cookies={"qatys_guardian": staff_id})
    assert crossed.status_code == 401
    # The guardian's cookie is sent only under /parents/; the staff's serves the finance and
    # the office pages (path /), and the parents' pages never read it (above).
    paths = {c.name: c.path for c in [*staff.cookies, *guardian.http.cookies]}
    assert paths["qatys_staff"] == "/"
    assert paths["qatys_guardian"] == "/parents/"
    both = {"qatys_staff": staff_id, "qatys_guardian": guardian_id}
    assert _signed_in_as(server, both).status_code == 200
    assert requests.get(server.url + "/parents/api/me", cookies=both,
                        timeout=10).status_code == 200


def test_the_browser_holds_a_random_id_and_the_database_only_its_digest(
        server: ServerProcess) -> None:
    add_user(server, "digest", "finance", "digest-pass-12")
    browser = staff_session(server.url, "digest", "digest-pass-12")
    token = browser.cookies["qatys_staff"]
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", token)  # 256 random bits, nothing else
    assert sorted(c.name for c in browser.cookies) == ["qatys_login", "qatys_staff"]
    engine = open_data_dir(server.data_dir).engine
    with engine.connect() as conn:
        row = conn.execute(select(db.web_sessions)
                           .where(db.web_sessions.c.subject == "digest")).one()
    engine.dispose()
    assert bytes(row.id_digest) == hashlib.sha256(token.encode()).digest()
    assert (row.kind, row.revoked_at_us) == ("staff", None)
    assert row.expires_at_us - row.created_at_us == 8 * 3600 * 1_000_000  # session_hours


def test_a_form_without_the_session_token_changes_nothing(server: ServerProcess) -> None:
    add_user(server, "forms", "finance", "forms-pass-123")
    browser = staff_session(server.url, "forms", "forms-pass-123")
    other = staff_session(server.url, "forms", "forms-pass-123")
    page = other.get(server.url + f"/finance/?month={MONTH}", timeout=10).text
    # The token of another session of the same user does not fit this one.
    answer = browser.post(server.url + "/finance/logout", data={"csrf": page_csrf(page)},
                          allow_redirects=False, timeout=10)
    assert answer.status_code == 400
    assert browser.get(server.url + f"/finance/?month={MONTH}", allow_redirects=False,
                       timeout=10).status_code == 200
    guardian = guardian_client(server, "child-00005-x7q")
    guardian.csrf = "forged"
    refused = guardian.post(server.url, "/parents/api/logout", {})
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "csrf_invalid")
    assert guardian.http.get(server.url + "/parents/api/me", timeout=10).status_code == 200


HEADERS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin",
           "X-Frame-Options": "DENY"}
WATCH_CSP = ("window.__csp = []; document.addEventListener('securitypolicyviolation', "
             "e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));")


def _check_headers(answer: requests.Response) -> None:
    policy = answer.headers.get("Content-Security-Policy", "")
    assert "frame-ancestors 'none'" in policy, answer.url
    assert "'unsafe-inline'" not in policy
    assert "script-src 'self'" in policy
    assert "style-src 'self'" in policy
    for name, value in HEADERS.items():
        assert answer.headers.get(name) == value, (answer.url, name)
    assert "Strict-Transport-Security" not in answer.headers  # served over http here


@pytest.fixture(scope="module")
def pages(sqlite_server: ServerProcess) -> dict[str, list[str]]:
    """Every kind of HTML page: finance pages of each role, the parents' pages, error pages."""
    add_user(sqlite_server, "hdr-fin", "finance", "hdr-fin-pass-1")
    add_user(sqlite_server, "hdr-dir", "director", "hdr-dir-pass-1", "KG1")
    finance = [f"/finance/?month={MONTH}", f"/finance/k/KG1/{MONTH}",
               f"/finance/k/KG1/{MONTH}/tabel", f"/finance/k/KG1/{MONTH}/child/{CHILD}",
               "/finance/fleet", "/finance/system", f"/finance/k/KG9/{MONTH}",
               "/finance/?month=bad"]
    return {"finance": finance, "parents": ["/parents/", "/parents/invite/AAAA-BBBB-CCCC-DDDD",
                                           f"/parents/child/{CHILD}",
                                           "/parents/child/child-00009-x7q"]}


def test_every_html_page_carries_the_security_headers(sqlite_server: ServerProcess,
                                                      pages: dict[str, list[str]]) -> None:
    base = sqlite_server.url
    anonymous = requests.get(base + "/finance/login", timeout=10)
    assert anonymous.headers["Content-Type"].startswith("text/html")
    _check_headers(anonymous)
    staff = staff_session(base, "hdr-fin", "hdr-fin-pass-1")
    for path in pages["finance"]:
        answer = staff.get(base + path, timeout=30)
        assert answer.headers["Content-Type"].startswith("text/html"), path
        _check_headers(answer)
    director = staff_session(base, "hdr-dir", "hdr-dir-pass-1")
    page = director.get(base + f"/finance/k/KG1/{MONTH}/child/{CHILD}", timeout=30).text
    invitation = director.post(base + f"/finance/k/KG1/{MONTH}/child/{CHILD}/invite",
                               data={"csrf": page_csrf(page)}, timeout=30)
    assert 'id="invitation-code"' in invitation.text
    _check_headers(invitation)
    guardian = guardian_client(sqlite_server, CHILD)
    for path in pages["parents"]:
        answer = guardian.http.get(base + path, timeout=10)
        assert answer.headers["Content-Type"].startswith("text/html"), path
        _check_headers(answer)
    for path in ("/api/v1/health", "/no/such/path", "/parents/api/me"):
        answer = requests.get(base + path, timeout=10)
        assert answer.headers["Content-Type"] == "application/json", path
        _check_headers(answer)
    assert "Strict-Transport-Security" not in anonymous.headers


def test_nothing_on_the_pages_is_blocked_by_their_policy_in_chromium(
        sqlite_server: ServerProcess, pages: dict[str, list[str]], tmp_path: Path) -> None:
    base = sqlite_server.url
    page = Page(tmp_path / "profile")
    try:
        page.call("Page.enable")
        page.call("Page.addScriptToEvaluateOnNewDocument", source=WATCH_CSP)

        def visit(path: str) -> None:
            page.evaluate("window.__old = true")
            page.goto(base + path)
            page.wait_for("window.__old === undefined && document.readyState === 'complete'")
            assert page.evaluate("window.__csp") == [], path

        visit("/finance/login")
        assert page.evaluate("getComputedStyle(document.querySelector('header'))"
                             ".backgroundColor") == "rgb(246, 248, 250)"  # finance.css loaded
        page.evaluate("document.querySelector('[name=username]').value = 'hdr-fin';"
                      "document.querySelector('[name=password]').value = 'hdr-fin-pass-1';"
                      "window.__old = true; document.querySelector('#login').submit(); true")
        page.wait_for("window.__old === undefined && document.readyState === 'complete'")
        for path in pages["finance"]:
            visit(path)
        visit("/parents/")
        # The parents' script ran (no key on this browser yet: it says so).
        assert page.wait_for("document.getElementById('status').textContent")
        visit("/parents/invite/AAAA-BBBB-CCCC-DDDD")
        assert json.loads(json.dumps(page.evaluate("document.body.dataset.page"))) == "invite"
    finally:
        page.close()


def test_over_https_cookies_are_secure_and_hsts_is_sent(tmp_path: Path) -> None:
    init_data_dir(tmp_path, None, "https://qatys.example.kz")
    with open_data_dir(tmp_path).transaction() as conn:
        add_account(conn, "secure", "secure-pass-12", "finance", None, 0)
    client = create_app(config=load_config(tmp_path)).test_client()
    form = client.get("/finance/login")
    assert form.headers["Strict-Transport-Security"] == "max-age=31536000"
    assert "Secure" in form.headers["Set-Cookie"]
    signed_in = client.post("/finance/login", data={
        "csrf": page_csrf(form.text), "username": "secure", "password": "secure-pass-12"})
    assert signed_in.status_code == 302
    staff = [c for c in signed_in.headers.getlist("Set-Cookie") if c.startswith("qatys_staff=")]
    assert len(staff) == 1
    assert "Secure" in staff[0]
    assert "HttpOnly" in staff[0]
    assert client.get("/api/v1/health").headers["Strict-Transport-Security"]


def test_a_cookie_of_the_old_path_is_dropped_when_its_browser_signs_in_again(
        tmp_path: Path) -> None:
    """Before the office, the staff cookie lived under /finance/; a browser that still holds
    one would send it first, so a new sign-in there drops it as it sets the one for /."""
    init_data_dir(tmp_path, None, "http://127.0.0.1:9")
    with open_data_dir(tmp_path).transaction() as conn:
        add_account(conn, "moved", "moved-pass-123", "finance", None, 0)
    client = create_app(config=load_config(tmp_path)).test_client()
    client.set_cookie("qatys_staff", "an-ended-session-of-the-old-path", path="/finance/")
    form = client.get("/finance/login")
    signed_in = client.post("/finance/login", data={
        "csrf": page_csrf(form.text), "username": "moved", "password": "moved-pass-123"})
    staff = [c for c in signed_in.headers.getlist("Set-Cookie") if c.startswith("qatys_staff=")]
    assert any("Path=/finance/" in c and "Max-Age=0" in c for c in staff), staff
    assert any("Path=/;" in c and "Max-Age=0" not in c for c in staff), staff
    assert client.get("/finance/").status_code == 200  # the new session opens the pages
