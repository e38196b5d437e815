"""Health and the OpenAPI document: what an operator or integrator reads first."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify

from protocol import MAX_BATCH_EVENTS, PROTOCOL_VERSION
from qatys import __version__
from server.context import ctx
from server.storage.replica import Reachability
from server.web.openapi import document
from server.web.responses import ok

bp = Blueprint("meta", __name__, url_prefix="/api/v1")


@bp.get("/health")
def health() -> tuple[Response, int]:
    """Up (200) while the primary database answers ``SELECT 1``; 503 when it does not, so a
    load balancer takes this node out. A replica that is down or behind keeps the node up:
    reports then read the primary (server/storage/replica.py)."""
    reads = ctx().report_reads
    reachable, target = reads.probe_primary()
    if not reachable:
        return jsonify({"ok": False, "database": Reachability.UNREACHABLE,
                        "version": __version__}), 503
    extra: dict[str, Any] = {}
    replica = reads.replica_health(target)
    if replica is not None:
        extra = {"replica": replica.reachability, "replica_lag_seconds": replica.lag_seconds,
                 "replica_behind_bytes": replica.behind_bytes}
    return ok(version=__version__, protocol=PROTOCOL_VERSION, max_batch_events=MAX_BATCH_EVENTS,
              server_time_us=ctx().clock(), database=Reachability.REACHABLE, **extra)


@bp.get("/openapi.json")
def openapi() -> Response:
    return jsonify(document())
