"""An HTTP proxy for tests that misbehaves on purpose between terminal and server.

Per request it picks one fault: pass through, drop the answer after the server
committed, send the request twice, delay, or cut the answer short.
"""

from __future__ import annotations

import random
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests

HOP_BY_HOP = ("connection", "keep-alive", "transfer-encoding", "content-length",
              "content-encoding", "server", "date")
"""Answer headers the proxy makes itself; every other one (the server's signature) passes."""
FAULTS = ("pass", "drop_response", "duplicate", "delay", "truncate")


class FaultyProxy:
    def __init__(self, upstream: str, seed: int) -> None:
        self.upstream = upstream
        self.rng = random.Random(seed)
        self.faults_on = False
        self.seen: dict[str, int] = dict.fromkeys(FAULTS, 0)
        self.scripted: list[str] = []
        """Faults for the next requests, in order, before any random ones."""
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                proxy.handle(self)

            def do_POST(self) -> None:
                proxy.handle(self)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _pick(self) -> str:
        with self._lock:
            if self.scripted:
                fault = self.scripted.pop(0)
            else:
                fault = self.rng.choice(FAULTS) if self.faults_on else "pass"
            self.seen[fault] += 1
            return fault

    def handle(self, h: BaseHTTPRequestHandler) -> None:
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else b""
        headers = {k: v for k, v in h.headers.items()
                   if k.lower() not in ("host", "content-length", "connection")}
        fault = self._pick()

        def forward() -> requests.Response:
            return requests.request(h.command, self.upstream + h.path, data=body,
                                    headers=headers, timeout=60)

        if fault == "delay":
            time.sleep(self.rng.uniform(0.05, 0.4))
        try:
            response = forward()
            if fault == "duplicate":
                response = forward()
        except requests.RequestException:  # the upstream is down: so is the answer
            fault = "drop_response"
        if fault == "drop_response":
            h.close_connection = True
            h.connection.close()
            return
        payload = response.content
        h.send_response(response.status_code)
        for name, value in response.headers.items():
            if name.lower() not in HOP_BY_HOP:
                h.send_header(name, value)
        h.send_header("Content-Length", str(len(payload)))
        h.end_headers()
        h.wfile.write(payload[: len(payload) // 2] if fault == "truncate" else payload)
        if fault == "truncate":
            h.close_connection = True
