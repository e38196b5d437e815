"""Regenerate tests/vectors/v1.json and v2.json — only when the wire format changes on purpose
(a new version). v1 pins the messages (events, batches, acknowledgements), whose bytes
protocol 2 kept; v2 pins how protocol 2 signs requests and answers.

Fixed keys, nonces and times make every byte reproducible.
"""

from __future__ import annotations

import json
from pathlib import Path

from protocol import acks, auth, batches, crypto, events

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


NONCE = auth.nonce_text(bytes(range(16)))
REQUEST_TIME_S = 1_763_870_700
ANSWER = b'{"ok":true,"server_time_us":1763870700123456,"terminal_id":"T-VECTOR1"}\n'


def build_v2() -> dict[str, object]:
    """A signed GET with a query, a signed POST with a body, and the server's answer."""
    get = auth.request_signing_input("GET", "/api/v1/terminal/roster", "known=0123456789abcdef",
                                     "T-VECTOR1", REQUEST_TIME_S, NONCE, b"")
    body = b'{"pending":0}'
    post = auth.request_signing_input("POST", "/api/v1/terminal/health", "", "T-VECTOR1",
                                      REQUEST_TIME_S, NONCE, body)
    answer = auth.answer_signing_input("GET", "/api/v1/terminal/time", "", "T-VECTOR1", NONCE,
                                       200, ANSWER)
    return {
        "terminal_seed": TERMINAL_SEED.hex(), "server_seed": SERVER_SEED.hex(),
        "nonce": NONCE, "time_s": REQUEST_TIME_S,
        "get_signing_input": get.decode(), "get_signature": crypto.sign(TERMINAL_SEED,
                                                                         get).hex(),
        "post_body": body.decode(), "post_signing_input": post.decode(),
        "post_signature": crypto.sign(TERMINAL_SEED, post).hex(),
        "answer_body": ANSWER.decode(), "answer_signing_input": answer.decode(),
        "answer_signature": auth.sign_answer(SERVER_SEED, answer),
    }


if __name__ == "__main__":
    for name, content in (("v1.json", build()), ("v2.json", build_v2())):
        path = Path(__file__).with_name(name)
        path.write_text(json.dumps(content, indent=1, ensure_ascii=False) + "\n")
        print(f"wrote {path}")
