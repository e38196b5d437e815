"""The server's exception families, all under :class:`ServiceError` (the services' root, in
:mod:`qatys.errors`, re-exported here): every refusal carries a
stable ``code`` (docs/api.md) and a message for people, never an HTTP status.

Who turns them into what:

- the web layer: one table, :data:`server.web.errors.STATUS`, gives each code its HTTP status,
  and one Flask handler answers ``{"ok": false, "error": {"code", "message", …details}}``;
- the commands: one decorator, :func:`qatys.cliutil.exit_codes` (with the server's table,
  :data:`server.datadir.EXIT_CODES`, applied by :func:`server.datadir.with_data_dir`), prints
  ``error: message`` and exits with the family's code.

Every family lives here, not in its package, on purpose: the web table and the commands'
table name the families without importing the packages that raise them, so dependencies keep
pointing one way (the packages import this leaf module; it imports nothing of the server).
Each family says which package raises it.

Codes are part of the API and never change meaning. A code may mean the same thing to two
families with different statuses (``bad_signature`` is 403 for a terminal, 400 for a phone's
consent, 401 for a phone's sign-in): the table tells them apart by family.
"""

from __future__ import annotations

from qatys.errors import ServiceError as ServiceError  # the root, re-exported
from qatys.sentences import Sentence


class RequestError(ServiceError):
    """A request not of the documented form, refused by the web layer itself before any
    service is asked (``malformed``, ``unsupported_media_type``, ``csrf_invalid``,
    ``not_signed_in``, ``not_found``, ``bad_request``, ``rate_limited``).

    Its message is for the developer of a client, in English: no command shows it."""

    def __init__(self, code: str, message: Sentence | str, **details: object) -> None:
        super().__init__(code, message if isinstance(message, Sentence) else Sentence(message),
                         **details)


class SyncError(ServiceError):
    """Terminals (server/sync/): enrolment, signed requests, batches (``sequence_gap``,
    ``equivocation``, ``terminal_revoked``, ``bad_signature`` …)."""


class FamiliesError(ServiceError):
    """Guardians, the consent ledger, confirmations, face templates and withdrawals taken at a
    terminal (server/families/)."""


class SignInError(FamiliesError):
    """A phone's sign-in refused (server/families/guardians.py): all answered 401."""


class MoneyError(ServiceError):
    """Statements, approvals and their inputs (server/money/)."""


class MoneyInputError(MoneyError, ValueError):
    """A month, kindergarten or child the money commands and pages cannot work with."""

    def __init__(self, message: Sentence) -> None:
        super().__init__("bad_request", message)


class ApprovalError(MoneyError):
    """A statement that cannot be approved now; ``code`` (also ``reason``) names the page
    text to show: ``not_over``, ``unchanged`` or ``note_required``. Answered by the finance
    pages, never as JSON."""

    def __init__(self, message: Sentence, reason: str) -> None:
        super().__init__(reason, message)

    @property
    def reason(self) -> str:
        return self.code


class FinanceError(ServiceError):
    """Staff accounts and the finance pages' services (server/finance/)."""


class OfficeError(ServiceError):
    """An office form's input the office refuses (server/office/); nothing was written. The
    page shows the code's text in the reader's language; ``field`` names the form's field at
    fault, when one is."""

    def __init__(self, code: str, message: Sentence, field: str = "") -> None:
        super().__init__(code, message)
        self.field = field


class QueueCoreError(ServiceError):
    """The queue core could not be reached, or answered something other than agreed
    (server/queue_core/).

    ``retry`` says whether sending again later may succeed (down, timeout, 5xx, 429: code
    ``queue_core_unreachable``) or a person must look (the core refused the request as wrong:
    ``queue_core_refused``). ``status`` is the core's own answer, when there was one.
    """

    def __init__(self, message: Sentence, *, retry: bool, status: int | None = None) -> None:
        super().__init__("queue_core_unreachable" if retry else "queue_core_refused", message)
        self.retry = retry
        self.status = status


class SetupError(ServiceError):
    """The data directory or configuration is missing or unusable (code ``setup``)."""

    def __init__(self, message: Sentence) -> None:
        super().__init__("setup", message)


class BackupError(ServiceError):
    """A backup that cannot be made, verified or restored (server/backup/); nothing was
    changed. Codes: ``backup_unreadable`` (not a Qatys backup, or truncated),
    ``backup_corrupt`` (a member's SHA-256 differs from the manifest's, or its database does
    not open), ``backup_foreign`` (another server's keys), ``backup_too_new`` (a schema revision
    this code does not know), ``server_running`` (a restore while the server runs) and
    ``backup_failed`` (the database's own tool failed or is missing). Commands only: exit 2."""

    def __init__(self, code: str, message: Sentence) -> None:
        super().__init__(code, message)
