"""Simulated terminals for the country-scale benchmarks (issue 19): many terminals' keys,
enrolments and signed morning batches, made in the bench's own process.

A thousand `qatys terminal enroll` runs would take a quarter of an hour of start-ups, so the
terminals here are enrolled through the registry's own functions (one token issued and
consumed per terminal, the same rows the enrolment API writes). Their batches are built
exactly as a terminal builds them: bodies sealed to the server's box key under a sealing
epoch of up to 256 bodies (terminal/sealer.py), events chained, the batch signed with the
terminal's Ed25519 key. Only the enrolment's HTTP round trip is skipped; what the server then
does with a batch is the real thing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from sqlalchemy import Engine

from protocol import batches, crypto, enrolment, events
from server.registry.kindergartens import add_kindergarten
from server.registry.terminals import enrol_terminal, issue_token
from server.storage import db

MORNING_START_US = 1_764_561_600_000_000
"""07:00 Almaty on 1 December 2025, when the simulated mornings begin."""


@dataclass
class SimTerminal:
    """One simulated door: its keys, its enrolment and where its chain stands."""

    terminal_id: str
    kindergarten: str
    sign_seed: bytes
    seq: int = 0
    head: bytes = events.GENESIS_HASH

    def events(self, count: int, server_box_public: bytes, start_us: int) -> list[bytes]:
        """The next ``count`` arrivals of this door, one child each, chained on its head."""
        raws: list[bytes] = []
        skey = crypto.sealing_key(os.urandom(32), server_box_public)
        for i in range(count):
            if i and i % 256 == 0:
                skey = crypto.sealing_key(os.urandom(32), server_box_public)
            self.seq += 1
            child = f"{self.kindergarten}-child-{(self.seq - 1) % 100:03d}"
            body = events.seal_body(events.Body(child), self.terminal_id, skey,
                                    os.urandom(crypto.NONCE_SIZE))
            raw = events.encode_event(events.Event(
                self.terminal_id, self.seq, self.head, start_us + self.seq * 1_000_000,
                bytes(16), self.seq * 1_000, events.EventKind.ARRIVAL, events.Method.QR_CARD,
                events.Assurance.MEDIUM, body))
            self.head = events.event_hash(raw)
            raws.append(raw)
        return raws

    def batches(self, count: int, server_box_public: bytes, start_us: int = MORNING_START_US,
                per_batch: int = batches.MAX_BATCH_EVENTS) -> list[bytes]:
        """``count`` more events as the signed batch bodies the terminal would post."""
        raws = self.events(count, server_box_public, start_us)
        return [batches.build_batch(self.terminal_id, self.kindergarten, raws[i:i + per_batch],
                                    self.sign_seed)
                for i in range(0, len(raws), per_batch)]


def make_fleet(engine: Engine, server_sign_public: bytes, kindergartens: int,
               terminals_per_kindergarten: int, now_us: int) -> list[SimTerminal]:
    """Add ``kindergartens`` kindergartens and enrol that many doors in each."""
    fleet: list[SimTerminal] = []
    with db.writing(engine) as conn:
        for k in range(kindergartens):
            code = f"BK{k:05d}"
            add_kindergarten(conn, code, f"Балабақша {k}", six_day=False)
            for _ in range(terminals_per_kindergarten):
                seed = os.urandom(32)
                sign_pub = crypto.signing_public_key(seed)
                box_pub = crypto.box_public_key(os.urandom(32))
                token = issue_token(conn, code, server_sign_public, now_us)
                text = str(token)
                proof = crypto.sign(seed, enrolment.proof_input(text, sign_pub, box_pub))
                done = enrol_terminal(conn, text, sign_pub, box_pub, proof, "bench", now_us)
                fleet.append(SimTerminal(done.terminal_id, code, seed))
    return fleet
