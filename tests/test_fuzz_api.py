"""Schemathesis against a real server: every operation of /api/v1/openapi.json (the terminals'
API and the parents' JSON API), positive and negative cases, reproducible (derandomized).

The server is seeded (a kindergarten, a roster, an enrolled terminal, a claimed guardian) and
a requests session signs what a terminal would sign: each request to /api/v1/terminal/ with
the enrolled terminal's key over the exact bytes sent (protocol/auth.py), each batch's own
signature (the CBOR serializer), and the guardian's cookie and CSRF token on the parents'
calls; so the fuzzer reaches past the signature checks. Any 5xx, an answer whose body,
status, media type or headers the document does not describe fails the run. Each case's
failures are collected, not raised, so one run counts them all: the last test fails when
any were found, naming operation, check and status.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from protocol import MESSAGE_VERSION, auth, canonical, crypto
from protocol.errors import EncodingError
from server.web.openapi import document
from terminal.keys import load as load_keys
from tests.helpers import ServerProcess, enrol, guardian_client, roster_csv, run, start_server

MAX_EXAMPLES = 100
"""Cases per operation (on top of the schema's boundary cases): about 20 operations in a
few minutes on two cores."""
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance, response_headers_conformance]
TERMINAL_PATHS = "/api/v1/terminal/"
BATCH_DOMAIN = b"qatys/v1/batch\x00"
"""What a batch's signature covers, before its canonical CBOR (protocol/batches.py)."""
GUARDIAN_PATHS = ("/parents/api/me", "/parents/api/consent", "/parents/api/month")
"""Called signed in (cookie and CSRF token); logout is not (it would end the session), nor
claim, challenge and login (they open sessions)."""


@dataclass
class Identities:
    """Who the fuzzer speaks as: the enrolled terminal and the signed-in guardian."""
    terminal_id: str = ""
    sign_seed: bytes = b""
    guardian_cookie: str = ""
    csrf: str = ""
    child_id: str = "child-00001-x7q"


@dataclass
class Tally:
    cases: Counter[str] = field(default_factory=Counter)
    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)
    failures: Counter[tuple[str, str, int]] = field(default_factory=Counter)
    examples: dict[tuple[str, str, int], str] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)


WHO = Identities()


class SigningSession(requests.Session):
    """Signs each prepared request as the enrolled terminal would, over its exact bytes."""

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        path, _, query = (request.path_url or "").partition("?")
        if path.startswith(TERMINAL_PATHS):
            body = request.body or b""
            data = body.encode("utf-8") if isinstance(body, str) else bytes(body)
            now_s, nonce = int(time.time()), auth.nonce_text(os.urandom(auth.NONCE_BYTES))
            message = auth.request_signing_input(request.method or "GET", path, query,
                                                 WHO.terminal_id, now_s, nonce, data)
            request.headers.update({
                auth.HEADER_TERMINAL: WHO.terminal_id, auth.HEADER_TIME: str(now_s),
                auth.HEADER_NONCE: nonce,
                auth.HEADER_SIGNATURE: base64.b64encode(
                    crypto.sign(WHO.sign_seed, message)).decode("ascii")})
        elif path in GUARDIAN_PATHS:
            _for_own_child(request)
            request.headers["X-Qatys-CSRF"] = WHO.csrf
            request.headers["Cookie"] = f"qatys_guardian={WHO.guardian_cookie}"
        return super().send(request, **kwargs)


def _for_own_child(request: requests.PreparedRequest) -> None:
    """Every other JSON body naming a child names the guardian's own (else all are 404)."""
    body = request.body
    try:
        value = json.loads(body or b"")
    except ValueError:
        return
    if isinstance(value, dict) and "child_id" in value and _every_other(body):
        value["child_id"] = WHO.child_id
        data = json.dumps(value).encode("utf-8")
        request.body = data
        request.headers["Content-Length"] = str(len(data))


def _every_other(*values: object) -> bool:
    """Half of the cases, the same half on every run."""
    return hashlib.sha256(repr(values).encode()).digest()[0] % 2 == 0


def _cbor_ready(value: Any, key: str = "") -> Any:
    """The generated JSON value with the batch's byte-string fields as bytes."""
    if isinstance(value, dict):
        return {k: _cbor_ready(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_cbor_ready(v, key) for v in value]
    if isinstance(value, str) and key in ("events", "sig"):
        return value.encode("utf-8")
    return value


@schemathesis.serializer("application/cbor")
def cbor_batch(ctx: schemathesis.SerializationContext, value: Any) -> bytes:
    """A batch in canonical CBOR (protocol/canonical.py). Every other well-shaped batch is
    the enrolled terminal's, signed with its key, so the server reads its events."""
    data = _cbor_ready(value)
    if isinstance(data, dict) and isinstance(data.get("events"), list) and _every_other(data):
        data.update(terminal=WHO.terminal_id, kindergarten="KG1", v=MESSAGE_VERSION,
                    type="batch")
        data.pop("sig", None)
        with contextlib.suppress(EncodingError):  # a value CBOR cannot carry: sent unsigned
            data["sig"] = crypto.sign(WHO.sign_seed, BATCH_DOMAIN + canonical.encode(data))
    try:
        return canonical.encode(data)
    except EncodingError:  # still bytes, for the server to refuse
        return repr(data).encode("utf-8")


@pytest.fixture(scope="module")
def fuzzed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    base = tmp_path_factory.mktemp("fuzz")
    data = base / "server"
    server = start_server(data)
    run("kindergarten", "add", "--data", str(data), "--code", "KG1", "--name", "Балабақша 1")
    text, _ = roster_csv(5)
    (data / "roster.csv").write_text(text, encoding="utf-8")
    run("roster", "import", "--data", str(data), "--kindergarten", "KG1",
        str(data / "roster.csv"))
    home = base / "door"
    WHO.terminal_id = enrol(server, home, {"QATYS_RUNTIME_DIR": str(base / "run")})
    WHO.sign_seed = load_keys(home).sign_seed
    guardian = guardian_client(server, WHO.child_id)
    WHO.guardian_cookie = guardian.http.cookies.get("qatys_guardian") or ""
    WHO.csrf = guardian.csrf
    yield server
    server.stop()


@pytest.fixture(scope="module")
def api_schema(fuzzed_server: ServerProcess) -> Any:
    """The document as the running server serves it."""
    return schemathesis.openapi.from_url(fuzzed_server.url + "/api/v1/openapi.json")


@pytest.fixture(scope="module")
def session() -> Iterator[SigningSession]:
    http = SigningSession()
    yield http
    http.close()


OPERATIONS = [(method.upper(), path) for path, operations in document()["paths"].items()
              for method in operations]


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_the_api_answers_every_case_as_documented(method: str, path: str, api_schema: Any,
                                                  session: SigningSession) -> None:
    """Each operation on its own: any 5xx, schema violation or undocumented status fails it,
    with every failing case as a curl line. ``QATYS_FUZZ_REPORT=FILE`` appends the counts."""
    operation = api_schema[path][method]
    label = f"{method} {path}"
    tally = Tally()
    cases = st.one_of(operation.as_strategy(GenerationMode.POSITIVE),
                      operation.as_strategy(GenerationMode.NEGATIVE))

    @given(case=cases)
    @settings(max_examples=MAX_EXAMPLES, derandomize=True, deadline=None, database=None,
              suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])
    def fuzz(case: Any) -> None:
        tally.cases[label] += 1
        try:
            response = case.call_and_validate(session=session, checks=CHECKS, timeout=30)
            tally.statuses[(label, response.status_code)] += 1
        except (Failure, FailureGroup) as exc:
            failures = exc.exceptions if isinstance(exc, FailureGroup) else (exc,)
            for failure in failures:
                status = getattr(getattr(failure, "response", None), "status_code", 0) or \
                    getattr(failure, "status_code", 0)
                key = (label, f"{type(failure).__name__}: {failure.title}", status)
                tally.failures[key] += 1
                tally.examples.setdefault(
                    key, f"{case.as_curl_command()}\n{failure.message}"[:1500])

    fuzz()
    report = _report(tally)
    with Path(os.environ.get("QATYS_FUZZ_REPORT", os.devnull)).open("a",
                                                                    encoding="utf-8") as out:
        out.write(report + "\n")
    assert tally.cases[label] > 0, report
    assert not tally.failures, report


def _report(tally: Tally) -> str:
    elapsed = time.monotonic() - tally.started
    lines = [f"schemathesis {schemathesis.__version__}: {sum(tally.cases.values())} cases, "
             f"{sum(tally.failures.values())} failures, {elapsed:.1f} s"]
    lines += [f"  {label}: {count} cases" for label, count in sorted(tally.cases.items())]
    lines += [f"  status {label} -> {status}: {count}"
              for (label, status), count in sorted(tally.statuses.items())]
    lines += [f"FAILED {label} [{check}] status {status}: {count}\n{tally.examples[key]}"
              for key in sorted(tally.failures) for label, check, status in [key]
              for count in [tally.failures[key]]]
    return "\n".join(lines)


def test_the_fuzzer_covers_every_operation_of_the_document() -> None:
    assert len(OPERATIONS) >= 20
    assert {path for _, path in OPERATIONS} == set(document()["paths"])
