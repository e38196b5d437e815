"""The finance pages in a real headless Chromium against a real server, one role at a time:
the finance officer computes the month with progress, approves and corrects; the director
sees only their kindergarten; the auditor and the administrator cannot approve."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser import Page, artefact
from tests.helpers import (
    ServerProcess,
    browser_login,
    open_page,
    run,
    start_worker,
    stop_process,
    submit_form,
)

PASSWORDS = {"fin": "finance-pass-1", "dir1": "director-pass-1", "aud": "auditor-pass-1",
             "adm": "admin-pass-12"}

@pytest.fixture(scope="module")
def server(sqlite_server: ServerProcess) -> ServerProcess:
    """SQLite only here: the pages' storage runs on PostgreSQL in test_consent, test_money and
    test_queue_core; a browser run per database would double the slowest tests."""
    return sqlite_server



@pytest.fixture(scope="module")
def worker(march: ServerProcess) -> Iterator[None]:
    """The worker that runs the month job "Compute the month" queues (as `qatys server run`
    starts one beside a real server)."""
    process = start_worker(march.data_dir)
    yield
    stop_process(process, 15)


@pytest.fixture(scope="module")
def finance(march: ServerProcess, worker: None) -> ServerProcess:
    data = str(march.data_dir)
    run("kindergarten", "add", "--data", data, "--code", "KG3", "--name", "Балабақша 3",
        "--district", "Алмалы")
    for username, role, garden in [("fin", "finance", None), ("dir1", "director", "KG1"),
                                   ("aud", "auditor", None), ("adm", "admin", None)]:
        extra = ["--kindergarten", garden] if garden else []
        run("user", "add", "--data", data, "--username", username, "--role", role, *extra,
            "--password-stdin", input_text=PASSWORDS[username] + "\n")
    return march


def _login(page: Page, base: str, username: str, password: str | None = None) -> None:
    browser_login(page, base, username, password or PASSWORDS[username])


def _text(page: Page, selector: str) -> str:
    value = page.evaluate(f"(document.querySelector({json.dumps(selector)}) || {{}}).textContent")
    return str(value or "")


def _exists(page: Page, selector: str) -> bool:
    return bool(page.evaluate(f"document.querySelector({json.dumps(selector)}) !== null"))


def test_finance_officer_computes_approves_and_corrects(finance: ServerProcess,
                                                        tmp_path: Path) -> None:
    base = finance.url
    page = Page(tmp_path / "profile")
    try:
        open_page(page, base + "/finance/?month=2026-03")
        assert page.evaluate("location.pathname") == "/finance/login"  # not signed in
        _login(page, base, "fin", "wrong-password")
        assert "қате" in _text(page, "#problem")
        _login(page, base, "fin")
        open_page(page, base + "/finance/?month=2026-03")
        assert _exists(page, "#not-computed")
        submit_form(page, "#compute")  # long work: a progress bar, then the figures
        page.wait_for("document.getElementById('grand-total') !== null && "
                      "document.getElementById('progress') === null", timeout=60)
        assert _text(page, "#grand-total") == "30\u202f000.00"
        job = page.evaluate("fetch('/finance/jobs/' + new URLSearchParams(location.search)"
                            ".get('job')).then(r => r.json())")
        assert (job["status"], job["done"], job["total"]) == ("done", 3, 3)
        assert page.evaluate("document.querySelectorAll('#chart rect.bar').length") == 2
        assert page.evaluate("[...document.querySelectorAll('h2.district')]"
                             ".map(h => h.textContent)") == ["Аудан: Аудан көрсетілмеген",
                                                             "Аудан: Алмалы"]
        page.screenshot(artefact("finance-month-kk.png"), full_page=True)
        open_page(page, base + "/finance/?month=2026-03&lang=ru")
        assert _text(page, "h1").startswith("Обзор месяца")
        assert "не утверждён" in _text(page, "tr[data-code=KG1]")

        open_page(page, base + "/finance/k/KG1/2026-03")
        assert _text(page, "#total") == "30\u202f000.00"
        assert _text(page, "tr[data-child=child-00001-x7q] a") == "child-00001-x7q"
        status = page.evaluate("fetch('/finance/k/KG1/2026-03/export/statement.xlsx')"
                               ".then(r => r.status + ' ' + r.headers.get('content-type'))")
        assert status.startswith("200 application/vnd.openxmlformats")
        submit_form(page, "#approve")
        assert _exists(page, "#locked")
        assert not _exists(page, "#approve")
        assert _text(page, "#trail tr[data-revision='1'] .delivery").strip().startswith(
            "ожидает")  # no queue core configured: waits in the outbox

        run("absence", "add", "--data", str(finance.data_dir), "--child", "child-00006-x7q",
            "--from", "2026-03-16", "--to", "2026-03-17", "--reason", "illness",
            "--document", "cert-0316")
        open_page(page, base + "/finance/k/KG1/2026-03")
        assert _exists(page, "#changed")
        assert _text(page, "#total") == "36\u202f000.00"
        assert "status-changed" in page.evaluate(
            "document.querySelector('tr[data-child=child-00006-x7q] td:last-child').className")
        page.evaluate("document.querySelector('#approve [name=note]').value = "
                      "'Справка о болезни получена позже'; true")
        submit_form(page, "#approve")
        assert _exists(page, "#locked")
        assert page.evaluate("document.querySelectorAll('#trail tr[data-revision]').length") == 2
        assert "позже" in _text(page, "#trail tr[data-revision='2']")
        page.screenshot(artefact("finance-statement-ru.png"), full_page=True)

        open_page(page, base + "/finance/k/KG1/2026-03/tabel")
        cells = page.evaluate("[...document.querySelectorAll('tr[data-child=child-00001-x7q] td')]"
                              ".map(td => td.textContent)")
        assert cells[2] == "+р"  # 2 March: present, entered by hand
        open_page(page, base + "/finance/k/KG1/2026-03/child/child-00003-x7q")
        assert _text(page, "#amount") == "12\u202f000.00"
        assert _text(page, "tr[data-day='2026-03-10'] code.event").startswith("T-")
        assert _text(page, "tr[data-day='2026-03-11'] code.absence").startswith("ABS-")
    finally:
        page.close()
    trail = run("funding", "approvals", "--data", str(finance.data_dir), "--kindergarten",
                "KG1", "--month", "2026-03").stdout.splitlines()
    assert [json.loads(x)["approved_by"] for x in trail] == ["fin", "fin"]


def test_director_sees_only_their_kindergarten(finance: ServerProcess, tmp_path: Path) -> None:
    base = finance.url
    page = Page(tmp_path / "profile")
    try:
        _login(page, base, "dir1")
        open_page(page, base + "/finance/?month=2026-03")
        assert page.evaluate("location.pathname") == "/finance/k/KG1/2026-03"
        assert _text(page, "tr[data-child=child-00001-x7q] a") == "Testovbayev0001 Aruzhanka0001"
        assert not _exists(page, "#approve")
        open_page(page, base + "/finance/k/KG2/2026-03")
        assert page.evaluate("document.getElementById('error').dataset.status") == "forbidden"
        for url in ("/finance/k/KG2/2026-03/export/statement.csv",
                    "/finance/k/KG2/2026-03/tabel", "/finance/jobs/1"):
            assert page.evaluate(f"fetch('{url}').then(r => r.status)") == 403, url
        page.screenshot(artefact("finance-director-kk.png"), full_page=True)
        open_page(page, base + "/finance/k/KG1/2026-03/child/child-00002-x7q")
        assert page.evaluate("document.getElementById('consent').dataset.status") == "none"
        submit_form(page, "#invite")
        code = _text(page, "#invitation-code")
        assert re.fullmatch(r"[A-Z2-7]{4}(-[A-Z2-7]{4}){3}", code)
        assert _text(page, "#invitation-url").endswith(f"/parents/invite/{code}")
        assert page.evaluate("document.querySelector('#invitation-qr svg') !== null")
    finally:
        page.close()


@pytest.mark.parametrize("username", ["aud", "adm"])
def test_auditor_and_administrator_cannot_approve(finance: ServerProcess, tmp_path: Path,
                                                  username: str) -> None:
    base = finance.url
    page = Page(tmp_path / "profile")
    try:
        _login(page, base, username)
        open_page(page, base + "/finance/?month=2026-03")
        assert _text(page, "#grand-total")  # both read the overview
        assert _exists(page, "#compute") == (username == "adm")
        open_page(page, base + "/finance/k/KG2/2026-03")
        assert not _exists(page, "#approve")
        csrf = page.evaluate("document.querySelector('[name=csrf]').value")
        status = page.evaluate(
            "fetch('/finance/k/KG2/2026-03/approve', {method: 'POST', headers: "
            "{'Content-Type': 'application/x-www-form-urlencoded'}, body: 'csrf=" + csrf +
            "'}).then(r => r.status)")
        assert status == 403
        invite = page.evaluate(
            "fetch('/finance/k/KG1/2026-03/child/child-00001-x7q/invite', {method: 'POST', "
            "headers: {'Content-Type': 'application/x-www-form-urlencoded'}, body: 'csrf=" +
            csrf + "'}).then(r => r.status)")
        assert invite == 403  # only the kindergarten's director invites guardians
        open_page(page, base + "/finance/k/KG1/2026-03")
        assert _text(page, "tr[data-child=child-00001-x7q] a") == "child-00001-x7q"  # no names
    finally:
        page.close()
    outbox = run("queue-core", "outbox", "--data", str(finance.data_dir),
                 "--kindergarten", "KG2").stdout
    assert outbox == ""  # nothing was approved for KG2
