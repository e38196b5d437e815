"""The HTTP client for the regional queue core (contract in docs/queue-core.md).

Two calls: pull a kindergarten's roster, push a signed funding statement. Every failure
becomes a :class:`QueueCoreError` that says whether a retry may help.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import requests

from protocol.submissions import IDEMPOTENCY_HEADER, SIGNATURE_HEADER
from qatys.sentences import Sentence
from qatys.urls import transport_problem
from server.errors import QueueCoreError

MAX_ROSTER_BYTES = 16 * 1024 * 1024
_RETRY_STATUSES = {408, 425, 429, 500, 502, 503, 504}


@dataclass(frozen=True)
class Delivery:
    reference: str
    replayed: bool
    """The core had this idempotency key already and answered with the first result."""


class QueueCoreClient:
    def __init__(self, base_url: str, timeout_seconds: float = 20,
                 session: requests.Session | None = None, *,
                 allow_plain_http: bool = False) -> None:
        if not base_url:
            raise QueueCoreError(Sentence("no queue core is configured (queue_core_url in "
                                          "server.toml or QATYS_QUEUE_CORE_URL)"), retry=True)
        problem = transport_problem(base_url, allow_plain_http)
        if problem:
            raise QueueCoreError(problem, retry=False)
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout_seconds
        self.session = session or requests.Session()

    def roster(self, kindergarten: str) -> tuple[dict[str, Any], bytes]:
        """The roster document and its exact bytes (the import records their digest)."""
        url = f"{self.base_url}/v1/kindergartens/{kindergarten}/roster"
        response = self._call("GET", url, headers={"Accept": "application/json"})
        body = response.content
        if len(body) > MAX_ROSTER_BYTES:
            raise QueueCoreError(Sentence("the roster answer is larger than %(max_roster_bytes)s "
                                          "bytes", max_roster_bytes=MAX_ROSTER_BYTES),
                                 retry=False)
        return _json_object(body, ROSTER_ANSWER), body

    def submit_statement(self, body: bytes, idempotency_key: str, signature: str) -> Delivery:
        response = self._call("POST", f"{self.base_url}/v1/funding-statements", data=body,
                              headers={"Content-Type": "application/json",
                                       IDEMPOTENCY_HEADER: idempotency_key,
                                       SIGNATURE_HEADER: signature})
        answer = _json_object(response.content, RECEIPT, retry=True)
        reference = answer.get("reference")
        if not isinstance(reference, str) or not reference:
            raise QueueCoreError(Sentence("the queue core's receipt has no reference"), retry=True,
                                 status=response.status_code)
        replayed = response.headers.get("Idempotent-Replayed", "").lower() == "true"
        return Delivery(reference, replayed)

    def _call(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        try:
            response = self.session.request(method, url, timeout=self.timeout, **kwargs)
        except requests.RequestException as exc:
            raise QueueCoreError(Sentence("queue core unreachable: %(kind)s",
                                          kind=type(exc).__name__),
                                 retry=True) from exc
        if response.status_code >= 300:
            raise QueueCoreError(
                Sentence("queue core answered %(status_code)s: %(answer)s",
                         status_code=response.status_code, answer=_error_text(response)),
                retry=response.status_code in _RETRY_STATUSES, status=response.status_code)
        return response


ROSTER_ANSWER = (Sentence("the queue core's roster answer is not JSON"),
                 Sentence("the queue core's roster answer is not a JSON object"))
RECEIPT = (Sentence("the queue core's statement receipt is not JSON"),
           Sentence("the queue core's statement receipt is not a JSON object"))
"""What to say of an answer that is not JSON, and of one that is JSON but not an object."""


def _json_object(body: bytes, refusals: tuple[Sentence, Sentence],
                 retry: bool = False) -> dict[str, Any]:
    not_json, not_object = refusals
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise QueueCoreError(not_json, retry=retry) from exc
    if not isinstance(value, dict):
        raise QueueCoreError(not_object, retry=retry)
    return value


def _error_text(response: requests.Response) -> str:
    """The core's own error code and message when it gave one; never the whole body."""
    try:
        error = response.json().get("error", {})
        return f"{error.get('code', '?')}: {str(error.get('message', ''))[:200]}"
    except (ValueError, AttributeError):
        return response.reason or "no explanation"
