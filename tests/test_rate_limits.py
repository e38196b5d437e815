"""Rate limits of the sign-in paths: 429 with Retry-After per client address and per account
(username, invitation code, phone key id), counted in the database so that two server
processes on one database share them (SQLite and PostgreSQL). Every refusal is logged and
changes nothing. The client address comes from X-Forwarded-For only behind a trusted proxy:
here 127.0.0.1 is one, so each test speaks from its own made-up address."""

from __future__ import annotations

import base64
import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from flask.testing import FlaskClient
from sqlalchemy import func, select

from server.app import create_app
from server.config import load_config
from server.datadir import init_data_dir, open_data_dir
from server.families.guardians import claim_message, login_message
from server.storage import db
from tests.conftest import _seed
from tests.helpers import (
    Phone,
    ServerProcess,
    add_user,
    guardian_client,
    login_form,
    run,
    start_node,
    start_server,
)

LIMITS: dict[str, object] = {
    "trusted_proxies": ["127.0.0.1"],
    "limit_finance_login_address": "4 per 10 minutes",
    "limit_finance_login_account": "3 per 10 minutes",
    "limit_parents_claim_address": "3 per 10 minutes",
    "limit_parents_claim_code": "2 per 10 minutes",
    "limit_parents_challenge_address": "3 per 10 minutes",
    "limit_parents_login_address": "3 per 10 minutes",
    "limit_parents_login_key": "2 per 10 minutes",
}
_addresses = (f"203.0.113.{n}" for n in itertools.count(1))


def _address() -> dict[str, str]:
    """Headers that make the next requests come from an address no other test used."""
    return {"X-Forwarded-For": next(_addresses)}


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def nodes(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    """Two server processes (as two nodes would be) on one database."""
    data = tmp_path_factory.mktemp(f"limits-{request.param}")
    url = None
    if request.param == "postgres":
        url = request.getfixturevalue("pg_cluster").create_database(data.name.lower())
    first = start_server(data, url, LIMITS)
    second = start_node(data)
    _seed(data)
    yield first, second
    second.stop()
    first.stop()


def _try_password(node: ServerProcess, username: str, password: str,
                  headers: dict[str, str], lang: str = "") -> requests.Response:
    browser = requests.Session()
    csrf = login_form(browser, node.url)
    url = node.url + ("/finance/login?lang=" + lang if lang else "/finance/login")
    return browser.post(url, data={"csrf": csrf, "username": username, "password": password},
                        allow_redirects=False, timeout=30, headers=headers)


def _retry_after(answer: requests.Response) -> int:
    assert answer.status_code == 429, answer.text
    seconds = int(answer.headers["Retry-After"])
    assert 0 < seconds <= 600
    return seconds


def _failures(node: ServerProcess, username: str) -> tuple[int, object]:
    engine = open_data_dir(node.data_dir).engine
    with engine.connect() as conn:
        row = conn.execute(select(db.users.c.failed_logins, db.users.c.locked_until_us)
                           .where(db.users.c.username == username)).one()
    engine.dispose()
    return int(row.failed_logins), row.locked_until_us


def _log(node: ServerProcess) -> str:
    return (node.data_dir / "logs" / "server.log").read_text()


def test_finance_sign_in_per_address_shared_by_two_nodes(
        nodes: tuple[ServerProcess, ServerProcess]) -> None:
    first, second = nodes
    add_user(first, "addr-user", "finance", "addr-user-pass")
    here = _address()
    for n, node in zip(range(4), itertools.cycle(nodes), strict=False):
        assert _try_password(node, f"nobody{n}", "wrong-password", here).status_code == 401
    refused = _try_password(first, "addr-user", "addr-user-pass", here)  # right, but spent
    _retry_after(refused)
    assert "әрекеттері тым көп" in refused.text
    assert 'data-problem="rate_limited"' in refused.text
    russian = _try_password(second, "addr-user", "addr-user-pass", here, lang="ru")
    _retry_after(russian)
    assert "Слишком много попыток" in russian.text
    assert "qatys_staff" not in russian.cookies
    assert _failures(first, "addr-user") == (0, None)  # the refusals changed nothing
    elsewhere = _try_password(second, "addr-user", "addr-user-pass", _address())
    assert elsewhere.status_code == 302  # another address is not limited
    assert '"reason": "rate_limited", "limit": "limit_finance_login_address"' in _log(first)


def test_finance_sign_in_per_account_shared_by_two_nodes(
        nodes: tuple[ServerProcess, ServerProcess]) -> None:
    first, second = nodes
    add_user(first, "acct-user", "director", "acct-user-pass", "KG1")
    for node in (first, second, first):
        answer = _try_password(node, "acct-user", "wrong-password", _address())
        assert answer.status_code == 401
    assert _failures(first, "acct-user")[0] == 3
    for node in (second, first):  # from any address, on either node
        _retry_after(_try_password(node, "acct-user", "acct-user-pass", _address()))
    assert _failures(first, "acct-user")[0] == 3  # not counted, not locked
    assert '"limit": "limit_finance_login_account"' in _log(first)
    assert _try_password(first, "someone-else", "wrong-password",
                         _address()).status_code == 401


def _claim(node: ServerProcess, code: str, phone: Phone, proof: bytes,
           headers: dict[str, str]) -> requests.Response:
    return requests.post(node.url + "/parents/api/claim", timeout=10, headers=headers, json={
        "code": code, "public_key": base64.b64encode(phone.spki).decode(),
        "proof": base64.b64encode(proof).decode()})


def _refused_json(answer: requests.Response) -> dict[str, object]:
    _retry_after(answer)
    error = answer.json()["error"]
    assert answer.json()["ok"] is False
    assert error["code"] == "rate_limited"
    assert error["retry_after"] == int(answer.headers["Retry-After"])
    return dict(error)


def _count(node: ServerProcess, table: db.Table) -> int:
    engine = open_data_dir(node.data_dir).engine
    with engine.connect() as conn:
        count = int(conn.execute(select(func.count()).select_from(table)).scalar_one())
    engine.dispose()
    return count


def test_invitation_claims_per_code_and_per_address(
        nodes: tuple[ServerProcess, ServerProcess]) -> None:
    first, second = nodes
    url = run("guardian", "invite", "--data", str(first.data_dir), "--child",
              "child-00010-x7q").stdout.strip().splitlines()[-1]
    code = url.rsplit("/", 1)[-1]
    phone = Phone()
    for node in (first, second):  # wrong proofs from two addresses
        bad = _claim(node, code, phone, phone.sign(b"not the code"), _address())
        assert bad.json()["error"]["code"] == "bad_signature"
    guardians = _count(first, db.guardians)
    error = _refused_json(_claim(second, code, phone, phone.sign(claim_message(code)),
                                 _address()))
    assert error["limit"] == "limit_parents_claim_code"
    assert _count(first, db.guardians) == guardians  # the good proof came too late
    here = _address()
    for n in range(3):
        unknown = _claim(first if n % 2 else second, f"AAAA-BBBB-CCCC-DDD{n + 2}", phone,
                         b"x" * 64, here)
        assert unknown.json()["error"]["code"] == "invitation_unknown"
    assert _refused_json(_claim(first, "AAAA-BBBB-CCCC-DDDD", phone, b"x" * 64, here)
                         )["limit"] == "limit_parents_claim_address"
    assert '"code": "rate_limited"' in _log(first)


def test_challenges_per_address(nodes: tuple[ServerProcess, ServerProcess]) -> None:
    first, second = nodes
    here = _address()
    for node in (first, second, first):
        answer = requests.get(node.url + "/parents/api/challenge", headers=here, timeout=10)
        assert answer.status_code == 200
    nonces = _count(first, db.guardian_nonces)
    refused = requests.get(second.url + "/parents/api/challenge", headers=here, timeout=10)
    assert _refused_json(refused)["limit"] == "limit_parents_challenge_address"
    assert _count(first, db.guardian_nonces) == nonces
    assert requests.get(second.url + "/parents/api/challenge", headers=_address(),
                        timeout=10).status_code == 200


def _phone_login(node: ServerProcess, key: str, phone: Phone, headers: dict[str, str],
                 good: bool = False) -> requests.Response:
    nonce = requests.get(node.url + "/parents/api/challenge", headers=_address(),
                         timeout=10).json()["nonce"]
    signature = phone.sign(login_message(nonce) if good else b"something else")
    return requests.post(node.url + "/parents/api/login", headers=headers, timeout=10, json={
        "key_id": key, "nonce": nonce, "signature": base64.b64encode(signature).decode()})


def test_phone_sign_in_per_key_and_per_address(
        nodes: tuple[ServerProcess, ServerProcess]) -> None:
    first, second = nodes
    guardian = guardian_client(first, "child-00011-x7q")
    key = guardian.phone.key_id
    for node in (first, second):
        bad = _phone_login(node, key, guardian.phone, _address())
        assert bad.json()["error"]["code"] == "bad_signature"
    sessions = _count(first, db.web_sessions)
    refused = _phone_login(second, key, guardian.phone, _address(), good=True)
    assert _refused_json(refused)["limit"] == "limit_parents_login_key"
    assert "qatys_guardian" not in refused.cookies
    assert _count(first, db.web_sessions) == sessions
    here = _address()
    for n in range(3):
        unknown = _phone_login(first, f"{n:016x}", guardian.phone, here)
        assert unknown.json()["error"]["code"] == "unknown_phone"
    assert _refused_json(_phone_login(second, "f" * 16, guardian.phone, here)
                         )["limit"] == "limit_parents_login_address"


def _app_client(tmp_path: Path, trusted: list[str]) -> FlaskClient:
    init_data_dir(tmp_path, None)
    body = (tmp_path / "server.toml").read_text()
    settings = 'limit_parents_challenge_address = "2 per 10 minutes"\n'
    if trusted:
        settings += f"trusted_proxies = {trusted!r}\n".replace("'", '"')
    (tmp_path / "server.toml").write_text(body + settings)
    return create_app(config=load_config(tmp_path)).test_client()


@pytest.mark.parametrize("trusted", [[], ["10.1.0.0/16"]])
def test_forwarded_for_counts_only_from_a_trusted_proxy(tmp_path: Path,
                                                        trusted: list[str]) -> None:
    client = _app_client(tmp_path, trusted)
    statuses = [client.get("/parents/api/challenge",
                           headers={"X-Forwarded-For": f"198.51.100.{n}"},
                           environ_base={"REMOTE_ADDR": "10.1.2.3"}).status_code
                for n in range(4)]
    # Without a trusted proxy the socket peer is the client: the header changes nothing.
    assert statuses == ([200, 200, 429, 429] if not trusted else [200] * 4)
    untrusted_peer = [client.get("/parents/api/challenge",
                                 headers={"X-Forwarded-For": f"198.51.100.{n}"},
                                 environ_base={"REMOTE_ADDR": "192.0.2.9"}).status_code
                      for n in range(3)]
    assert untrusted_peer == [200, 200, 429]
