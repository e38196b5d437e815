"""HTTP to the sync server: signed requests, and refusals turned into terminal errors.

Network failures, timeouts and 5xx answers become :class:`ServerUnreachable`
(try again later); 4xx answers become :class:`ServerRefused` with the
server's stable error code. Nothing here retries: the sync loop decides.
"""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import requests

from protocol import PROTOCOL_VERSION, auth, crypto
from qatys import __version__
from terminal.errors import ServerRefused, ServerUnreachable

USER_AGENT = f"qatys-terminal/{__version__}"


class ServerClient:
    def __init__(self, base_url: str, timeout: float = 30.0,
                 session: requests.Session | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.session = session or requests.Session()
        self.session.headers["User-Agent"] = USER_AGENT
        self.session.headers[auth.HEADER_PROTOCOL] = str(PROTOCOL_VERSION)

    def post_batch(self, body: bytes) -> dict[str, Any]:
        return self._call("POST", "/api/v1/batches", data=body,
                          headers={"Content-Type": "application/cbor"})

    def enrol(self, payload: dict[str, Any]) -> dict[str, Any]:
        return self._call("POST", "/api/v1/terminals/enrol", json=payload)

    def signed_get(self, path: str, terminal_id: str, sign_seed: bytes,
                   params: dict[str, str] | None = None) -> dict[str, Any]:
        now_s = int(time.time())
        message = auth.request_signing_input("GET", path, terminal_id, now_s, b"")
        headers = {
            auth.HEADER_TERMINAL: terminal_id,
            auth.HEADER_TIME: str(now_s),
            auth.HEADER_SIGNATURE: base64.b64encode(crypto.sign(sign_seed, message)).decode(),
        }
        return self._call("GET", path, headers=headers, params=params)

    def signed_post(self, path: str, terminal_id: str, sign_seed: bytes,
                    payload: dict[str, Any]) -> dict[str, Any]:
        """A JSON body signed with the terminal's key (the signature covers its hash)."""
        body = json.dumps(payload, separators=(",", ":")).encode("utf-8")
        now_s = int(time.time())
        message = auth.request_signing_input("POST", path, terminal_id, now_s, body)
        headers = {
            auth.HEADER_TERMINAL: terminal_id,
            auth.HEADER_TIME: str(now_s),
            auth.HEADER_SIGNATURE: base64.b64encode(crypto.sign(sign_seed, message)).decode(),
            "Content-Type": "application/json",
        }
        return self._call("POST", path, headers=headers, data=body)

    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response = self.session.request(method, self.base_url + path,
                                            timeout=self.timeout, **kwargs)
        except requests.RequestException as exc:
            raise ServerUnreachable(f"{self.base_url} did not answer: "
                                    f"{type(exc).__name__}") from exc
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code >= 500 or not isinstance(body, dict):
            raise ServerUnreachable(f"{self.base_url} answered {response.status_code} "
                                    "without a usable body")
        if response.status_code >= 400 or not body.get("ok"):
            err = body.get("error") or {}
            raise ServerRefused(str(err.get("code", f"http_{response.status_code}")),
                                str(err.get("message", "refused")),
                                err if isinstance(err, dict) else None)
        return body
