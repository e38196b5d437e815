"""A STAND-IN for a browser's push service, for tests and the bench only (never shipped): an
HTTP receiver on 127.0.0.1 that holds subscription key pairs it made as a browser would (a
P-256 key and a 16-byte auth secret), decrypts each RFC 8291 aes128gcm message with them,
records it and answers 201 — or 410 for a subscription told to be gone; it can be stopped and
started again on the same port (a push service that is down)."""

from __future__ import annotations

import base64
import json
import os
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import http_ece
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _vapid_verifies(authorization: str, port: int) -> bool:
    """RFC 8292: ``vapid t=JWT,k=KEY``, the JWT signed ES256 by KEY, for this origin, with a
    ``sub`` and an expiry in the next 24 hours."""
    try:
        fields = dict(part.strip().split("=", 1) for part in
                      authorization.removeprefix("vapid ").split(","))
        head, claims, signature = fields["t"].split(".")
        key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), _unb64url(fields["k"]))
        raw = _unb64url(signature)
        key.verify(encode_dss_signature(int.from_bytes(raw[:32]), int.from_bytes(raw[32:])),
                   f"{head}.{claims}".encode(), ec.ECDSA(hashes.SHA256()))
        body = json.loads(_unb64url(claims))
    except (KeyError, ValueError, InvalidSignature):
        return False
    return (body.get("aud") == f"http://127.0.0.1:{port}" and bool(body.get("sub"))
            and time.time() < body.get("exp", 0) <= time.time() + 86_400)


@dataclass
class Received:
    subscription: str
    payload: dict[str, Any]
    headers: dict[str, str]
    at: float


@dataclass
class _Subscription:
    key: ec.EllipticCurvePrivateKey
    auth: bytes
    answer: int = 201


@dataclass
class PushStandIn:
    port: int = 0
    decrypt: bool = True
    """False (the bench's throughput run): count what arrives, answer 201, decrypt nothing."""
    taken: int = 0
    subscriptions: dict[str, _Subscription] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> PushStandIn:
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                name = self.path.rsplit("/", 1)[-1]
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                status = stand_in._receive(name, body, {k.lower(): v for k, v in
                                                               self.headers.items()})
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def subscribe(self) -> dict[str, Any]:
        """A new subscription as ``PushSubscription.toJSON()`` gives it."""
        name = b64url(os.urandom(9))
        key = ec.generate_private_key(ec.SECP256R1())
        self.subscriptions[name] = _Subscription(key, os.urandom(16))
        public = key.public_key().public_bytes(serialization.Encoding.X962,
                                               serialization.PublicFormat.UncompressedPoint)
        return {"endpoint": f"http://127.0.0.1:{self.port}/push/{name}",
                "keys": {"p256dh": b64url(public), "auth": b64url(self.subscriptions[name].auth)}}

    def answer(self, endpoint: str, status: int) -> None:
        """From now on answer ``status`` for this subscription (410: gone)."""
        self.subscriptions[endpoint.rsplit("/", 1)[-1]].answer = status

    def messages(self, endpoint: str | None = None) -> list[Received]:
        with self._lock:
            return [m for m in self.received
                    if endpoint is None or m.subscription == endpoint.rsplit("/", 1)[-1]]

    def wait_for(self, count: int, seconds: float = 20, endpoint: str | None = None
                 ) -> list[Received]:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and len(self.messages(endpoint)) < count:
            time.sleep(0.02)
        return self.messages(endpoint)

    def _receive(self, name: str, body: bytes, headers: dict[str, str]) -> int:
        found = self.subscriptions.get(name)
        if found is None:
            return 404
        if found.answer != 201:
            return found.answer
        if headers.get("content-encoding") != "aes128gcm" or not headers.get(
                "authorization", "").startswith("vapid t="):
            return 400
        if not self.decrypt:
            with self._lock:
                self.taken += 1
            return 201
        if not _vapid_verifies(headers["authorization"], self.port):
            return 401
        plain = http_ece.decrypt(body, private_key=found.key, auth_secret=found.auth,
                                 version="aes128gcm")
        with self._lock:
            self.received.append(Received(name, json.loads(plain), headers, time.monotonic()))
        return 201
