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
