"""Pure pieces of the queue-core exchange: submission signatures and the JSON roster rules."""

from __future__ import annotations

import os

import pytest

from protocol import crypto
from protocol.errors import SignatureError
from protocol.submissions import sign_submission, verify_submission
from provisioning.errors import InvalidInput
from provisioning.roster import COLUMNS, parse_records
from tests.helpers import ROSTER_TODAY, roster_csv

SEED = bytes(range(32))
KEY = "qatys:KG1:2026-03:r1:0123456789ab"
BODY = b'{"kind":"funding-statement","total":"30000.00"}'


def test_a_signed_submission_verifies() -> None:
    header = sign_submission(SEED, KEY, BODY)
    verify_submission(crypto.signing_public_key(SEED), KEY, BODY, header)


@pytest.mark.parametrize(("key", "body", "expected"), [
    (KEY, BODY.replace(b"30000", b"90000"), "bad_signature"),     # altered amount
    ("qatys:KG1:2026-03:r2:0123456789ab", BODY, "bad_signature"),  # replayed under another key
    ("short", BODY, "bad_idempotency_key"),
    ("qatys key with spaces", BODY, "bad_idempotency_key"),
])
def test_forged_submissions_are_refused(key: str, body: bytes, expected: str) -> None:
    header = sign_submission(SEED, KEY, BODY)
    with pytest.raises(SignatureError) as refused:
        verify_submission(crypto.signing_public_key(SEED), key, body, header)
    assert refused.value.code == expected


def test_another_servers_key_and_garbled_headers_are_refused() -> None:
    other = os.urandom(32)
    header = sign_submission(other, KEY, BODY)
    with pytest.raises(SignatureError) as refused:
        verify_submission(crypto.signing_public_key(SEED), KEY, BODY, header)
    assert refused.value.code == "unknown_key"
    for garbled in ("", "ed25519", header.replace("sig=", "sig=!"), header + " extra"):
        with pytest.raises(SignatureError):
            verify_submission(crypto.signing_public_key(SEED), KEY, BODY, garbled)


def _records(count: int) -> list[dict[str, str | None]]:
    text, _ = roster_csv(count, prefix="js")
    lines = text.splitlines()
    return [dict(zip(COLUMNS, [v or None if k == "withdrawn_on" else v
                               for k, v in zip(COLUMNS, line.split(","), strict=True)],
                     strict=True)) for line in lines[1:]]


def test_json_roster_follows_the_csv_rules() -> None:
    records = _records(3)
    assert [c.child_id for c in parse_records({"children": records}, ROSTER_TODAY)] == \
        [r["child_id"] for r in records]
    for payload, problem in [
        ([], "JSON object"),
        ({"rows": records}, "JSON object"),
        ({"children": [*records, records[0]]}, "children[3]: duplicate child_id"),
        ({"children": [{**records[0], "extra": "x"}]}, "children[0]: wrong fields"),
        ({"children": [{**records[0], "iin": 123}]}, "children[0]: wrong fields"),
        ({"children": [{**records[0], "birth_date": "15.03.2020"}]}, "children[0]: birth_date"),
        ({"children": []}, "no rows"),
    ]:
        with pytest.raises(InvalidInput) as refused:
            parse_records(payload, ROSTER_TODAY)
        assert problem in " ".join([str(refused.value), *refused.value.problems]), payload
