"""``POST /api/v1/batches``: where terminals deliver signed batches."""

from __future__ import annotations

import base64

from flask import Blueprint, Response, request

from protocol import BATCH_PROTOCOLS, PROTOCOL_VERSION
from protocol.auth import HEADER_PROTOCOL
from server.context import ctx
from server.errors import RequestError
from server.web.responses import ok

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
    result = ctx().ingestor.ingest(request.get_data(cache=False))
    return ok(
        ack=base64.b64encode(result.ack_raw).decode("ascii"),
        signature=base64.b64encode(result.signature).decode("ascii"),
        terminal_id=result.ack.terminal_id,
        acked_seq=result.ack.seq,
        stored=result.ack.stored,
    )
