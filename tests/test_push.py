"""Web Push against one real server process (SQLite) and a real terminal: a stand-in push
service on 127.0.0.1 (tests/push_standin.py) holds the phones' keys and decrypts what the
server sends (RFC 8291), checking its VAPID signature (RFC 8292). A subscription registered →
a card scanned at a terminal + sync → exactly one message with the child's first name, the
local time and the receipt; a repeated sync → none; an endpoint answering 410 → the
subscription dropped; the endpoint down → retried and delivered once back; "not collected
yet" once at closing time; an absence report's outcome; bad subscribe bodies refused with
nothing written; in Chromium (no push service) a clear message and nothing stored."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import select

from qatys.timeutil import LOCAL_ZONE, local_date, now_us, to_datetime
from server.datadir import open_data_dir
from server.push.outbox import enqueue_events
from server.storage import db
from tests.browser import Page, artefact
from tests.conftest import _seed
from tests.helpers import (
    GuardianClient,
    ServerProcess,
    add_user,
    claim_in_browser,
    enrol,
    guardian_client,
    invite_url,
    matching_rows,
    open_page,
    page_csrf,
    row_counts,
    run,
    staff_session,
    start_server,
)
from tests.push_standin import PushStandIn, Received

PASSWORD = "director-pass-p1"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """The seeded server on SQLite, taking subscriptions at the stand-in on 127.0.0.1."""
    data = tmp_path_factory.mktemp("server-push")
    # The tests run the sender's passes themselves: no worker beside the server.
    process = start_server(data, settings={"push_allow_loopback": True, "run_worker": False})
    try:
        _seed(data)
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="module")
def push_service() -> Iterator[PushStandIn]:
    stand_in = PushStandIn().start()
    yield stand_in
    stand_in.stop()


@dataclass(frozen=True)
class Door:
    home: Path
    env: dict[str, str]
    base: Path


@pytest.fixture(scope="module")
def door(server: ServerProcess, tmp_path_factory: pytest.TempPathFactory) -> Door:
    base = tmp_path_factory.mktemp("push-door")
    env = {"QATYS_RUNTIME_DIR": str(base / "run")}
    enrol(server, base / "home", env)
    return Door(base / "home", env, base)


def scan(server: ServerProcess, door: Door, child: str) -> dict[str, Any]:
    """The child's card scanned at the terminal, then the terminal synced."""
    card = door.base / f"{child}.png"
    if not card.exists():
        run("card", "issue", "--data", str(server.data_dir), "--child", child, "--out",
            str(card))
        sync(door)
    scanned: dict[str, Any] = json.loads(run("terminal", "scan", "--home", str(door.home),
                                             str(card), env=door.env).stdout.splitlines()[-1])
    assert scanned["result"] == "accepted", scanned
    sync(door)
    return scanned


def sync(door: Door) -> None:
    run("terminal", "sync", "--home", str(door.home), "--quiet", env=door.env)


def notify(server: ServerProcess, *flags: str) -> dict[str, int]:
    """One pass of the sender (`qatys server notify --once`)."""
    out = run("server", "notify", "--data", str(server.data_dir), "--once", *flags)
    counts: dict[str, int] = json.loads(out.stdout.splitlines()[-1])
    return counts


def subscribed(server: ServerProcess, push_service: PushStandIn, child: str
               ) -> tuple[GuardianClient, dict[str, Any]]:
    parent = guardian_client(server, child)
    subscription = push_service.subscribe()
    answer = parent.post(server.url, "/parents/api/push/subscribe", subscription)
    assert answer.status_code == 200, answer.text
    return parent, subscription


def of_kind(messages: list[Received], *kinds: str) -> list[dict[str, Any]]:
    return [m.payload for m in messages if m.payload["kind"] in kinds]


def events_of(server: ServerProcess, child: str) -> list[dict[str, Any]]:
    data = open_data_dir(server.data_dir)
    try:
        with data.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(
                select(db.events).where(db.events.c.child_id == child)
                .order_by(db.events.c.recorded_at_us))]
    finally:
        data.engine.dispose()


def first_name(server: ServerProcess, child: str) -> str:
    data = open_data_dir(server.data_dir)
    try:
        with data.engine.connect() as conn:
            return str(conn.execute(select(db.children.c.first_name)
                                    .where(db.children.c.child_id == child)).scalar_one())
    finally:
        data.engine.dispose()


def counts(server: ServerProcess) -> dict[str, int]:
    return row_counts(server, db.push_subscriptions, db.push_outbox)


def test_the_application_server_key_is_a_p256_point(server: ServerProcess) -> None:
    answer = requests.get(server.url + "/parents/api/push/key", timeout=10)
    assert answer.status_code == 200
    key = answer.json()["key"]
    raw = base64.urlsafe_b64decode(key + "=" * (-len(key) % 4))
    assert len(raw) == 65
    assert raw[0] == 4
    assert (server.data_dir / "keys" / "vapid-private.pem").stat().st_mode & 0o077 == 0
    again = run("server", "init", "--data", str(server.data_dir))  # idempotent: same key
    assert again.returncode == 0
    assert requests.get(server.url + "/parents/api/push/key", timeout=10).json()["key"] == key


def test_a_scan_and_sync_send_one_message_and_a_repeated_sync_none(
        server: ServerProcess, door: Door, push_service: PushStandIn) -> None:
    child = "child-00003-x7q"
    _, subscription = subscribed(server, push_service, child)
    scanned = scan(server, door, child)
    assert notify(server)["sent"] >= 1
    [message] = of_kind(push_service.wait_for(1, endpoint=subscription["endpoint"]), "arrival")
    [event] = events_of(server, child)
    moment = to_datetime(event["recorded_at_us"]).astimezone(LOCAL_ZONE).strftime("%H:%M")
    assert message["child_id"] == child
    assert message["time"] == moment
    assert message["receipt"] == event["receipt"]
    assert event["receipt"]
    assert message["body"].startswith(first_name(server, child) + " ")
    assert moment in message["body"]
    assert event["receipt"] in message["body"]
    assert scanned["result"] == "accepted"

    sync(door)  # a repeated sync, and the sender's sweep over the same events: nothing new
    assert notify(server)["sent"] == 0
    data = open_data_dir(server.data_dir)
    assert enqueue_events(data.engine, [event["event_id"]], now_us()) == 0
    data.engine.dispose()
    assert len(of_kind(push_service.messages(subscription["endpoint"]), "arrival")) == 1
    assert len(matching_rows(server, db.push_outbox, kind="arrival")) == 1


def test_a_subscription_answering_410_is_dropped(server: ServerProcess, door: Door,
                                                 push_service: PushStandIn) -> None:
    child = "child-00004-x7q"
    _, subscription = subscribed(server, push_service, child)
    push_service.answer(subscription["endpoint"], 410)
    scan(server, door, child)
    assert notify(server)["dropped"] >= 1
    [stored] = matching_rows(server, db.push_subscriptions, endpoint=subscription["endpoint"])
    assert stored["dropped_at_us"] is not None
    assert stored["drop_reason"] == "gone"
    rows = matching_rows(server, db.push_outbox, subscription_id=stored["id"])
    assert rows
    assert {r["status"] for r in rows} == {"dropped"}
    assert push_service.messages(subscription["endpoint"]) == []
    scan(server, door, child)  # the next passage: nothing for a dropped subscription
    notify(server)
    assert len(matching_rows(server, db.push_outbox, subscription_id=stored["id"])) == len(rows)


def test_an_endpoint_that_is_down_is_retried_and_delivered_once_back(
        server: ServerProcess, door: Door, push_service: PushStandIn) -> None:
    child = "child-00005-x7q"
    _, subscription = subscribed(server, push_service, child)
    push_service.stop()
    try:
        scan(server, door, child)
        first = notify(server)
        assert first["retrying"] >= 1
        assert first["sent"] == 0
        [row] = [r for r in matching_rows(server, db.push_outbox, kind="arrival")
                 if r["dedup_key"].endswith(f":{_subscription_id(server, subscription)}")]
        assert row["status"] == "pending"
        assert row["attempts"] == 1
        assert row["last_error"]
        assert row["next_attempt_at_us"] > now_us()
        assert notify(server)["sent"] == 0  # waiting out its backoff
    finally:
        push_service.start()
    assert notify(server, "--now")["sent"] >= 1
    received = of_kind(push_service.wait_for(1, endpoint=subscription["endpoint"]), "arrival")
    assert len(received) == 1
    assert received[0]["child_id"] == child
    notify(server, "--now")
    assert len(of_kind(push_service.messages(subscription["endpoint"]), "arrival")) == 1
    [row] = matching_rows(server, db.push_outbox, id=row["id"])
    assert row["status"] == "sent"
    assert row["attempts"] == 2


def _subscription_id(server: ServerProcess, subscription: dict[str, Any]) -> int:
    [stored] = matching_rows(server, db.push_subscriptions, endpoint=subscription["endpoint"])
    return int(stored["id"])


def test_not_collected_at_closing_time_is_sent_once(server: ServerProcess, door: Door,
                                                    push_service: PushStandIn) -> None:
    child = "child-00006-x7q"
    _, subscription = subscribed(server, push_service, child)
    scan(server, door, child)  # arrived, not gone
    run("kindergarten", "closing", "--data", str(server.data_dir), "--kindergarten", "KG1",
        "--at", "00:00")  # the day is over for this test: closing time has passed
    try:
        notify(server)
        notify(server)
        [message] = of_kind(push_service.wait_for(2, endpoint=subscription["endpoint"]),
                            "not-collected")
        assert message["child_id"] == child
        assert message["closes_at"] == "00:00"
        assert "00:00" in message["body"]
    finally:
        run("kindergarten", "closing", "--data", str(server.data_dir), "--kindergarten", "KG1",
            "--at", "23:59")


def test_an_absence_reports_outcome_is_sent(server: ServerProcess,
                                            push_service: PushStandIn) -> None:
    child = "child-00007-x7q"
    parent, subscription = subscribed(server, push_service, child)
    today = local_date(now_us()).isoformat()
    sent = parent.http.post(server.url + "/parents/api/absence-report", timeout=30,
                            data={"child_id": child, "first_day": today, "last_day": today,
                                  "reason": "illness", "note": ""},
                            headers={"X-Qatys-CSRF": parent.csrf})
    assert sent.status_code == 200, sent.text
    report_id = sent.json()["report"]
    add_user(server, "pushdir", "director", PASSWORD, "KG1")
    director = staff_session(server.url, "pushdir", PASSWORD)
    page = director.get(server.url + "/office/reports")
    decided = director.post(server.url + f"/office/reports/{report_id}/decline",
                            data={"csrf": page_csrf(page.text), "note": "no certificate"},
                            allow_redirects=False)
    assert decided.status_code == 303, decided.text[:500]
    notify(server)
    [message] = of_kind(push_service.wait_for(1, endpoint=subscription["endpoint"]),
                        "report-declined")
    assert message["child_id"] == child
    assert "no certificate" in message["body"]
    assert message["first_day"] == today


BAD_BODIES: list[tuple[Any, str | None]] = [
    ({"keys": {"p256dh": "x", "auth": "y"}}, None),
    ({"endpoint": "https://push.example/1"}, None),
    ({"endpoint": 5, "keys": {}}, "endpoint"),
    ({"endpoint": "ftp://push.example/1", "keys": {}}, None),
    ({"endpoint": "https://push.example/" + "a" * 2100, "keys": {}}, "endpoint"),
    ({"endpoint": "https://push.example/1", "keys": []}, "keys"),
    ({"endpoint": "https://push.example/1", "keys": {"auth": "AAAAAAAAAAAAAAAAAAAAAA"}},
     "p256dh"),
    ({"endpoint": "https://push.example/1", "keys": {"p256dh": "not base64!",
                                                       "auth": "AAAAAAAAAAAAAAAAAAAAAA"}},
     "p256dh"),
]


def test_bad_subscribe_bodies_are_refused_and_write_nothing(
        server: ServerProcess, push_service: PushStandIn) -> None:
    parent = guardian_client(server, "child-00008-x7q")
    good = push_service.subscribe()
    before = counts(server)
    cases: list[tuple[Any, str | None]] = [
        *BAD_BODIES,
        ({"endpoint": "http://push.example/1", "keys": good["keys"]}, "endpoint"),
        ({"endpoint": "https://user:pw@push.example/1", "keys": good["keys"]}, "endpoint"),
        ({"endpoint": "https://10.1.2.3/push/1", "keys": good["keys"]}, "endpoint"),
        ({"endpoint": "https://192.168.1.5/push/1", "keys": good["keys"]}, "endpoint"),
        ({"endpoint": "https://127.0.0.2/push/1", "keys": good["keys"]}, "endpoint"),
        ({"endpoint": "https://169.254.169.254/latest", "keys": good["keys"]}, "endpoint"),
        ({"endpoint": "https://push.example/1", "keys": {**good["keys"], "auth": "AAAA"}},
         "auth"),
        ({"endpoint": "https://push.example/1",
          "keys": {**good["keys"], "p256dh": good["keys"]["p256dh"][:-4] + "AAAA"}}, "p256dh"),
        ([good], None),
    ]
    for body, field in cases:
        answer = parent.post(server.url, "/parents/api/push/subscribe", body)
        assert answer.status_code == 400, (body, answer.text)
        error = answer.json()["error"]
        assert error["code"] == "malformed", (body, error)
        if field:
            assert error.get("field") == field, (body, error)
    assert parent.http.post(server.url + "/parents/api/push/subscribe", json=good,
                            timeout=10).status_code == 403  # no CSRF token
    assert requests.post(server.url + "/parents/api/push/subscribe", json=good,
                         timeout=10).status_code == 401  # not signed in
    assert counts(server) == before
    assert parent.post(server.url, "/parents/api/push/unsubscribe",
                       {"endpoint": good["endpoint"]}).json()["ended"] == 0
    assert counts(server) == before


def test_a_guardian_turns_notifications_off(server: ServerProcess,
                                            push_service: PushStandIn) -> None:
    parent, subscription = subscribed(server, push_service, "child-00009-x7q")
    answer = parent.post(server.url, "/parents/api/push/unsubscribe",
                         {"endpoint": subscription["endpoint"]})
    assert answer.status_code == 200
    assert answer.json()["ended"] == 1
    [stored] = matching_rows(server, db.push_subscriptions, endpoint=subscription["endpoint"])
    assert stored["drop_reason"] == "unsubscribed"


@pytest.mark.parametrize("language", ["kk", "ru"])
def test_a_browser_without_a_push_service_says_so_and_stores_nothing(
        server: ServerProcess, tmp_path: Path, language: str) -> None:
    child = {"kk": "child-00011-x7q", "ru": "child-00012-x7q"}[language]
    page = Page(tmp_path / "phone")
    try:
        claim_in_browser(page, invite_url(server, child))
        page.call("Browser.grantPermissions", origin=server.url,
                  permissions=["notifications"])
        open_page(page, f"{server.url}/parents/?lang={language}")
        page.wait_for("!document.getElementById('push-section').hidden")
        before = counts(server)
        page.evaluate("document.getElementById('push-on').click(); true")
        shown = page.wait_for("document.getElementById('push-status').textContent")
        page.screenshot(artefact(f"push-no-service-{language}.png"), full_page=True)
        expected = page.evaluate("document.getElementById('texts').dataset.pushUnsupported")
        assert shown == expected, (shown, page.evaluate(
            "document.getElementById('push-section').dataset.failure"))
        assert counts(server) == before
    finally:
        page.close()


@pytest.mark.parametrize(("language", "word"), [("kk", "әже"), ("ru", "бабушка")])
def test_a_departure_with_a_pickup_adult_names_her_relation(language: str, word: str) -> None:
    """The text says who collected the child in the guardian's language; the facts keep the
    code; an arrival or a guardian's own code names nobody."""
    from server.push.messages import passage
    from server.storage.db import PushKind

    left = json.loads(passage(language, PushKind.DEPARTURE, "c1", "Айша", 1_764_648_000_000_000,
                              "R-1", "grandmother"))
    assert word in left["body"]
    assert "Айша" in left["body"]
    assert left["relation"] == "grandmother"
    plain = json.loads(passage(language, PushKind.DEPARTURE, "c1", "Айша",
                               1_764_648_000_000_000, "R-1"))
    assert word not in plain["body"]
    assert plain["relation"] is None


def test_the_worker_sends_the_messages_too(server: ServerProcess, door: Door,
                                           push_service: PushStandIn) -> None:
    """`qatys server worker` runs the same steps (the worker `qatys server run` starts)."""
    child = "child-00017-x7q"
    _, subscription = subscribed(server, push_service, child)
    scan(server, door, child)
    run("server", "worker", "--data", str(server.data_dir), "--once")
    [message] = of_kind(push_service.wait_for(1, endpoint=subscription["endpoint"]), "arrival")
    assert message["child_id"] == child
    run("server", "worker", "--data", str(server.data_dir), "--once")  # nothing twice
    assert len(of_kind(push_service.messages(subscription["endpoint"]), "arrival")) == 1
