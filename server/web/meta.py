"""Health and the OpenAPI document: what an operator or integrator reads first."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from protocol import MAX_BATCH_EVENTS, PROTOCOL_VERSION
from qatys import __version__
from server.context import ctx
from server.web.openapi import document
from server.web.responses import ok

bp = Blueprint("meta", __name__, url_prefix="/api/v1")


@bp.get("/health")
def health() -> tuple[Response, int]:
    return ok(version=__version__, protocol=PROTOCOL_VERSION, max_batch_events=MAX_BATCH_EVENTS,
              server_time_us=ctx().clock())


@bp.get("/openapi.json")
def openapi() -> Response:
    return jsonify(document())
