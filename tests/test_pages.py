"""The server's pages in a real headless Chromium: KZ/RU text, live figures, no personal data;
the system overview is for signed-in staff only."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.browser import Page, artefact
from tests.helpers import ServerProcess, add_user, checkin, enrol, open_page, run


def test_overview_in_chromium(server: ServerProcess, tmp_path: Path,
                              runtime_env: dict[str, str]) -> None:
    home = tmp_path / "door"
    terminal_id = enrol(server, home, runtime_env)
    for child in ("child-00001-x7q", "child-00002-x7q"):
        assert checkin(home, runtime_env, child)["result"] == "accepted"
    run("terminal", "sync", "--home", str(home), env=runtime_env)
    add_user(server, "operator", "admin", "operator-pass-1")

    page = Page(tmp_path / "profile")
    try:
        open_page(page, server.url + "/")
        assert page.evaluate("location.pathname") == "/finance/login"  # not signed in
        assert page.evaluate("new URLSearchParams(location.search).get('next')") == \
            "/finance/system"
        page.evaluate("document.querySelector('[name=username]').value = 'operator';"
                      "document.querySelector('[name=password]').value = 'operator-pass-1';"
                      "window.__old = true; document.querySelector('#login').submit(); true")
        page.wait_for("window.__old === undefined && document.readyState === 'complete'")
        assert page.evaluate("location.pathname") == "/finance/system"
        open_page(page, server.url + "/")
        assert page.evaluate("location.pathname") == "/finance/system"
        dom = str(page.evaluate("document.documentElement.outerHTML"))
        assert '<html lang="kk">' in dom
        assert "шолу / обзор" in dom
        assert "Балабақша 1" in dom
        row = dom[dom.index(terminal_id):]
        row = row[:row.index("</tr>")]
        assert "<td>2</td>" in row.replace(" ", "")  # both check-ins arrived
        # The style sheet loaded under the page's CSP (no inline style is allowed).
        assert page.evaluate("getComputedStyle(document.body).marginTop") == "32px"
        roster = (server.data_dir / "roster.csv").read_text().splitlines()[1:]
        for line in roster:  # the overview names no child
            child_id, iin, last, first = line.split(",")[:4]
            for secret in (child_id, iin, last, first):
                assert secret not in dom
        page.screenshot(artefact(f"overview-{server.data_dir.name}.png"))
    finally:
        page.close()


def test_health_tells_nothing_about_terminals(server: ServerProcess) -> None:
    import requests

    answer = requests.get(server.url + "/api/v1/health", timeout=5)
    assert answer.status_code == 200
    assert set(answer.json()) == {"ok", "version", "protocol", "max_batch_events",
                                  "server_time_us", "database"}
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert "terminal" not in json.dumps(answer.json()).lower()


@pytest.mark.parametrize("path", ["/", "/finance/system"])
def test_overview_redirects_to_sign_in_when_not_signed_in(server: ServerProcess,
                                                          path: str) -> None:
    import requests

    answer = requests.get(server.url + path, timeout=5)
    where = urlsplit(answer.url)
    assert (where.path, parse_qs(where.query)) == ("/finance/login",
                                                   {"next": ["/finance/system"]})
    assert [r.status_code for r in answer.history] == [302] * len(answer.history)
    assert "Балабақша 1" not in answer.text
    assert "<table" not in answer.text
