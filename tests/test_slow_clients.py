"""Hostile clients at the HTTP edge, against a real ``qatys server run`` (issue 22).

Slow clients: 50 connections sending their headers one partial line every 3 s for 30 s,
while a client asks ``/api/v1/health`` once a second — every probe is answered 200 (a probe
not answered within its own 5 s counts as not answered; the times are the bench's,
bench/slow_clients.py). And what gunicorn refuses before the app — a request line or headers
too large, a malformed request, a method that is not one — is answered JSON like every
other refusal (docs/api.md), changing nothing."""

from __future__ import annotations

import json
import socket
import sqlite3
from pathlib import Path

import pytest

from tests.helpers import ServerProcess, start_server
from tests.slow_clients import probe_health, slow_clients


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> ServerProcess:
    process = start_server(tmp_path_factory.mktemp("slow") / "srv")
    yield process
    process.stop()


@pytest.mark.slow
@pytest.mark.timeout(90)
def test_health_is_answered_while_50_slow_clients_hold_connections(
        server: ServerProcess) -> None:
    with slow_clients("127.0.0.1", server.port, connections=50, seconds=30) as attack:
        probes = probe_health(server.url, seconds=30, timeout=5)
    print(f"slow clients: {probes.summary()}; opened {attack.opened}, "
          f"closed by the server {attack.closed_by_server}")
    assert probes.asked >= 25, probes
    assert probes.statuses == [200] * probes.asked, probes.summary()
    assert probes.answered == probes.asked


def _raw(server: ServerProcess, request: bytes) -> tuple[int, dict[str, str], bytes]:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(request)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers, body


def _rows(data_dir: Path) -> int:
    """Every row of the server's database (nothing written by a refusal)."""
    conn = sqlite3.connect(data_dir / "qatys.db")
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return sum(conn.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0]  # noqa: S608
                   for t in tables)
    finally:
        conn.close()


@pytest.mark.parametrize(("request_bytes", "status", "code"), [
    (b"GET /" + b"a" * 5000 + b" HTTP/1.1\r\nHost: q\r\n\r\n", 414, "request_line_too_long"),
    (b"GET /api/v1/health HTTP/1.1\r\nHost: q\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n", 431,
     "headers_too_large"),
    (b"GET /api/v1/health HTTP/1.1\r\nHost: q\r\n"
     + b"".join(b"X-H%d: 1\r\n" % i for i in range(120)) + b"\r\n", 431, "headers_too_large"),
    (b"GET /api/v1/health HTTP/1.1\r\nHost: q\r\nBad Header: 1\r\n\r\n", 400,
     "malformed_request"),
    (b"GET /api/v1/health HTTP/9.1\r\nHost: q\r\n\r\n", 400, "malformed_request"),
    (b"G@T /api/v1/health HTTP/1.1\r\nHost: q\r\n\r\n", 400, "invalid_method"),
], ids=["line-too-long", "header-too-large", "too-many-headers", "malformed-header",
        "http-version", "invalid-method"])
def test_gunicorn_refusals_answer_json(server: ServerProcess, request_bytes: bytes,
                                       status: int, code: str) -> None:
    before = _rows(server.data_dir)
    got, headers, body = _raw(server, request_bytes)
    assert got == status, body
    assert headers["Content-Type"] == "application/json"
    answer = json.loads(body)
    assert answer["ok"] is False
    assert answer["error"]["code"] == code
    assert answer["error"]["message"].endswith(".")
    assert _rows(server.data_dir) == before


def test_the_default_server_starts_without_warnings_in_its_log(server: ServerProcess) -> None:
    """gevent's workers patch the standard library after the master imported it: the log of
    `qatys server run` (and of `make run`) stays free of that warning, and of tracebacks."""
    import requests

    assert requests.get(server.url + "/api/v1/health", timeout=10).status_code == 200
    server.log.flush()
    log = Path(server.log.name).read_text(encoding="utf-8", errors="replace")
    assert "MonkeyPatchWarning" not in log
    assert "Traceback" not in log
