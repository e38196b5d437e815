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


class _Core:
    """The stand-in's state: its rosters folder, its store of statements, its fault switch."""

    def __init__(self, data_dir: Path, trust_key: bytes) -> None:
        self.rosters = data_dir / "rosters"
        self.rosters.mkdir(parents=True, exist_ok=True)
        self.trust_key = trust_key
        self.store = sqlite3.connect(data_dir / "core.db", check_same_thread=False,
                                     isolation_level=None)
        self.store.execute(
            "CREATE TABLE IF NOT EXISTS statements (reference TEXT PRIMARY KEY, "
            "idempotency_key TEXT UNIQUE NOT NULL, body_sha256 TEXT NOT NULL, "
            "kindergarten TEXT NOT NULL, month TEXT NOT NULL, revision INTEGER NOT NULL, "
            "body BLOB NOT NULL)")
        self.lock = threading.Lock()
        self.unavailable = 0
        """Calls still to answer 503 (< 0: until switched off)."""

    def take_fault(self) -> bool:
        with self.lock:
            if self.unavailable == 0:
                return False
            if self.unavailable > 0:
                self.unavailable -= 1
            return True

    def roster(self, code: str) -> tuple[Response, int]:
        path = self.rosters / f"{code}.csv"
        if not code.replace("-", "").replace("_", "").isalnum() or not path.exists():
            return _error(404, "unknown_kindergarten", f"no kindergarten {code}")
        rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
        children = [{k: (v or None) if k == "withdrawn_on" else v for k, v in row.items()}
                    for row in rows]
        return jsonify({"kindergarten": code, "children": children}), 200

    def submit(self, key: str, body: bytes, signature: str) -> tuple[Response, int]:
        """A funding statement, checked and stored once per idempotency key."""
        try:
            verify_submission(self.trust_key, key, body, signature)
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
        with self.lock:
            found = self.store.execute("SELECT reference, body_sha256 FROM statements "
                                       "WHERE idempotency_key = ?", (key,)).fetchone()
            if found is not None:
                if found[1] != digest:
                    return _error(409, "idempotency_conflict",
                                  "this idempotency key came with another body")
                response = jsonify({"reference": found[0]})
                response.headers["Idempotent-Replayed"] = "true"
                return response, 200
            count = self.store.execute("SELECT count(*) FROM statements").fetchone()[0]
            reference = f"QC-{count + 1:06d}"
            self.store.execute("INSERT INTO statements VALUES (?, ?, ?, ?, ?, ?, ?)",
                               (reference, key, digest, document["kindergarten"],
                                document["month"], document["revision"], body))
        return jsonify({"reference": reference}), 201

    def statements(self) -> list[dict[str, object]]:
        rows = self.store.execute("SELECT reference, idempotency_key, kindergarten, month, "
                                  "revision FROM statements ORDER BY reference").fetchall()
        return [dict(zip(("reference", "idempotency_key", "kindergarten", "month",
                          "revision"), row, strict=True)) for row in rows]


def create_standin(data_dir: Path, trust_key: bytes) -> Flask:
    """The stand-in app: ``DATA/rosters/CODE.csv`` are its rosters, ``DATA/core.db`` its store."""
    core = _Core(data_dir, trust_key)
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY

    @app.get("/v1/kindergartens/<code>/roster")
    def roster(code: str) -> tuple[Response, int]:
        if core.take_fault():
            return _error(503, "unavailable", "stand-in: switched to unavailable")
        return core.roster(code)

    @app.post("/v1/funding-statements")
    def funding_statement() -> tuple[Response, int]:
        if core.take_fault():
            return _error(503, "unavailable", "stand-in: switched to unavailable")
        return core.submit(request.headers.get(IDEMPOTENCY_HEADER, ""), request.get_data(),
                           request.headers.get(SIGNATURE_HEADER, ""))

    @app.get("/stand-in/statements")
    def statements() -> Response:
        return jsonify(core.statements())

    @app.post("/stand-in/faults")
    def set_faults() -> Response:
        wanted = request.get_json(force=True)
        with core.lock:
            core.unavailable = int(wanted.get("unavailable", 0))
        return jsonify({"unavailable": core.unavailable})

    @app.get("/stand-in/health")
    def health() -> Response:
        return jsonify({"ok": True, "stand_in": True})

    return app


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
