"""Provisioning's exception family, under the server's root (:class:`server.errors.ServiceError`)
so that one decorator maps it to an exit code with the others (``server.datadir.EXIT_CODES``)."""

from __future__ import annotations

from server.errors import ServiceError


class ProvisioningError(ServiceError):
    """Root of provisioning errors: bad input from an administrator or a terminal."""

    def __init__(self, message: str, code: str = "bad_input") -> None:
        super().__init__(code, message)


class NotFound(ProvisioningError):
    """A kindergarten, child or terminal that does not exist."""

    def __init__(self, message: str) -> None:
        super().__init__(message, "not_found")


class InvalidInput(ProvisioningError):
    """Input that breaks a rule; ``problems`` lists each one (e.g. one per CSV line)."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or []


class TokenRefused(ProvisioningError):
    """An enrolment token that is unknown, used or expired; ``code`` is the API code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message, code)
