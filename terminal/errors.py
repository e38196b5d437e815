"""The terminal's exception hierarchy; the CLI maps families to exit codes (2, 3, 4, 5)."""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

from protocol.errors import AnswerRefusal
from qatys.sentences import Sentence


class TerminalError(Exception):
    """Root of every terminal error: its message is a :class:`~qatys.sentences.Sentence`,
    logged in English and shown by the commands in their reader's language."""

    exit_code = 1

    def __init__(self, message: Sentence) -> None:
        super().__init__(str(message))
        self.sentence = message


class SetupError(TerminalError):
    """The terminal home is missing, not enrolled, or its files are unusable."""

    exit_code = 2


class PlainHttpRefused(SetupError):
    """A server address in plain http:// to another machine, without ``allow_plain_http``."""

    reason = "plain_http"


class StorageFault(SetupError):
    """The terminal could not open its store for lack of storage, or on a read-only card;
    ``reason`` is ``storage_full`` or ``storage_readonly`` (terminal/storage_guard.py)."""

    def __init__(self, reason: str, message: Sentence) -> None:
        super().__init__(message)
        self.reason = reason


class CheckinRefusal(StrEnum):
    """Why a check-in was not recorded (docs/cli.md, "Check-in output")."""
    UNKNOWN_CHILD = "unknown_child"
    BAD_CHILD_ID = "bad_child_id"
    BAD_METHOD = "bad_method"
    REASON_REQUIRED = "reason_required"
    TOO_LONG = "too_long"
    BAD_DIRECTION = "bad_direction"
    TERMINAL_REVOKED = "terminal_revoked"
    STORAGE_FULL = "storage_full"
    """Too little free storage to record safely (terminal/storage_guard.py)."""
    STORAGE_READONLY = "storage_readonly"
    """The file system became read-only (the kernel remounted the card)."""
    STORE_DAMAGED = "store_damaged"
    """SQLite found the store damaged; it is moved aside and recovered (terminal/recovery.py)."""


class UnlockRefusal(StrEnum):
    """Why an unlock card did not open the roster (docs/cli.md, "Unlock refusals")."""
    NOT_UNLOCK_CARD = "not_unlock_card"
    NO_ROSTER = "no_roster"
    CARD_UNKNOWN = "card_unknown"
    CARD_REVOKED = "card_revoked"
    CARD_INVALID = "card_invalid"


class CheckinRefused(TerminalError):
    """A check-in that was not recorded; ``reason`` is the stable code shown and printed."""

    exit_code = 2

    def __init__(self, reason: CheckinRefusal, message: Sentence,
                 exit_code: int | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        if exit_code is not None:
            self.exit_code = exit_code


class UnlockRefused(TerminalError):
    """An unlock card that did not open the roster; ``reason`` is the stable code shown."""

    exit_code = 2

    def __init__(self, reason: UnlockRefusal, message: Sentence) -> None:
        super().__init__(message)
        self.reason = reason


class ServerUnreachable(TerminalError):
    """No answer from the server (network down, timeout, 5xx): try again later."""

    exit_code = 3


class ServerRefused(TerminalError):
    """The server answered with a refusal (revoked, forged, equivocation, …)."""

    exit_code = 4

    def __init__(self, code: str, message: Sentence | str,
                 details: dict[str, object] | None = None) -> None:
        """``message`` is the server's own (English, for developers) shown as it came, or
        what the terminal found wrong with an answer (a Sentence)."""
        super().__init__(Sentence("the server refused: %(code)s: %(message)s", code=code,
                                  message=message))
        self.code = code
        self.message = str(message)
        self.details = details or {}
        """The error's other fields, e.g. the ``reason`` a template was refused for."""


class AnswerRefused(TerminalError):
    """An answer the terminal did not believe: not signed by the server key pinned at
    enrolment, altered, made for another request, for another terminal or kindergarten, or
    bringing state older than what the terminal keeps. Nothing of it was used; ``reason``
    is the stable code (protocol.errors.AnswerRefusal)."""

    exit_code = 5

    def __init__(self, reason: AnswerRefusal, message: Sentence,
                 exit_code: int | None = None) -> None:
        super().__init__(Sentence("%(reason)s: %(message)s", reason=reason, message=message))
        self.reason = reason
        self.said = message
        """What was wrong, without the reason in front."""
        self.message = str(message)
        if exit_code is not None:
            self.exit_code = exit_code


class FaceRefusal(StrEnum):
    """Why a face enrolment or a withdrawal at the terminal was not done (docs/faces.md,
    "Enrolment"; a withdrawal's own checks, docs/cli.md)."""
    ROSTER_LOCKED = "roster_locked"
    UNKNOWN_CHILD = "unknown_child"
    NO_CONSENT = "no_consent"
    CONSENT_WITHDRAWN = "consent_withdrawn"
    CONSENT_EXPIRED = "consent_expired"
    NO_USABLE_FRAME = "no_usable_frame"
    SEVERAL_PEOPLE = "several_people"
    NO_LIVENESS = "no_liveness"
    LOOKS_LIKE_ANOTHER_CHILD = "looks_like_another_child"
    BAD_CHILD_ID = "bad_child_id"
    TOO_LONG = "too_long"


class FaceRefused(TerminalError):
    """A face enrolment, identification or withdrawal that could not be done; ``reason`` is
    the stable code shown on the kiosk and printed by ``qatys face``."""

    exit_code = 2

    def __init__(self, reason: FaceRefusal, message: Sentence,
                 frames: Sequence[str] | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.frames = list(frames or [])
        """For an enrolment: what each frame was (ok, or why it was not used)."""
