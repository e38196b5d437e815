"""The office's today list through a real server: who is here, gone, absent or not arrived yet,
per group; a teacher sees their own groups only, an operator their district; after closing
time the children still here; entries by hand with their reasons; and in a real Chromium the
list changes by itself when the terminal syncs."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import requests

from tests.browser import Page, artefact
from tests.helpers import (
    ServerProcess,
    add_user,
    browser_login,
    checkin,
    enrol,
    login_form,
    open_page,
    post_login,
    roster_csv,
    run,
    staff_session,
)

GROUPS = ("Күншуақ", "Ботақан")
PASSWORD = "office-pass-12"
ALMATY = ZoneInfo("Asia/Almaty")


@pytest.fixture(scope="module")
def office(server: ServerProcess, tmp_path_factory: pytest.TempPathFactory
           ) -> tuple[ServerProcess, Path, dict[str, str]]:
    """KG3 in district Алмалы with six children in two groups, its director, a teacher of
    Ботақан, the district's operator, and an enrolled terminal."""
    data = str(server.data_dir)
    base = tmp_path_factory.mktemp("office")
    run("kindergarten", "add", "--data", data, "--code", "KG3", "--name", "Балабақша 3",
        "--district", "Алмалы")
    roster = base / "roster.csv"
    roster.write_text(roster_csv(6, "today", GROUPS)[0], encoding="utf-8")
    run("roster", "import", "--data", data, "--kindergarten", "KG3", str(roster))
    add_user(server, "dir3", "director", PASSWORD, "KG3")
    add_user(server, "teach3", "teacher", PASSWORD, "KG3", groups=["Ботақан"])
    add_user(server, "oper", "operator", PASSWORD, district="Алмалы")
    env = {"QATYS_RUNTIME_DIR": str(base / "run")}
    enrol(server, base / "door", env, kg="KG3")
    return server, base / "door", env


def _states(html: str) -> dict[str, str]:
    return dict(re.findall(r'<tr data-child="([\w-]+)" data-state="(\w+)"', html))


def _child(n: int) -> str:
    return f"today-{n:05d}-x7q"


def test_today_shows_each_childs_state_per_group_and_the_manual_reasons(
        office: tuple[ServerProcess, Path, dict[str, str]]) -> None:
    server, door, env = office
    assert checkin(door, env, _child(0))["result"] == "accepted"  # Күншуақ: here
    assert checkin(door, env, _child(1))["result"] == "accepted"  # Ботақан: in, then out
    run("terminal", "checkin", "--home", str(door), "--child", _child(1), "--manual",
        "--reason", "забрала бабушка", "--direction", "out", env=env)
    run("terminal", "sync", "--home", str(door), "--quiet", env=env)
    day = _today_date(server)
    run("absence", "add", "--data", str(server.data_dir), "--child", _child(2), "--from", day,
        "--to", day, "--reason", "illness", "--document", "справка 17")
    page = _page_before_closing(server, "/office/today?lang=ru")
    assert page.status_code == 200, page.text
    assert _states(page.text) == {_child(0): "present", _child(1): "left",
                                  _child(2): "absent", _child(3): "expected",
                                  _child(4): "expected", _child(5): "expected"}
    counts = dict(re.findall(r'<tr data-group="([^"]+)">(.*?)</tr>', page.text))
    assert re.findall(r'data-count="(\w+)">(\d+)<', counts["Күншуақ"]) == [
        ("present", "1"), ("left", "0"), ("absent", "1"), ("expected", "1")]
    assert re.findall(r'data-count="(\w+)">(\d+)<', counts["Ботақан"]) == [
        ("present", "0"), ("left", "1"), ("absent", "0"), ("expected", "2")]
    manual = page.text[page.text.index('id="manual"'):]
    assert "забрала бабушка" in manual
    assert "card forgotten" in manual
    assert 'id="still-here"' not in page.text  # child 0 is here, but it is before closing
    assert 'class="still-here"' not in page.text


def _page_before_closing(server: ServerProcess, path: str) -> requests.Response:
    """The director's page with KG3 closing a few minutes from now, so the suite's wall clock
    (CI runs past 19:00 in Almaty too) cannot make "before closing" false."""
    closes = _minutes_from_now(5)
    if closes is None:
        pytest.skip("within five minutes of midnight in Almaty: the day cannot be before closing")
    run("kindergarten", "closing", "--data", str(server.data_dir), "--kindergarten", "KG3",
        "--at", closes)
    try:
        return staff_session(server.url, "dir3", PASSWORD).get(server.url + path, timeout=30)
    finally:
        run("kindergarten", "closing", "--data", str(server.data_dir), "--kindergarten", "KG3",
            "--at", "19:00")


def _minutes_from_now(minutes: int) -> str | None:
    """HH:MM in Asia/Almaty ``minutes`` from now, or None when that is tomorrow already."""
    now = datetime.now(ALMATY)
    later = now + timedelta(minutes=minutes)
    return later.strftime("%H:%M") if later.date() == now.date() else None


def _today_date(server: ServerProcess) -> str:
    session = staff_session(server.url, "oper", PASSWORD)
    page = session.get(server.url + "/office/today?kindergarten=KG3", timeout=30)
    found = re.search(r'id="today-date">(\d{4}-\d\d-\d\d)<', page.text)
    assert found is not None, page.text
    return found.group(1)


def test_a_teacher_sees_only_their_groups_and_no_money(
        office: tuple[ServerProcess, Path, dict[str, str]]) -> None:
    server, _, _ = office
    session = staff_session(server.url, "teach3", PASSWORD)
    page = session.get(server.url + "/office/today", timeout=30)
    assert set(_states(page.text)) == {_child(1), _child(3), _child(5)}  # Ботақан only
    assert "Күншуақ" not in page.text
    other = session.get(server.url + "/office/today?kindergarten=KG1", timeout=30)
    assert other.status_code == 403
    assert "child-00001-x7q" not in other.text
    assert session.get(server.url + "/finance/", timeout=30).status_code == 403
    landing = requests.Session()
    answer = post_login(landing, server.url, "teach3", PASSWORD,
                        login_form(landing, server.url))
    assert answer.headers["Location"].endswith("/office/today")


def test_an_operator_chooses_among_the_districts_kindergartens_only(
        office: tuple[ServerProcess, Path, dict[str, str]]) -> None:
    server, _, _ = office
    session = staff_session(server.url, "oper", PASSWORD)
    home = session.get(server.url + "/office/", timeout=30)
    assert re.findall(r'data-kindergarten="(\w+)"', home.text) == ["KG3"]
    assert session.get(server.url + "/office/today?kindergarten=KG3",
                       timeout=30).status_code == 200
    assert session.get(server.url + "/office/today?kindergarten=KG1",
                       timeout=30).status_code == 403
    assert session.get(server.url + "/office/today", timeout=30).status_code == 200  # one only
    anonymous = requests.get(server.url + "/office/today", timeout=30, allow_redirects=False)
    assert anonymous.status_code == 302
    assert "/finance/login" in anonymous.headers["Location"]


def test_after_closing_time_the_children_still_here_are_listed(
        office: tuple[ServerProcess, Path, dict[str, str]]) -> None:
    server, door, env = office
    assert checkin(door, env, _child(4))["result"] == "accepted"
    run("terminal", "sync", "--home", str(door), "--quiet", env=env)
    bad = run("kindergarten", "closing", "--data", str(server.data_dir), "--kindergarten",
              "KG3", "--at", "25:00", check=False)
    assert bad.returncode == 2
    run("kindergarten", "closing", "--data", str(server.data_dir), "--kindergarten", "KG3",
        "--at", "00:00")  # the day has ended at any time of it
    try:
        page = staff_session(server.url, "dir3", PASSWORD).get(server.url + "/office/today",
                                                               timeout=30)
        still = page.text[page.text.index('id="still-here"'):page.text.index("</ul>")]
        listed = set(re.findall(r'data-child="([\w-]+)"', still))
        assert _child(4) in listed
        assert _child(1) not in listed
        assert f'data-child="{_child(4)}" data-state="present" class="still-here"' in page.text
    finally:
        run("kindergarten", "closing", "--data", str(server.data_dir), "--kindergarten", "KG3",
            "--at", "19:00")


def test_the_open_page_follows_the_terminals_sync(
        office: tuple[ServerProcess, Path, dict[str, str]], tmp_path: Path) -> None:
    server, door, env = office
    if "postgres" in server.data_dir.name:
        pytest.skip("the page in a browser once (SQLite); the data on both above")
    page = Page(tmp_path / "profile")
    try:
        browser_login(page, server.url, "dir3", PASSWORD)
        open_page(page, server.url + "/office/today?lang=kk")
        row = f"document.querySelector('tr[data-child=\"{_child(5)}\"]').dataset.state"
        assert page.evaluate(row) == "expected"
        page.wait_for("document.getElementById('today-rows').dataset.synced !== undefined")
        assert checkin(door, env, _child(5))["result"] == "accepted"
        run("terminal", "sync", "--home", str(door), "--quiet", env=env)
        page.wait_for(f"{row} === 'present'", timeout=20)
        assert int(page.evaluate("document.getElementById('today-rows').dataset.updates")) >= 1
        page.screenshot(artefact("office-today-kk.png"), full_page=True)
    finally:
        page.close()
