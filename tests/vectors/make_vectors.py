"""Regenerate tests/vectors/v1.json — only when the wire format changes on purpose (new version).

Fixed keys, nonces and times make every byte reproducible.
"""

from __future__ import annotations

import json
from pathlib import Path

from protocol import acks, batches, crypto, events

TERMINAL_SEED = bytes(range(1, 33))
SERVER_SEED = bytes(range(33, 65))
SERVER_BOX = bytes(range(65, 97))
EPHEMERAL = bytes(range(97, 129))


def build() -> dict[str, object]:
    skey = crypto.sealing_key(EPHEMERAL, crypto.box_public_key(SERVER_BOX))
    prev, raws, bodies = events.GENESIS_HASH, [], []
    for seq, (child, method, kind) in enumerate(
            [("KG1-0001", "qr-card", "arrival"), ("KG1-0002", "manual", "arrival"),
             ("KG1-0001", "qr-card", "departure")], start=1):
        body = events.Body(child, reason="card forgotten" if method == "manual" else "")
        sealed = events.seal_body(body, "T-VECTOR1", skey, bytes([seq]) * 12)
        raw = events.encode_event(events.Event(
            "T-VECTOR1", seq, prev, 1_763_870_400_000_000 + seq * 60_000_000,
            bytes(range(16)), 5_000_000_000 + seq, kind, method,
            "low" if method == "manual" else "medium", sealed))
        raws.append(raw)
        bodies.append({"child_id": body.child_id, "reason": body.reason})
        prev = events.event_hash(raw)
    batch = batches.build_batch("T-VECTOR1", "KG1", raws, TERMINAL_SEED)
    ack_raw, ack_sig = acks.sign_ack(acks.Ack("T-VECTOR1", 3, prev, 3, 1_763_870_700_000_000),
                                     SERVER_SEED)
    return {
        "terminal_seed": TERMINAL_SEED.hex(), "terminal_public": crypto.signing_public_key(
            TERMINAL_SEED).hex(),
        "server_seed": SERVER_SEED.hex(), "server_public": crypto.signing_public_key(
            SERVER_SEED).hex(),
        "server_box_private": SERVER_BOX.hex(), "ephemeral_private": EPHEMERAL.hex(),
        "events": [r.hex() for r in raws], "event_hashes": [events.event_hash(r).hex()
                                                              for r in raws],
        "bodies": bodies, "batch": batch.hex(), "ack": ack_raw.hex(),
        "ack_signature": ack_sig.hex(),
    }


if __name__ == "__main__":
    path = Path(__file__).with_name("v1.json")
    path.write_text(json.dumps(build(), indent=1) + "\n")
    print(f"wrote {path}")
