"""Slow clients against a real server (issue 22; tests/test_slow_clients.py, bench/slow_clients.py).

:func:`slow_clients` holds ``connections`` connections that send a request's headers one
partial line every ``interval`` seconds and never finish them (a "slowloris"), opening a new
one whenever the server closes one; :func:`probe_health` meanwhile asks ``/api/v1/health``
once a second on a new connection, as any other client would. Loopback only."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass, field

import requests


@dataclass
class Attack:
    connections: int
    opened: int = 0
    closed_by_server: int = 0
    stop: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None

    def __enter__(self) -> Attack:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop.set()
        if self.thread is not None:
            self.thread.join(timeout=30)


def _open(host: str, port: int) -> socket.socket | None:
    try:
        sock = socket.create_connection((host, port), timeout=5)
        sock.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: qatys\r\nX-Slow: ")
        return sock
    except OSError:
        return None


def slow_clients(host: str, port: int, connections: int = 50, seconds: float = 30,
                 interval: float = 3.0) -> Attack:
    """Start the slow connections in a thread of their own; they stop after ``seconds`` or
    when the returned :class:`Attack` leaves its ``with`` block."""
    attack = Attack(connections)

    def run() -> None:
        deadline = time.monotonic() + seconds
        socks: list[socket.socket | None] = []
        for _ in range(connections):
            socks.append(_open(host, port))
            attack.opened += 1
        line = 0
        while not attack.stop.wait(interval) and time.monotonic() < deadline:
            line += 1
            for i, sock in enumerate(socks):
                try:
                    if sock is None:
                        raise OSError
                    sock.sendall(b"a\r\nX-Slow-%d: " % line)  # never the empty line
                except OSError:
                    attack.closed_by_server += sock is not None
                    if sock is not None:
                        sock.close()
                    socks[i] = _open(host, port)
                    attack.opened += 1
        for sock in socks:
            if sock is not None:
                sock.close()

    attack.thread = threading.Thread(target=run, name="slow-clients", daemon=True)
    attack.thread.start()
    return attack


@dataclass
class Probes:
    times: list[float | None]
    """Seconds each probe took to a 200, or None for no 200 within the probe's timeout."""
    statuses: list[int | None]

    @property
    def asked(self) -> int:
        return len(self.times)

    @property
    def answered(self) -> int:
        return sum(t is not None for t in self.times)

    def p95(self) -> float | None:
        """The 95th percentile time; a probe not answered counts as longer than any."""
        ordered = sorted(self.times, key=lambda t: float("inf") if t is None else t)
        return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))] if ordered else None

    def summary(self) -> str:
        p95 = self.p95()
        shown = "not answered" if p95 is None else f"{p95 * 1000:.0f} ms"
        return f"{self.answered}/{self.asked} answered, p95 {shown}"


def probe_health(url: str, seconds: float, every: float = 1.0, timeout: float = 2.0) -> Probes:
    """``GET /api/v1/health`` every ``every`` seconds for ``seconds``, each on a new
    connection with ``timeout``."""
    times: list[float | None] = []
    statuses: list[int | None] = []
    started = time.monotonic()
    n = 0
    while time.monotonic() - started < seconds:
        t0 = time.monotonic()
        try:
            status: int | None = requests.get(url + "/api/v1/health", timeout=timeout).status_code
        except requests.RequestException:
            status = None
        took = time.monotonic() - t0
        statuses.append(status)
        times.append(took if status == 200 and took <= timeout else None)
        n += 1
        time.sleep(max(0.0, started + n * every - time.monotonic()))
    return Probes(times, statuses)
