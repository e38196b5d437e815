"""A link for tests that misbehaves on purpose between two real processes (a TamperingProxy
with one rule for every path).

Per request it picks one fault: pass through, drop the answer after the server
committed, send the request twice, delay, or cut the answer short.
"""

from __future__ import annotations

import random
import threading
import time

from tests.tampering_proxy import DROPPED, Answer, Forward, Request, TamperingProxy

FAULTS = ("pass", "drop_response", "duplicate", "delay", "truncate")


class FaultyProxy:
    def __init__(self, upstream: str, seed: int) -> None:
        self.rng = random.Random(seed)
        self.faults_on = False
        self.seen: dict[str, int] = dict.fromkeys(FAULTS, 0)
        self.scripted: list[str] = []
        """Faults for the next requests, in order, before any random ones."""
        self._lock = threading.Lock()
        self._proxy = TamperingProxy(upstream, default=self._misbehave)

    @property
    def url(self) -> str:
        return self._proxy.url

    def close(self) -> None:
        self._proxy.close()

    def _pick(self) -> str:
        with self._lock:
            if self.scripted:
                fault = self.scripted.pop(0)
            else:
                fault = self.rng.choice(FAULTS) if self.faults_on else "pass"
            self.seen[fault] += 1
            return fault

    def _misbehave(self, request: Request, forward: Forward) -> Answer:
        fault = self._pick()
        if fault == "delay":
            time.sleep(self.rng.uniform(0.05, 0.4))
        answer = forward(request)
        if fault == "duplicate" and answer is not DROPPED:
            answer = forward(request)
        if fault == "drop_response":
            return DROPPED
        return Answer(answer.status, answer.headers, answer.body, cut=fault == "truncate") \
            if answer is not DROPPED else DROPPED
