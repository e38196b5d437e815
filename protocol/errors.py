"""One exception hierarchy for the protocol, and the stable error codes of the API.

Verification failures are deliberately coarse to the outside (``code``), while
the message says precisely what failed for logs and developers.
"""

from __future__ import annotations

from enum import StrEnum


class ProtocolError(Exception):
    """Root of every error raised by :mod:`protocol`."""

    code = "malformed"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else self.code


class EncodingError(ProtocolError):
    """Bytes that are not the canonical encoding of a well-formed message."""

    code = "malformed"


class VersionError(ProtocolError):
    """A message of a protocol version this code does not speak."""

    code = "unsupported_version"


class SignatureError(ProtocolError):
    """A signature that does not verify under the expected key."""

    code = "bad_signature"


class ChainError(ProtocolError):
    """Events whose sequence numbers or previous-hash links do not form a chain."""

    code = "broken_chain"


class SealError(ProtocolError):
    """A sealed body that cannot be opened with the recipient's key."""

    code = "unreadable_body"


class TokenError(ProtocolError):
    """An enrolment token that is not of the documented form."""

    code = "token_invalid"


class CardRefusal(StrEnum):
    """Why a scanned card or guardian's phone code is not valid at this door (docs/cli.md)."""
    NOT_A_CARD = "not_a_card"
    DAMAGED_CARD = "damaged_card"
    """Altered or truncated."""
    FOREIGN_CARD = "foreign_card"
    FORGED_CARD = "forged_card"
    REVOKED_CARD = "revoked_card"
    EXPIRED_CARD = "expired_card"
    NOT_YET_VALID = "not_yet_valid"
    EXPIRED_CODE = "expired_code"
    """A phone code of another 30-second window."""
    NOT_GUARDIAN = "not_guardian"
    """A phone not bound to this child here."""


class CardRefused(ProtocolError):
    """A scanned code that is not a valid card for this door; ``code`` says why
    (:class:`CardRefusal`)."""

    def __init__(self, code: CardRefusal, message: str) -> None:
        super().__init__(message, code=code)


class ReleaseRefusal(StrEnum):
    """Why a terminal must not install a release bundle: :class:`ReleaseRefused`'s ``code``,
    printed by ``qatys-update`` (hardware/README.md)."""
    MALFORMED_RELEASE = "malformed_release"
    UNKNOWN_KEY = "unknown_key"
    BAD_SIGNATURE = "bad_signature"
    DIGEST_MISMATCH = "digest_mismatch"
    MISSING_FILE = "missing_file"
    UNLISTED_FILE = "unlisted_file"
    OLDER_VERSION = "older_version"
    SAME_VERSION = "same_version"


class ReleaseRefused(ProtocolError):
    """A software release bundle a terminal must not install; ``code`` says why."""

    def __init__(self, code: ReleaseRefusal, message: str) -> None:
        super().__init__(message, code=code)


class AnswerRefusal(StrEnum):
    """Why a terminal did not believe a server answer: :class:`AnswerError`'s ``code``, the
    ``reason`` a terminal logs and prints (docs/protocol.md, docs/cli.md)."""
    UNSIGNED = "unsigned"
    BAD_SIGNATURE = "bad_signature"
    """Not signed by the pinned key, or altered, or made for another request."""
    FOREIGN = "foreign"
    """For another terminal or kindergarten."""
    OLDER = "older"
    """Brings state older than what the terminal keeps."""
    MALFORMED = "malformed"
    SERVER_KEY_MISMATCH = "server_key_mismatch"
    """At enrolment: signed by another key than the one the token names."""


class AnswerError(ProtocolError):
    """A server answer a terminal must not believe; ``code`` says why (:class:`AnswerRefusal`:
    ``unsigned``, ``bad_signature``, ``foreign``, ``older`` or ``malformed``)."""

    def __init__(self, code: AnswerRefusal, message: str) -> None:
        super().__init__(message, code=code)
