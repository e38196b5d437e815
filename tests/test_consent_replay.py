"""A consent message signed on a phone counts once: sent again (a grant after its later
withdrawal, a withdrawal again, or an older message held back) it is refused with 409
`replayed_consent` and the ledger does not change (SQLite and PostgreSQL)."""

from __future__ import annotations

import base64
import json
import time

import requests

from qatys.timeutil import local_date, now_us
from server.families.consent import consent_message, longest_until
from tests.helpers import GuardianClient, ServerProcess, guardian_client, run

CHILD = "child-00012-x7q"


def _signed(guardian: GuardianClient, action: str, signed_at_ms: int,
            child: str = CHILD) -> dict[str, object]:
    until = longest_until(local_date(now_us())).isoformat() if action == "grant" else ""
    text = consent_message(action, child, "KG1", until, signed_at_ms)
    return {"child_id": child, "action": action, "until": until, "signed_at_ms": signed_at_ms,
            "signature": base64.b64encode(guardian.phone.sign(text.encode())).decode()}


def _send(server: ServerProcess, guardian: GuardianClient,
          body: dict[str, object]) -> requests.Response:
    return guardian.post(server.url, "/parents/api/consent", body)


def _ledger(server: ServerProcess, child: str = CHILD) -> list[tuple[str, str]]:
    out = run("consent", "ledger", "--data", str(server.data_dir), "--child", child).stdout
    return [(r["action"], r["source"]) for r in map(json.loads, out.splitlines())
            if "template_id" not in r]


def _refused_as_replay(answer: requests.Response) -> None:
    assert answer.status_code == 409, answer.text
    assert answer.json()["error"]["code"] == "replayed_consent"


def test_a_grant_replayed_after_its_withdrawal_is_refused(server: ServerProcess) -> None:
    guardian = guardian_client(server, CHILD)
    now_ms = int(time.time() * 1000)
    held_back = _signed(guardian, "grant", now_ms - 2000)  # signed, never sent (yet)
    grant = _signed(guardian, "grant", now_ms - 1000)
    withdraw = _signed(guardian, "withdraw", now_ms)
    assert _send(server, guardian, grant).status_code == 200
    assert _send(server, guardian, withdraw).status_code == 200
    before = _ledger(server)
    assert before == [("grant", "phone"), ("withdraw", "phone")]
    for replay in (grant, withdraw, held_back):
        _refused_as_replay(_send(server, guardian, replay))
    assert _ledger(server) == before
    states = json.loads(run("consent", "list", "--data", str(server.data_dir),
                            "--kindergarten", "KG1", "--format", "json").stdout)
    assert {s["child_id"]: s["status"] for s in states}[CHILD] == "withdrawn"
    log = (server.data_dir / "logs" / "server.log").read_text()
    assert '"code": "replayed_consent"' in log
    # Signed anew, a grant counts again.
    assert _send(server, guardian, _signed(guardian, "grant", now_ms + 1)).status_code == 200
    assert _ledger(server) == [*before, ("grant", "phone")]


def test_the_same_message_twice_counts_once(server: ServerProcess) -> None:
    child = "child-00013-x7q"
    guardian = guardian_client(server, child)
    grant = _signed(guardian, "grant", int(time.time() * 1000), child)
    assert _send(server, guardian, grant).status_code == 200
    _refused_as_replay(_send(server, guardian, grant))
    assert _ledger(server, child) == [("grant", "phone")]


def test_each_guardians_messages_are_judged_apart(server: ServerProcess) -> None:
    child = "child-00014-x7q"
    mother, father = guardian_client(server, child), guardian_client(server, child)
    now_ms = int(time.time() * 1000)
    assert _send(server, mother, _signed(mother, "grant", now_ms, child)).status_code == 200
    # The father's phone clock is a little behind: his own first message is still fresh.
    assert _send(server, father, _signed(father, "withdraw", now_ms - 500,
                                         child)).status_code == 200
    assert _ledger(server, child) == [("grant", "phone"), ("withdraw", "phone")]
