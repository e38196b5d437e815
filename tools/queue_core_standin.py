"""STAND-IN for the regional queue core, for tests and `make run`. Not the real system.

It answers the two calls of docs/queue-core.md the way the contract says the real core
must: rosters as JSON from CSV files in a folder, funding statements checked against the
Qatys server's public key and stored once per idempotency key. Faults can be switched on
over HTTP (``POST /stand-in/faults``) to rehearse an unavailable core.

    python -m tools.queue_core_standin --data DIR --trust-key BASE64 [--port 8090]
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import sqlite3
import threading
from pathlib import Path

import click
from flask import Flask, Response, jsonify, request

from protocol.errors import ProtocolError
from protocol.submissions import IDEMPOTENCY_HEADER, SIGNATURE_HEADER, verify_submission

MAX_BODY = 8 * 1024 * 1024
_FIELDS = ("kind", "kindergarten", "month", "revision", "replaces", "total", "statement")


def _error(status: int, code: str, message: str) -> tuple[Response, int]:
    return jsonify({"error": {"code": code, "message": message}}), status


def create_standin(data_dir: Path, trust_key: bytes) -> Flask:
    """The stand-in app: ``DATA/rosters/CODE.csv`` are its rosters, ``DATA/core.db`` its store."""
    (data_dir / "rosters").mkdir(parents=True, exist_ok=True)
    store = sqlite3.connect(data_dir / "core.db", check_same_thread=False,
                            isolation_level=None)
    store.execute("CREATE TABLE IF NOT EXISTS statements (reference TEXT PRIMARY KEY, "
                  "idempotency_key TEXT UNIQUE NOT NULL, body_sha256 TEXT NOT NULL, "
                  "kindergarten TEXT NOT NULL, month TEXT NOT NULL, revision INTEGER NOT NULL, "
                  "body BLOB NOT NULL)")
    lock = threading.Lock()
    faults = {"unavailable": 0}
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY

    @app.get("/v1/kindergartens/<code>/roster")
    def roster(code: str) -> Response | tuple[Response, int]:
        if _take_fault(faults, lock):
            return _error(503, "unavailable", "stand-in: switched to unavailable")
        path = data_dir / "rosters" / f"{code}.csv"
        if not code.replace("-", "").replace("_", "").isalnum() or not path.exists():
            return _error(404, "unknown_kindergarten", f"no kindergarten {code}")
        rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
        children = [{k: (v or None) if k == "withdrawn_on" else v for k, v in row.items()}
                    for row in rows]
        return jsonify({"kindergarten": code, "children": children})

    @app.post("/v1/funding-statements")
    def funding_statement() -> tuple[Response, int]:
        if _take_fault(faults, lock):
            return _error(503, "unavailable", "stand-in: switched to unavailable")
        key = request.headers.get(IDEMPOTENCY_HEADER, "")
        body = request.get_data()
        try:
            verify_submission(trust_key, key, body, request.headers.get(SIGNATURE_HEADER, ""))
        except ProtocolError as exc:
            return _error(401 if exc.code != "bad_idempotency_key" else 400, exc.code,
                          exc.message)
        try:
            document = json.loads(body)
            if not isinstance(document, dict) or any(f not in document for f in _FIELDS):
                raise ValueError(document)
        except ValueError:
            return _error(422, "bad_statement", "the body is not a funding statement")
        digest = hashlib.sha256(body).hexdigest()
        with lock:
            found = store.execute("SELECT reference, body_sha256 FROM statements "
                                  "WHERE idempotency_key = ?", (key,)).fetchone()
            if found is not None:
                if found[1] != digest:
                    return _error(409, "idempotency_conflict",
                                  "this idempotency key came with another body")
                response = jsonify({"reference": found[0]})
                response.headers["Idempotent-Replayed"] = "true"
                return response, 200
            count = store.execute("SELECT count(*) FROM statements").fetchone()[0]
            reference = f"QC-{count + 1:06d}"
            store.execute("INSERT INTO statements VALUES (?, ?, ?, ?, ?, ?, ?)",
                          (reference, key, digest, document["kindergarten"],
                           document["month"], document["revision"], body))
        return jsonify({"reference": reference}), 201

    @app.get("/stand-in/statements")
    def statements() -> Response:
        rows = store.execute("SELECT reference, idempotency_key, kindergarten, month, revision "
                             "FROM statements ORDER BY reference").fetchall()
        return jsonify([dict(zip(("reference", "idempotency_key", "kindergarten", "month",
                                  "revision"), row, strict=True)) for row in rows])

    @app.post("/stand-in/faults")
    def set_faults() -> Response:
        wanted = request.get_json(force=True)
        with lock:
            faults["unavailable"] = int(wanted.get("unavailable", 0))
        return jsonify(faults)

    @app.get("/stand-in/health")
    def health() -> Response:
        return jsonify({"ok": True, "stand_in": True})

    return app


def _take_fault(faults: dict[str, int], lock: threading.Lock) -> bool:
    """Answer 503 to the next N calls when switched on (N < 0: until switched off)."""
    with lock:
        if faults["unavailable"] == 0:
            return False
        if faults["unavailable"] > 0:
            faults["unavailable"] -= 1
        return True


@click.command()
@click.option("--data", "data_dir", required=True, type=click.Path(path_type=Path))
@click.option("--trust-key", required=True, help="The Qatys server's public key, base64 "
              "(`qatys server public-key`).")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8090, show_default=True, type=int)
def main(data_dir: Path, trust_key: str, host: str, port: int) -> None:
    """Run the queue-core STAND-IN (tests and demos only)."""
    app = create_standin(data_dir, base64.b64decode(trust_key))
    click.echo(f"queue-core stand-in on http://{host}:{port} (not the real queue core)",
               err=True)
    app.run(host=host, port=port, threaded=True)


if __name__ == "__main__":
    main()
