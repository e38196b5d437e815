"""Provisioning's exception hierarchy; the CLI maps each family to an exit code."""

from __future__ import annotations


class ProvisioningError(Exception):
    """Root of provisioning errors: bad input from an administrator or a terminal."""


class NotFound(ProvisioningError):
    """A kindergarten, child or terminal that does not exist."""


class InvalidInput(ProvisioningError):
    """Input that breaks a rule; ``problems`` lists each one (e.g. one per CSV line)."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or []


class TokenRefused(ProvisioningError):
    """An enrolment token that is unknown, used or expired; ``code`` is the API code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
