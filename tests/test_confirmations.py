"""Guardians confirm or dispute a month only in its window; a dispute stays in the record and
shows next to the statement for finance staff and the director. The app runs with a clock the
test sets; the phone key is made here as a browser would (ECDSA P-256)."""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from flask.testing import FlaskClient
from sqlalchemy import func, select

from qatys.timeutil import from_datetime
from server.app import create_app
from server.config import load_config
from server.datadir import init_data_dir, open_data_dir
from server.families.guardians import claim_message, create_invitation
from server.staff.accounts import add_user
from server.storage import db
from tests.helpers import Phone, roster_csv, run


class Clock:
    def __init__(self, moment: str) -> None:
        self.set(moment)

    def set(self, moment: str) -> None:
        self.now = from_datetime(datetime.fromisoformat(moment).replace(tzinfo=UTC))

    def __call__(self) -> int:
        return self.now


@pytest.fixture
def site(tmp_path: Path) -> tuple[FlaskClient, Clock, Path]:
    init_data_dir(tmp_path, None)
    run("kindergarten", "add", "--data", str(tmp_path), "--code", "KG1", "--name", "KG 1")
    text, _ = roster_csv(3)
    (tmp_path / "roster.csv").write_text(text, encoding="utf-8")
    run("roster", "import", "--data", str(tmp_path), "--kindergarten", "KG1",
        str(tmp_path / "roster.csv"))
    run("kindergarten", "add", "--data", str(tmp_path), "--code", "KG2", "--name", "KG 2")
    other, _ = roster_csv(1, prefix="other")
    (tmp_path / "other.csv").write_text(other, encoding="utf-8")
    run("roster", "import", "--data", str(tmp_path), "--kindergarten", "KG2",
        str(tmp_path / "other.csv"))
    clock = Clock("2026-11-23T06:00:00")
    data = open_data_dir(tmp_path)
    with data.transaction() as conn:
        invitation = create_invitation(conn, "child-00000-x7q", "director", clock())
        add_user(conn, "fin", "finance-pass-1", "finance", None, 0)
    client = create_app(config=load_config(tmp_path), clock=clock).test_client()
    phone = Phone()
    spki = phone.private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    answer = client.post("/parents/api/claim", json={
        "code": invitation.code, "public_key": base64.b64encode(spki).decode(),
        "proof": base64.b64encode(phone.sign(claim_message(invitation.code))).decode()})
    assert answer.status_code == 200, answer.json
    client.environ_base["HTTP_X_QATYS_CSRF"] = answer.json["csrf"]  # as app.js sends it
    return client, clock, tmp_path


def _month(client: FlaskClient, **body: object) -> tuple[int, dict[str, object]]:
    answer = client.post("/parents/api/month", json={"child_id": "child-00000-x7q",
                                                      "month": "2026-10", **body})
    return answer.status_code, answer.json or {}


def _count(data_dir: Path) -> int:
    engine = open_data_dir(data_dir).engine
    with engine.connect() as conn:
        count = int(conn.execute(select(func.count())
                                 .select_from(db.month_confirmations)).scalar_one())
    engine.dispose()
    return count


def test_outside_the_window_nothing_is_recorded(site: tuple[FlaskClient, Clock, Path]) -> None:
    client, _, data_dir = site
    status, body = _month(client, kind="confirm")
    assert status == 409
    error = body["error"]
    assert isinstance(error, dict)
    assert error["code"] == "confirmation_closed"
    assert "2026-11-01 to 2026-11-07" in str(error["message"])
    page = client.get("/parents/child/child-00000-x7q?month=2026-10&lang=ru").text
    assert "Срок закрыт" in page
    assert _count(data_dir) == 0


def test_in_the_window_a_dispute_is_kept_and_shown_to_finance(
        site: tuple[FlaskClient, Clock, Path]) -> None:
    client, clock, data_dir = site
    clock.set("2026-11-03T06:00:00")
    assert _month(client, kind="confirm")[0] == 200
    refused = [_month(client, kind="dispute", days=["2026-10-05"]),             # no comment
               _month(client, kind="dispute", days=["2026-11-05"], comment="x"),  # not October
               _month(client, kind="dispute", days=[], comment="x"),
               _month(client, kind="maybe")]
    assert [status for status, _ in refused] == [400, 400, 400, 400]
    other = client.post("/parents/api/month", json={"child_id": "child-00001-x7q",
                                                     "month": "2026-10", "kind": "confirm"})
    assert other.status_code == 404  # not this guardian's child
    assert _month(client, kind="dispute", days=["2026-10-05", "2026-10-06"],
                  comment="Бала 5-6 қазанда болды")[0] == 200
    assert _count(data_dir) == 2  # the confirmation stays in the record

    finance = create_app(config=load_config(data_dir), clock=clock).test_client()
    login = finance.get("/finance/login").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', login)
    assert csrf is not None
    finance.post("/finance/login", data={"csrf": csrf.group(1), "username": "fin",
                                         "password": "finance-pass-1"})
    page = finance.get("/finance/k/KG1/2026-10").text
    shown = re.search(r'data-child="child-00000-x7q" data-kind="(\w+)".*?</div>', page, re.S)
    assert shown is not None
    assert shown.group(1) == "dispute"
    assert "2026-10-05, 2026-10-06" in shown.group(0)
    assert "Бала 5-6 қазанда болды" in shown.group(0)


def test_a_child_of_another_kindergarten_is_not_there(
        site: tuple[FlaskClient, Clock, Path]) -> None:
    client, clock, _ = site
    clock.set("2026-11-03T06:00:00")
    assert client.get("/parents/child/other-00000-x7q").status_code == 404
    assert client.post("/parents/api/month", json={
        "child_id": "other-00000-x7q", "month": "2026-10", "kind": "confirm"}).status_code == 404
    me = client.get("/parents/api/me").json
    assert me is not None
    assert [c["child_id"] for c in me["children"]] == ["child-00000-x7q"]


def test_invitations_refused_when_unknown_expired_or_badly_proven(
        site: tuple[FlaskClient, Clock, Path]) -> None:
    client, clock, data_dir = site
    data = open_data_dir(data_dir)
    with data.transaction() as conn:
        invitation = create_invitation(conn, "child-00001-x7q", "director", clock())
    phone = Phone()
    spki = base64.b64encode(phone.private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)).decode()

    def claim(code: str, proof: bytes) -> tuple[int, str]:
        answer = client.post("/parents/api/claim", json={
            "code": code, "public_key": spki, "proof": base64.b64encode(proof).decode()})
        return answer.status_code, (answer.json or {})["error"]["code"]

    good_proof = phone.sign(claim_message(invitation.code))
    assert claim("AAAA-BBBB-CCCC-DDDD", good_proof) == (404, "invitation_unknown")
    assert claim(invitation.code, phone.sign(b"something else")) == (400, "bad_signature")
    clock.now += 8 * 86_400 * 1_000_000
    assert claim(invitation.code, good_proof) == (410, "invitation_expired")
    with data.engine.connect() as conn:
        guardians = conn.execute(select(func.count()).select_from(db.guardians)).scalar_one()
    assert guardians == 1  # only the fixture's phone
