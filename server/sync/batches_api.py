"""``POST /api/v1/batches``: where terminals deliver signed batches."""

from __future__ import annotations

import base64
import logging

from flask import Blueprint, Response, request
from sqlalchemy import Engine

from protocol import BATCH_PROTOCOLS, PROTOCOL_VERSION
from protocol.auth import HEADER_PROTOCOL
from qatys.logs import log
from server.context import ctx
from server.errors import RequestError
from server.push.outbox import enqueue_events
from server.web.responses import ok

logger = logging.getLogger("qatys.server.sync.ingest")

bp = Blueprint("ingest", __name__, url_prefix="/api/v1")

CBOR_TYPE = "application/cbor"


@bp.post("/batches")
def post_batch() -> tuple[Response, int]:
    if request.mimetype != CBOR_TYPE:
        raise RequestError("unsupported_media_type", f"send the batch as {CBOR_TYPE}")
    version = request.headers.get(HEADER_PROTOCOL, str(PROTOCOL_VERSION))
    if version not in {str(v) for v in BATCH_PROTOCOLS}:
        raise RequestError("unsupported_version", "this server takes batches of protocol "
                           f"{' or '.join(map(str, BATCH_PROTOCOLS))}, not {version}")
    context = ctx()
    result = context.ingestor.ingest(request.get_data(cache=False))
    response, status = ok(
        ack=base64.b64encode(result.ack_raw).decode("ascii"),
        signature=base64.b64encode(result.signature).decode("ascii"),
        terminal_id=result.ack.terminal_id,
        acked_seq=result.ack.seq,
        stored=result.ack.stored,
    )
    if result.new_events:  # after the terminal has its answer (docs/notifications.md)
        engine, clock, new = context.engine, context.clock, result.new_events
        response.call_on_close(lambda: _notify(engine, new, clock()))
    return response, status


def _notify(engine: Engine, event_ids: tuple[str, ...], now_us: int) -> None:
    """Push messages for the new events, in their own short transaction; a failure here is
    caught up by the sender's loop (server/push/outbox.py, enqueue_recent)."""
    try:
        enqueue_events(engine, event_ids, now_us)
    except Exception as exc:  # the events are stored and acknowledged whatever happens here
        log(logger, "push.enqueue_failed", logging.WARNING, error=str(exc)[:200],
            events=len(event_ids))
