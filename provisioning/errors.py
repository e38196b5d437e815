"""Provisioning's exception family, under the services' root (:class:`qatys.errors.ServiceError`)
so that one decorator maps it to an exit code with the others (``server.datadir.EXIT_CODES``)."""

from __future__ import annotations

from qatys.errors import ServiceError
from qatys.sentences import Sentence


class ProvisioningError(ServiceError):
    """Root of provisioning errors: bad input from an administrator or a terminal."""

    def __init__(self, message: Sentence, code: str = "bad_input") -> None:
        super().__init__(code, message)


class NotFound(ProvisioningError):
    """A kindergarten, child or terminal that does not exist."""

    def __init__(self, message: Sentence) -> None:
        super().__init__(message, "not_found")


class InvalidInput(ProvisioningError):
    """Input that breaks a rule; ``problems`` lists each one (e.g. one per CSV line), in
    English for the JSON answers and logs; ``problem_sentences`` are the same for a command
    to show in its reader's language."""

    def __init__(self, message: Sentence, problems: list[Sentence | str] | None = None) -> None:
        super().__init__(message)
        self.problem_sentences = list(problems or [])
        self.problems = [str(problem) for problem in self.problem_sentences]


class TokenRefused(ProvisioningError):
    """An enrolment token that is unknown, used or expired; ``code`` is the API code."""

    def __init__(self, code: str, message: Sentence) -> None:
        super().__init__(message, code)
