"""Sign-in rules of the finance pages through the app with a controlled clock: sessions
expire, five wrong passwords lock an account, a disabled account is out at its next request,
forms without the session's CSRF token change nothing, and `next` never leaves the site."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from qatys.timeutil import now_us
from server.app import create_app
from server.config import load_config
from server.datadir import init_data_dir, open_data_dir
from server.staff.accounts import AccountError, add_user, disable_user
from server.storage import db

HOUR_US = 3600 * 1_000_000


class Clock:
    def __init__(self) -> None:
        self.now = now_us()

    def __call__(self) -> int:
        return self.now


@pytest.fixture
def site(tmp_path: Path) -> tuple[FlaskClient, Clock, Path]:
    init_data_dir(tmp_path, None)
    data = open_data_dir(tmp_path)
    with data.transaction() as conn:
        conn.execute(db.kindergartens.insert().values(code="KG1", name="Балабақша 1",
                                                      six_day=False, created_at_us=0))
        add_user(conn, "fin", "finance-pass-1", "finance", None, 0)
    clock = Clock()
    app = create_app(config=load_config(tmp_path), clock=clock)
    return app.test_client(), clock, tmp_path


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found is not None
    return found.group(1)


def _login(client: FlaskClient, password: str, next_url: str = "") -> tuple[int, str]:
    csrf = _csrf(client.get("/finance/login").text)
    response = client.post("/finance/login" + (f"?next={next_url}" if next_url else ""),
                           data={"csrf": csrf, "username": "fin", "password": password})
    return response.status_code, response.headers.get("Location", "")


def test_session_expires_after_the_configured_hours(site: tuple[FlaskClient, Clock, Path]
                                                    ) -> None:
    client, clock, _ = site
    assert _login(client, "finance-pass-1") == (302, "/finance/")
    assert client.get("/finance/?month=2026-03").status_code == 200
    clock.now += 8 * HOUR_US + 1
    expired = client.get("/finance/?month=2026-03")
    assert expired.status_code == 302
    assert "expired=1" in expired.headers["Location"]
    assert "Сессия аяқталды" in client.get(expired.headers["Location"]).text


def test_five_wrong_passwords_lock_the_account(site: tuple[FlaskClient, Clock, Path]) -> None:
    client, clock, _ = site
    for _ in range(5):
        assert _login(client, "not-the-password")[0] == 401
    status, _ = _login(client, "finance-pass-1")  # right password, but locked
    assert status == 401
    page = client.post("/finance/login", data={"csrf": _csrf(client.get("/finance/login").text),
                                               "username": "fin", "password": "finance-pass-1"})
    assert "15 минут" in page.text
    clock.now += 16 * 60 * 1_000_000
    assert _login(client, "finance-pass-1") == (302, "/finance/")


def test_disabled_account_is_out_at_its_next_request(site: tuple[FlaskClient, Clock, Path]
                                                     ) -> None:
    client, _, data_dir = site
    _login(client, "finance-pass-1")
    data = open_data_dir(data_dir)
    with data.transaction() as conn:
        disable_user(conn, "fin", now_us())
    assert client.get("/finance/?month=2026-03").status_code == 302
    assert _login(client, "finance-pass-1")[0] == 401


def test_forms_without_the_csrf_token_change_nothing(site: tuple[FlaskClient, Clock, Path]
                                                     ) -> None:
    client, _, data_dir = site
    _login(client, "finance-pass-1")
    for form in ({}, {"csrf": "forged"}):
        assert client.post("/finance/month/2026-03/compute", data=form).status_code == 400
        assert client.post("/finance/k/KG1/2026-03/approve", data=form).status_code == 400
    engine = open_data_dir(data_dir).engine
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(db.jobs)).scalar_one() == 0
        assert conn.execute(select(func.count()).select_from(db.approvals)).scalar_one() == 0
    engine.dispose()


def test_next_never_leaves_the_finance_pages(site: tuple[FlaskClient, Clock, Path]) -> None:
    client, _, _ = site
    assert _login(client, "finance-pass-1", "https://elsewhere.example/") == (302, "/finance/")
    client.post("/finance/logout", data={"csrf": _csrf(client.get("/finance/").text)})
    assert _login(client, "finance-pass-1", "/finance/k/KG1/2026-03") == \
        (302, "/finance/k/KG1/2026-03")


def test_account_rules(site: tuple[FlaskClient, Clock, Path]) -> None:
    _, _, data_dir = site
    data = open_data_dir(data_dir)
    bad = [("x", "long-enough-1", "finance", None), ("dir", "long-enough-1", "director", None),
           ("fin2", "long-enough-1", "finance", "KG1"), ("dir", "short", "director", "KG1"),
           ("dir", "long-enough-1", "director", "KG9"), ("fin", "long-enough-1", "finance", None),
           ("boss", "long-enough-1", "owner", None)]
    for username, password, role, garden in bad:
        with pytest.raises(AccountError), data.transaction() as conn:
            add_user(conn, username, password, role, garden, 0)
