"""The server's exception hierarchy: every refusal carries an HTTP status and a stable code.

Codes are part of the API (docs/api.md lists them) and never change meaning.
"""

from __future__ import annotations


class ServerError(Exception):
    """Root of the server's errors."""


class ApiError(ServerError):
    """A refusal answered as ``{"ok": false, "error": {"code", "message"}}``."""

    def __init__(self, status: int, code: str, message: str, **details: object) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details


class SetupError(ServerError):
    """The data directory or configuration is missing or unusable."""


class QueueCoreError(ServerError):
    """The queue core could not be reached, or answered something other than agreed.

    ``retry`` says whether sending again later may succeed (down, timeout, 5xx, 429) or a
    person must look (the core refused the request as wrong).
    """

    def __init__(self, message: str, *, retry: bool, status: int | None = None) -> None:
        super().__init__(message)
        self.retry = retry
        self.status = status


class ApprovalError(ServerError):
    """A statement that cannot be approved now; ``reason`` names the page text to show:
    ``not_over``, ``unchanged`` or ``note_required``."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class Refused(ServerError):
    """A request refused by a service, with a stable code (docs/api.md) and no HTTP status:
    the web layer picks the status (server/web/guard.py) and the page or JSON shape."""

    def __init__(self, code: str, message: str, **details: object) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details
