"""Hostile input at the server's web edges (issue 22), against a real server process: deep
JSON, look-alike invitation codes, impossible months, numbers past 64 bits, wrong JSON types,
side effects of GET/HEAD, undeclared methods. Each refusal's exact status and code, and no row
written (every table counted before and after; only the rate limits' counters and the signed
requests' replay records may move)."""

from __future__ import annotations

import base64
import json
import os
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from protocol import PROTOCOL_VERSION, auth, crypto
from server.datadir import open_data_dir
from server.errors import MoneyInputError
from server.families.guardians import claim_message, login_message
from server.money.statements import FIRST_YEAR, LAST_YEAR, parse_month
from server.storage import db
from terminal.home import open_terminal
from tests.helpers import (
    GuardianClient,
    Phone,
    ServerProcess,
    add_user,
    enrol,
    guardian_client,
    page_csrf,
    run,
    staff_session,
)

MOVING = {"rate_limits", "request_replays"}
"""Tables a refused request may change: a failed attempt counts against its limits, and a
signed request is remembered (and its terminal's last contact) before its body is read."""
CHILD = "child-00003-x7q"
BAD_MONTHS = ("9999-12", "２０２６-11", "2026-1", "0001-01", "2026-13", "٢٠٢٦-١١", "2026-11\n")


def counts(server: ServerProcess) -> dict[str, int]:
    engine = open_data_dir(server.data_dir).engine
    with engine.connect() as conn:
        found = {t.name: int(conn.execute(select(func.count()).select_from(t)).scalar_one())
                 for t in db.metadata.sorted_tables if t.name not in MOVING}
    engine.dispose()
    return found


def refused(answer: requests.Response, status: int, code: str) -> dict[str, Any]:
    assert answer.status_code == status, (answer.status_code, answer.text[:300])
    assert answer.headers["Content-Type"].startswith("application/json"), answer.headers
    error: dict[str, Any] = answer.json()["error"]
    assert error["code"] == code, error
    return error


@pytest.fixture(scope="module")
def guardian(sqlite_server: ServerProcess) -> GuardianClient:
    return guardian_client(sqlite_server, CHILD)


@pytest.fixture(scope="module")
def staff(sqlite_server: ServerProcess) -> requests.Session:
    add_user(sqlite_server, "hostile-admin", "admin", "admin-pass-12")
    return staff_session(sqlite_server.url, "hostile-admin", "admin-pass-12")


@pytest.fixture(scope="module")
def terminal_home(sqlite_server: ServerProcess,
                  tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    base = tmp_path_factory.mktemp("hostile-terminal")
    env = {"QATYS_RUNTIME_DIR": str(base / "run")}
    terminal_id = enrol(sqlite_server, base / "home", env)
    return base / "home", terminal_id


def signed_post(server: ServerProcess, home: Path, terminal_id: str, path: str,
                body: bytes) -> requests.Response:
    """A POST signed with the enrolled terminal's key, its body exactly these bytes."""
    terminal = open_terminal(home, log=False)
    try:
        seed = terminal.keys.sign_seed
    finally:
        terminal.close()
    nonce = auth.nonce_text(os.urandom(16))
    now_s = int(time.time())
    message = auth.request_signing_input("POST", path, "", terminal_id, now_s, nonce, body)
    return requests.post(server.url + path, data=body, timeout=10, headers={
        "Content-Type": "application/json", auth.HEADER_PROTOCOL: str(PROTOCOL_VERSION),
        auth.HEADER_TERMINAL: terminal_id, auth.HEADER_TIME: str(now_s),
        auth.HEADER_NONCE: nonce,
        auth.HEADER_SIGNATURE: base64.b64encode(crypto.sign(seed, message)).decode()})


def _deep(levels: int) -> str:
    return "[" * levels + "]" * levels


def test_json_nested_deep_is_malformed_on_every_json_endpoint(
        sqlite_server: ServerProcess, guardian: GuardianClient) -> None:
    before = counts(sqlite_server)
    for levels in (1_000, 100_000, 33):
        for path in ("/parents/api/claim", "/parents/api/login", "/api/v1/terminals/enrol"):
            body = f'{{"code": {_deep(levels)}, "token": {_deep(levels)}}}'
            answer = requests.post(sqlite_server.url + path, data=body, timeout=30,
                                   headers={"Content-Type": "application/json"})
            refused(answer, 400, "malformed")
        for path in ("/parents/api/month", "/parents/api/consent"):
            answer = guardian.http.post(sqlite_server.url + path, data=_deep(levels),
                                        timeout=30, headers={
                                            "Content-Type": "application/json",
                                            "X-Qatys-CSRF": guardian.csrf})
            refused(answer, 400, "malformed")
    assert counts(sqlite_server) == before


def test_json_with_nan_or_a_deep_body_of_a_signed_request_is_malformed(
        sqlite_server: ServerProcess, terminal_home: tuple[Path, str]) -> None:
    home, terminal_id = terminal_home
    before = counts(sqlite_server)
    for body in (_deep(1_000), _deep(50_000), '{"pending": NaN}', '{"a": Infinity}'):
        answer = signed_post(sqlite_server, home, terminal_id, "/api/v1/terminal/health",
                             body.encode())
        refused(answer, 400, "malformed")
    assert counts(sqlite_server) == before


@pytest.mark.parametrize("code", ["АВЕК-МНОР-САВЕ-КМНО", "٣" * 16, "²" * 16,
                                  "ABCD-EFGH-IJKL-MNO٣", "ß" * 8, "Ａ" * 16])
def test_look_alike_invitation_codes_are_unknown(sqlite_server: ServerProcess,
                                                 code: str) -> None:
    before = counts(sqlite_server)
    page = requests.get(sqlite_server.url + "/parents/invite/" + code + "?lang=ru",
                        timeout=10)
    assert page.status_code == 404
    assert 'data-code="invitation_unknown"' in page.text
    phone = Phone()
    answer = requests.post(sqlite_server.url + "/parents/api/claim", timeout=10, json={
        "code": code, "public_key": base64.b64encode(phone.spki).decode(),
        "proof": base64.b64encode(phone.sign(b"anything")).decode()})
    refused(answer, 404, "invitation_unknown")
    assert counts(sqlite_server) == before


@pytest.mark.parametrize("month", BAD_MONTHS)
def test_impossible_months_on_finance_pages_and_the_job(
        sqlite_server: ServerProcess, staff: requests.Session, month: str) -> None:
    before = counts(sqlite_server)
    base = sqlite_server.url + "/finance"
    for path in (f"/?month={requests.utils.quote(month)}&lang=ru", f"/k/KG1/{month}?lang=ru",
                 f"/k/KG1/{month}/tabel?lang=ru", f"/k/KG1/{month}/export/statement.csv",
                 f"/k/KG1/{month}/export/tabel.json", f"/k/KG1/{month}/approved/r1.json",
                 f"/k/KG1/{month}/child/{CHILD}?lang=ru"):
        answer = staff.get(base + path, timeout=30)
        assert answer.status_code == 400, (path, answer.status_code, answer.text[:200])
        assert answer.headers["Content-Type"].startswith("text/html")
        assert 'data-status="bad_request"' in answer.text
        if "lang=ru" in path:
            assert "Неверный запрос." in answer.text
    overview = staff.get(base + "/", timeout=30)
    answer = staff.post(base + f"/month/{month}/compute", data={"csrf": page_csrf(overview.text)},
                        timeout=30, allow_redirects=False)
    assert answer.status_code == 400, answer.text[:300]
    assert counts(sqlite_server) == before


@pytest.mark.parametrize("month", BAD_MONTHS)
def test_impossible_months_on_the_parents_record_and_api(
        sqlite_server: ServerProcess, month: str) -> None:
    guardian = guardian_client(sqlite_server, CHILD)
    before = counts(sqlite_server)
    page = guardian.http.get(sqlite_server.url + f"/parents/child/{CHILD}", timeout=10,
                             params={"month": month, "lang": "ru"})
    assert page.status_code == 400
    assert page.headers["Content-Type"].startswith("text/html")
    assert 'data-status="bad_request"' in page.text
    assert "Неверный запрос." in page.text
    for kind, extra in (("confirm", {}), ("dispute", {"days": [f"{month}-03"],
                                                      "comment": "not there"})):
        answer = guardian.post(sqlite_server.url, "/parents/api/month",
                               {"child_id": CHILD, "month": month, "kind": kind, **extra})
        error = refused(answer, 400, "bad_request")
        assert "month" in error["message"]
    assert counts(sqlite_server) == before


@pytest.mark.parametrize(("month", "gone"), [("2000-01", "1999-12"), ("2099-12", "2100-01")])
def test_the_record_page_at_the_edge_of_the_months_links_no_further(
        sqlite_server: ServerProcess, month: str, gone: str) -> None:
    guardian = guardian_client(sqlite_server, CHILD)
    page = guardian.http.get(sqlite_server.url + f"/parents/child/{CHILD}", timeout=10,
                             params={"month": month, "lang": "ru"})
    assert page.status_code == 200
    assert f'<strong id="month">{month}</strong>' in page.text
    assert f"?month={gone}" not in page.text
    assert page.text.count("?month=") == 1  # the other way still links


def test_month_commands_refuse_impossible_months(sqlite_server: ServerProcess,
                                                tmp_path: Path) -> None:
    for month in ("9999-12", "２０２６-11", "0001-01"):
        done = run("funding", "statement", "--data", str(sqlite_server.data_dir),
                   "--kindergarten", "KG1", "--month", month, "--format", "json",
                   "--out", str(tmp_path / "s.json"), check=False)
        assert done.returncode == 2, (done.stdout, done.stderr)
        assert "month" in done.stderr
        assert not (tmp_path / "s.json").exists()


@given(st.one_of(st.text(), st.from_regex(r"[0-9０-９٠-٩]{1,5}-[0-9０-９²]{1,3}"),
                 st.integers(), st.none(), st.lists(st.text())))
def test_the_month_parser_answers_a_month_or_its_own_error(text: Any) -> None:
    try:
        year, month = parse_month(text)
    except MoneyInputError:
        return
    assert isinstance(text, str)
    assert text.isascii()
    assert text == f"{year:04d}-{month:02d}"
    assert FIRST_YEAR <= year <= LAST_YEAR
    assert 1 <= month <= 12


@given(st.integers(FIRST_YEAR, LAST_YEAR), st.integers(1, 12))
def test_every_month_of_the_range_parses(year: int, month: int) -> None:
    assert parse_month(f"{year:04d}-{month:02d}") == (year, month)


def _health(**changed: object) -> bytes:
    good: dict[str, object] = {"pending": 0, "head_seq": 0, "terminal_time_us": 1,
                               "software_version": "x", "camera": "ok",
                               "storage_free_bytes": 1, "boot_id": "0" * 32, "mono_ns": 1}
    return json.dumps({**good, **changed}).encode()


@pytest.mark.parametrize("field", ["pending", "head_seq", "terminal_time_us",
                                   "storage_free_bytes", "mono_ns"])
def test_health_numbers_past_64_bits_are_malformed(
        sqlite_server: ServerProcess, terminal_home: tuple[Path, str], field: str) -> None:
    home, terminal_id = terminal_home
    before = counts(sqlite_server)
    for number in (2**63, 2**64 + 5, 10**400, -(2**63) - 1):
        answer = signed_post(sqlite_server, home, terminal_id, "/api/v1/terminal/health",
                             _health(**{field: number}))
        error = refused(answer, 400, "malformed")
        assert error["field"] == field
    assert counts(sqlite_server) == before


def test_wrong_json_types_are_refused_naming_the_field(sqlite_server: ServerProcess) -> None:
    fresh = guardian_client(sqlite_server, CHILD)
    phone = Phone()
    key = base64.b64encode(phone.spki).decode()
    proof = base64.b64encode(phone.sign(claim_message("AAAA-BBBB-CCCC-DDDD"))).decode()
    unsigned = (
        ("/parents/api/claim", {"code": [], "public_key": key, "proof": proof}, "code"),
        ("/parents/api/claim", {"code": "AAAA-BBBB-CCCC-DDDD", "public_key": 1234,
                                "proof": proof}, "public_key"),
        ("/parents/api/claim", {"code": "AAAA-BBBB-CCCC-DDDD", "public_key": key,
                                "proof": {"a": 1}}, "proof"),
        ("/parents/api/login", {"key_id": ["x"], "nonce": "n", "signature": proof}, "key_id"),
        ("/parents/api/login", {"key_id": "x", "nonce": 5, "signature": proof}, "nonce"),
        ("/parents/api/login", {"key_id": "x", "nonce": "n", "signature": None}, "signature"),
        ("/api/v1/terminals/enrol", {"token": [], "sign_pub": key, "box_pub": key,
                                     "proof": proof}, "token"),
        ("/api/v1/terminals/enrol", {"token": "t", "sign_pub": 1234, "box_pub": key,
                                     "proof": proof}, "sign_pub"),
        ("/api/v1/terminals/enrol", {"token": "t", "sign_pub": key, "box_pub": key,
                                     "proof": proof, "software_version": {"v": 1}},
         "software_version"),
    )
    signed_in = (
        ("/parents/api/month", {"child_id": CHILD, "month": "2026-03", "kind": "dispute",
                                "days": ["2026-03-03"], "comment": {"a": 1}}, "comment"),
        ("/parents/api/month", {"child_id": CHILD, "month": ["2026-03"], "kind": "confirm"},
         "month"),
        ("/parents/api/month", {"child_id": 7, "month": "2026-03", "kind": "confirm"},
         "child_id"),
        ("/parents/api/month", {"child_id": CHILD, "month": "2026-03", "kind": "dispute",
                                "days": [3], "comment": "x"}, "days"),
        ("/parents/api/consent", {"child_id": CHILD, "action": ["grant"], "until": None,
                                  "signed_at_ms": 1, "signature": proof}, "action"),
        ("/parents/api/consent", {"child_id": CHILD, "action": "grant", "until": 20270101,
                                  "signed_at_ms": 1, "signature": proof}, "until"),
        ("/parents/api/consent", {"child_id": CHILD, "action": "grant", "until": None,
                                  "signed_at_ms": 2**70, "signature": proof}, "signed_at_ms"),
        ("/parents/api/consent", {"child_id": CHILD, "action": "grant", "until": None,
                                  "signed_at_ms": True, "signature": proof}, "signed_at_ms"),
    )
    before = counts(sqlite_server)
    for path, body, field in unsigned:
        answer = requests.post(sqlite_server.url + path, json=body, timeout=10)
        error = refused(answer, 400, "malformed")
        assert error["field"] == field, (path, error)
        assert field in error["message"], (path, error)
    for path, body, field in signed_in:
        error = refused(fresh.post(sqlite_server.url, path, body), 400, "malformed")
        assert error["field"] == field, (path, error)
        assert field in error["message"], (path, error)
    assert counts(sqlite_server) == before


def test_wrong_json_types_of_signed_terminal_requests(
        sqlite_server: ServerProcess, terminal_home: tuple[Path, str]) -> None:
    home, terminal_id = terminal_home
    before = counts(sqlite_server)
    for path, body in (
            ("/api/v1/terminal/faces/templates", {"template_id": "t", "key_id": "k",
                                                  "child_id": CHILD, "consent_record": 2**63,
                                                  "blob": "AA=="}),
            ("/api/v1/terminal/faces/templates", {"template_id": "t", "key_id": "k",
                                                  "child_id": CHILD, "consent_record": 1,
                                                  "blob": 1234}),
            ("/api/v1/terminal/faces/sync", {"have": [], "keys": [], "erased": [
                {"template_id": "t", "erased_at_us": 2**64, "reason": "consent_withdrawn"}]}),
            ("/api/v1/terminal/faces/sync", {"have": [], "keys": [], "erased": [
                {"template_id": "t", "erased_at_us": 1, "reason": ["consent_withdrawn"]}]}),
            ("/api/v1/terminal/faces/keys", {"wraps": [{"key_id": "k", "terminal_id": "t",
                                                        "sealed": 1234}]}),
            ("/api/v1/terminal/consent/withdrawals", {"request_id": "r", "sealed": []})):
        answer = signed_post(sqlite_server, home, terminal_id, path, json.dumps(body).encode())
        refused(answer, 400, "malformed")
    assert counts(sqlite_server) == before


def test_the_challenge_is_stateless_and_used_once(sqlite_server: ServerProcess) -> None:
    phone_owner = guardian_client(sqlite_server, CHILD)
    before = counts(sqlite_server)
    url = sqlite_server.url + "/parents/api/challenge"
    heads = [requests.head(url, timeout=10) for _ in range(3)]
    assert [h.status_code for h in heads] == [200, 200, 200]
    nonce = requests.get(url, timeout=10).json()["nonce"]
    assert counts(sqlite_server) == before  # GET and HEAD wrote nothing
    key = phone_owner.phone.key_id

    def login(text: str) -> requests.Response:
        message = login_message(text) if text.isascii() else text.encode()
        signature = base64.b64encode(phone_owner.phone.sign(message)).decode()
        return requests.post(sqlite_server.url + "/parents/api/login", timeout=10,
                             json={"key_id": key, "nonce": text, "signature": signature})

    issued, random_part, mac = nonce.split(".")
    for forged in (f"{issued}.{random_part}.{'A' * len(mac)}",
                   f"{int(issued) - 1}.{random_part}.{mac}",
                   f"{int(issued) - 200_000}.{random_part}.{mac}", "ۍ" * 20):
        refused(login(forged), 401, "challenge_invalid")
    assert counts(sqlite_server) == before
    first = login(nonce)
    assert first.status_code == 200, first.text
    refused(login(nonce), 401, "challenge_invalid")  # a replay opens nothing


def test_undeclared_methods_and_options_answer_json_with_allow(
        sqlite_server: ServerProcess) -> None:
    before = counts(sqlite_server)
    for method, path, allowed in (("DELETE", "/api/v1/health", "GET"),
                                  ("PUT", "/parents/api/claim", "POST"),
                                  ("PATCH", "/parents/api/challenge", "GET"),
                                  ("FOO", "/api/v1/batches", "POST"),
                                  ("POST", "/api/v1/openapi.json", "GET"),
                                  ("DELETE", "/parents/", "GET")):
        answer = requests.request(method, sqlite_server.url + path, timeout=10)
        error = refused(answer, 405, "method_not_allowed")
        assert allowed in answer.headers["Allow"].split(", ")
        assert "OPTIONS" in answer.headers["Allow"]
        assert allowed in error["allow"]
    for path, allowed in (("/api/v1/health", "GET"), ("/parents/api/claim", "POST"),
                          ("/parents/api/challenge", "HEAD"), ("/finance/login", "POST")):
        answer = requests.options(sqlite_server.url + path, timeout=10)
        assert answer.status_code == 200
        assert answer.headers["Content-Type"].startswith("application/json")
        assert allowed in answer.headers["Allow"].split(", ")
        assert answer.json() == {"ok": True, "allow": answer.headers["Allow"].split(", ")}
    refused(requests.options(sqlite_server.url + "/api/v1/nothing", timeout=10), 404,
            "not_found")
    assert counts(sqlite_server) == before
