"""Does a face template still stand on its consent? Pure: ledger records in, a verdict out.

A template is enrolled under one grant. It stands while that grant, or grants that extend it
without a gap, are in force and nothing withdrew them: a withdrawal, a lapse between grants,
or the last grant running out ends it for good (a new grant needs a new enrolment).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from protocol.faces import EraseReason


class ConsentAction(StrEnum):
    """``consent_records.action``; also the line the phone signs
    (server/families/consent.py, ``consent_message``)."""
    GRANT = "grant"
    WITHDRAW = "withdraw"


@dataclass(frozen=True)
class LedgerRecord:
    record: int
    action: str
    """A :class:`ConsentAction`'s value, as the row holds it."""
    until: str
    """YYYY-MM-DD for a grant, empty for a withdrawal."""
    recorded_on: str
    """The local date it was recorded."""


def template_standing(records: list[LedgerRecord], enrolled_under: int,
                      today: date) -> EraseReason | None:
    """None while the template may be used; otherwise why not: no_consent (the record is
    not a grant of this child), withdrawn or expired."""
    chain = sorted((r for r in records if r.record >= enrolled_under), key=lambda r: r.record)
    if not chain or chain[0].record != enrolled_under or chain[0].action != ConsentAction.GRANT:
        return EraseReason.NO_CONSENT
    until = chain[0].until
    for record in chain[1:]:
        if record.action == ConsentAction.WITHDRAW:
            return EraseReason.WITHDRAWN
        if record.recorded_on > until:
            return EraseReason.EXPIRED  # the earlier grant had run out before this one was given
        until = record.until  # the latest grant says until when, as in the consent state
    return EraseReason.EXPIRED if until < today.isoformat() else None
