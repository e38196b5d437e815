"""gunicorn's worker classes as ``qatys server run`` uses them, answering JSON where gunicorn
itself refuses a request (docs/api.md, "Error codes").

gunicorn reads the request line and headers before the app sees anything; what it refuses
there (a request line over 4094 bytes, too many or too large header fields, a malformed line,
a method it does not parse) it answers with an HTML page of its own. These workers answer the
same statuses as every other refusal: ``{"ok": false, "error": {"code", "message"}}``, with a
stable code from :data:`server.web.errors.STATUS`. A failure that is not the client's stays
gunicorn's 500 ``internal_error`` (as JSON too).

:class:`GeventWorker` is the default (docs/deployment.md: a slow client holds a greenlet, not
one of a few threads); :class:`ThreadWorker` the thread pool it replaced.
"""

from __future__ import annotations

import json
import warnings
from typing import Any

from gevent.monkey import MonkeyPatchWarning  # type: ignore[import-untyped]
from gunicorn import util
from gunicorn.http import errors as http_errors
from gunicorn.workers.ggevent import GeventWorker as _GeventWorker
from gunicorn.workers.gthread import ThreadWorker as _ThreadWorker

from server.web.errors import STATUS

REFUSALS: tuple[tuple[tuple[type[Exception], ...], str, str, str], ...] = (
    ((http_errors.LimitRequestLine,), "request_line_too_long", "URI Too Long",
     "The request line is longer than the server reads."),
    ((http_errors.LimitRequestHeaders,), "headers_too_large", "Request Header Fields Too Large",
     "The request has more header fields, or a larger one, than the server reads."),
    ((http_errors.InvalidRequestMethod,), "invalid_method", "Bad Request",
     "The request's method is not an HTTP method."),
    ((http_errors.UnsupportedTransferCoding,), "unsupported_transfer_coding", "Not Implemented",
     "The request's transfer coding is not supported."),
    ((http_errors.ExpectationFailed,), "expectation_failed", "Expectation Failed",
     "The request's Expect header is not supported."),
    ((http_errors.ForbiddenProxyRequest,), "proxy_forbidden", "Forbidden",
     "The request came through a proxy the server does not trust."),
    ((http_errors.InvalidRequestLine, http_errors.InvalidHTTPVersion, http_errors.InvalidHeader,
      http_errors.InvalidHeaderName, http_errors.ObsoleteFolding, http_errors.InvalidProxyLine,
      http_errors.InvalidSchemeHeaders, http_errors.InvalidChunkSize,
      http_errors.ChunkMissingTerminator, http_errors.InvalidChunkExtension),
     "malformed_request", "Bad Request", "The request is not well-formed HTTP/1.1."),
)
"""What gunicorn refuses before the app, and how: exception classes, code, reason phrase and
message (English: no request has been read, so no language either)."""

INTERNAL = ("internal_error", "Internal Server Error",
            "The server failed; the request changed nothing.")


def refusal(exc: BaseException) -> tuple[int, str, str, str]:
    """Status, code, reason phrase and message of the answer to ``exc``."""
    code, reason, message = INTERNAL
    if not isinstance(exc, (http_errors.InvalidResponseHeader,
                            http_errors.InvalidResponseHeaderName)):
        for classes, code_, reason_, message_ in REFUSALS:
            if isinstance(exc, classes):
                code, reason, message = code_, reason_, message_
                break
    status = STATUS.get(code, 500)
    assert isinstance(status, int)
    return status, code, reason, message


def answer(status: int, code: str, reason: str, message: str) -> bytes:
    """The whole HTTP answer: JSON as every other refusal, and the connection closed."""
    body = json.dumps({"ok": False, "error": {"code": code, "message": message}}).encode()
    head = (f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n")
    return head.encode("latin-1") + body


class JsonErrors:
    """gunicorn's ``handle_error`` (log the refusal, answer, close) with a JSON body."""

    log: Any

    def handle_error(self, req: Any, client: Any, addr: Any, exc: BaseException) -> None:
        status, code, reason, message = refusal(exc)
        if code == INTERNAL[0]:
            self.log.exception("Error handling request %s", getattr(req, "uri", "(no URI read)"))
        else:
            ip = (addr or ("", -1))[0]
            self.log.warning("Invalid request from ip=%s: %s (%s)", ip, exc, code)
        try:
            util.write_nonblock(client, answer(status, code, reason, message))
        except Exception:  # the client went away: nothing to tell it
            self.log.debug("Failed to send error message.")


class ThreadWorker(JsonErrors, _ThreadWorker):  # type: ignore[misc]
    """gunicorn's gthread worker (a thread pool per process) answering JSON refusals."""


class GeventWorker(JsonErrors, _GeventWorker):  # type: ignore[misc]
    """gunicorn's gevent worker (one greenlet per connection) answering JSON refusals."""

    def patch(self) -> None:
        """gevent's patching, without its warning that modules the master imported before the
        fork (requests, and with it ``ssl``) keep the unpatched ``ssl``: a web worker opens no
        TLS connection of its own (the queue core is called by `qatys queue-core run`, another
        process), so the warning says nothing about this server and would only alarm whoever
        reads its log or starts `make run`."""
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=MonkeyPatchWarning)
            super().patch()
