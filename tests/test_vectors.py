"""Golden vectors: the terminal's encoder and the server's verifier agree with pinned bytes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from protocol import acks, auth, batches, crypto, events
from protocol.errors import AnswerError
from tests.vectors.make_vectors import build, build_v2

VECTORS = json.loads((Path(__file__).parent / "vectors" / "v1.json").read_text())


def test_terminal_side_produces_the_pinned_bytes() -> None:
    assert build() == VECTORS


def test_server_side_verifies_and_opens_the_pinned_batch() -> None:
    batch = batches.parse_batch(bytes.fromhex(VECTORS["batch"]))
    verified = batches.verify_batch(batch, bytes.fromhex(VECTORS["terminal_public"]))
    assert [v.raw.hex() for v in verified] == VECTORS["events"]
    assert [v.hash.hex() for v in verified] == VECTORS["event_hashes"]
    batches.check_link(verified[0].event, events.GENESIS_HASH)
    server_box = bytes.fromhex(VECTORS["server_box_private"])
    opened = [events.open_body(v.event.body, v.event.terminal_id, server_box) for v in verified]
    assert [{"child_id": b.child_id, "reason": b.reason} for b in opened] == VECTORS["bodies"]
    ack = acks.verify_ack(bytes.fromhex(VECTORS["ack"]), bytes.fromhex(VECTORS["ack_signature"]),
                          bytes.fromhex(VECTORS["server_public"]))
    assert ack.seq == 3
    assert ack.head_hash.hex() == VECTORS["event_hashes"][-1]


VECTORS_V2 = json.loads((Path(__file__).parent / "vectors" / "v2.json").read_text())


def test_protocol_2_signs_requests_and_answers_as_pinned() -> None:
    assert build_v2() == VECTORS_V2


def test_the_pinned_answer_verifies_and_any_change_to_it_does_not() -> None:
    server_public = crypto.signing_public_key(bytes.fromhex(VECTORS_V2["server_seed"]))
    body = VECTORS_V2["answer_body"].encode()
    nonce = VECTORS_V2["nonce"]

    def signed(**change: object) -> bytes:
        parts: dict[str, object] = {"method": "GET", "path": "/api/v1/terminal/time",
                                    "query": "", "terminal_id": "T-VECTOR1", "nonce": nonce,
                                    "status": 200, "body": body, **change}
        return auth.answer_signing_input(**parts)  # type: ignore[arg-type]

    assert signed().decode() == VECTORS_V2["answer_signing_input"]
    auth.verify_answer(server_public, signed(), VECTORS_V2["answer_signature"])
    for change in ({"body": body.replace(b"T-VECTOR1", b"T-VECTOR2")}, {"status": 403},
                   {"nonce": "ff" * 16}, {"terminal_id": "T-VECTOR2"}, {"query": "x=1"},
                   {"path": "/api/v1/terminal/door"}):
        with pytest.raises(AnswerError) as refused:
            auth.verify_answer(server_public, signed(**change), VECTORS_V2["answer_signature"])
        assert refused.value.code == "bad_signature", change
    with pytest.raises(AnswerError) as missing:
        auth.verify_answer(server_public, signed(), None)
    assert missing.value.code == "unsigned"


def test_the_pinned_requests_verify_under_the_terminal_key() -> None:
    public = crypto.signing_public_key(bytes.fromhex(VECTORS_V2["terminal_seed"]))
    for name in ("get", "post"):
        crypto.verify(public, VECTORS_V2[f"{name}_signing_input"].encode(),
                      bytes.fromhex(VECTORS_V2[f"{name}_signature"]))
