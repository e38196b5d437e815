"""A proxy between real processes for tests (terminal and server, server and queue core) that
passes everything on, records every exchange, and lets a test rewrite, replace or replay the
answers (or requests) it chooses: an attacker on the kindergarten's network, or a bad link
(tests/faulty_proxy.py).

A rule is a function of the request and of ``forward`` (which sends a request on to the
server and returns its answer); it returns the answer the terminal gets. Helpers below make
the usual rules: rewrite a JSON answer keeping the server's signature header, strip the
signature, answer with a recorded answer, change the query.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests

from protocol import auth, crypto

_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length",
               "content-encoding", "server", "date", "host"}


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    cut: bool = False
    """Send only the first half of the body, then close (a link that fails mid-answer)."""

    def json(self) -> dict[str, Any]:
        value: dict[str, Any] = json.loads(self.body)
        return value


DROPPED = Answer(0, {}, b"")
"""The connection closes without an answer (after the server may have acted)."""
Forward = Callable[[Request], Answer]
Rule = Callable[[Request, Forward], Answer]


@dataclass
class Exchange:
    request: Request
    answer: Answer
    tampered: bool


@dataclass
class TamperingProxy:
    upstream: str
    rules: dict[str, Rule] = field(default_factory=dict)
    """By path prefix; the longest matching prefix applies."""
    default: Rule | None = None
    """For a path no rule names (None: pass on)."""
    exchanges: list[Exchange] = field(default_factory=list)

    def __post_init__(self) -> None:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                proxy._handle(self)

            def do_POST(self) -> None:
                proxy._handle(self)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def on(self, path: str, rule: Rule) -> None:
        self.rules[path] = rule

    def honest(self) -> None:
        self.rules.clear()

    def last(self, path: str) -> Exchange:
        """The newest exchange whose path starts with ``path``."""
        with self._lock:
            return next(e for e in reversed(self.exchanges) if e.request.path.startswith(path))

    def forward(self, request: Request) -> Answer:
        """The request sent on to the server; :data:`DROPPED` when the server is down."""
        url = self.upstream + request.path + (f"?{request.query}" if request.query else "")
        try:
            response = requests.request(request.method, url, data=request.body or None,
                                        headers=request.headers, timeout=60,
                                        allow_redirects=False)
        except requests.RequestException:
            return DROPPED
        return Answer(response.status_code, {k: v for k, v in response.headers.items()
                                             if k.lower() not in _HOP_BY_HOP},
                      response.content)

    def _rule(self, path: str) -> Rule | None:
        matching = [p for p in self.rules if path.startswith(p)]
        return self.rules[max(matching, key=len)] if matching else self.default

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        length = int(h.headers.get("Content-Length") or 0)
        path, _, query = h.path.partition("?")
        request = Request(h.command, path, query,
                          {k: v for k, v in h.headers.items() if k.lower() not in _HOP_BY_HOP},
                          h.rfile.read(length) if length else b"")
        rule = self._rule(path)
        answer = rule(request, self.forward) if rule else self.forward(request)
        with self._lock:
            self.exchanges.append(Exchange(request, answer, rule is not None))
        if answer is DROPPED:
            h.close_connection = True
            h.connection.close()
            return
        h.send_response(answer.status)
        for name, value in answer.headers.items():
            h.send_header(name, value)
        h.send_header("Content-Length", str(len(answer.body)))
        h.end_headers()
        h.wfile.write(answer.body[: len(answer.body) // 2] if answer.cut else answer.body)
        if answer.cut:
            h.close_connection = True


# --- rules -------------------------------------------------------------------------------


def rewrite_json(change: Callable[[dict[str, Any]], dict[str, Any]]) -> Rule:
    """The server's answer with its JSON body changed; the signature header is kept (and no
    longer fits the body)."""
    def rule(request: Request, forward: Forward) -> Answer:
        answer = forward(request)
        body = json.dumps(change(answer.json())).encode()
        return replace(answer, body=body)
    return rule


def unsigned(rule: Rule | None = None) -> Rule:
    """An answer (the server's, or another rule's) without the server's signature."""
    def stripped(request: Request, forward: Forward) -> Answer:
        answer = rule(request, forward) if rule else forward(request)
        return replace(answer, headers={k: v for k, v in answer.headers.items()
                                        if k.lower() != auth.HEADER_ANSWER.lower()})
    return stripped


def answer_with(recorded: Answer) -> Rule:
    """Always this (recorded) answer; the request does not reach the server."""
    return lambda request, forward: recorded


def signed_by_impostor(seed: bytes, change: Callable[[dict[str, Any]], dict[str, Any]]
                       ) -> Rule:
    """The server's answer changed and signed anew by another key, which it names: an
    impostor server that knows the protocol."""
    def rule(request: Request, forward: Forward) -> Answer:
        answer = forward(request)
        body = json.dumps(change(answer.json())).encode()
        signed = auth.answer_signing_input(
            request.method, request.path, request.query,
            request.headers.get(auth.HEADER_TERMINAL, ""),
            request.headers.get(auth.HEADER_NONCE, ""), answer.status, body)
        headers = {**answer.headers, auth.HEADER_ANSWER: auth.sign_answer(seed, signed),
                   auth.HEADER_SERVER_KEY: base64.b64encode(
                       crypto.signing_public_key(seed)).decode()}
        return Answer(answer.status, headers, body)
    return rule


def with_query(extra: str) -> Rule:
    """The request sent on with more in its query string than the terminal signed."""
    def rule(request: Request, forward: Forward) -> Answer:
        query = f"{request.query}&{extra}" if request.query else extra
        return forward(replace(request, query=query))
    return rule
