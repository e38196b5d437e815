"""Golden vectors: the terminal's encoder and the server's verifier agree with pinned bytes."""

from __future__ import annotations

import json
from pathlib import Path

from protocol import acks, batches, events
from tests.vectors.make_vectors import build

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
