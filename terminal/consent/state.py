"""The consent state a terminal holds, from the sealed roster (pure).

The server sends each child's current face-check-in consent inside the roster, encrypted at
rest like the names. A grant whose last day has passed counts as expired here too, so a
terminal offline for weeks does not use a consent that ran out meanwhile.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from protocol.roster import ConsentStatus, RosterEntry


@dataclass(frozen=True)
class TerminalConsent:
    child_id: str
    status: ConsentStatus
    until: str
    record: int

    @property
    def allows_face(self) -> bool:
        return self.status == ConsentStatus.GRANTED


def consent_of(entry: RosterEntry, today: date) -> TerminalConsent:
    consent = entry.consent
    if consent is None:
        return TerminalConsent(entry.child_id, ConsentStatus.NONE, "", 0)
    status = consent.status
    if status == ConsentStatus.GRANTED and consent.until and consent.until < today.isoformat():
        status = ConsentStatus.EXPIRED
    return TerminalConsent(entry.child_id, status, consent.until, consent.record)


def consent_states(entries: tuple[RosterEntry, ...], today: date) -> list[TerminalConsent]:
    return [consent_of(entry, today) for entry in entries]
