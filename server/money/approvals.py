"""Statement approval: the month is locked to the approved bytes; later changes are corrections.

An approval stores the statement exactly as approved and, in the same transaction, puts it
in the outbox for the queue core. When the evidence changes afterwards (a late batch, an
absence recorded later), the live statement no longer matches: a finance officer approves a
correction, a new revision that names the one it replaces. Nothing approved is rewritten.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, Row, select

from protocol.submissions import sign_submission
from qatys.sentences import Sentence
from qatys.timeutil import iso_utc, local_date
from server.domain.funding import Statement
from server.errors import ApprovalError
from server.money.statements import next_month_start
from server.queue_core.outbox import SubmissionKind, enqueue
from server.registry.records import check_length
from server.storage import db


class ApprovalStatus(StrEnum):
    """A kindergarten's month on the month overview."""
    NOT_APPROVED = "not_approved"
    APPROVED = "approved"
    """Approved, and the evidence is what it was then."""
    CHANGED = "changed"
    """Approved, but the evidence changed since: a correction is due."""


@dataclass(frozen=True)
class Approved:
    revision: int
    idempotency_key: str
    total: str


def revisions(conn: Connection, kindergarten: str, month: str) -> list[Row[Any]]:
    """Every approval of the month, oldest first: the corrections trail."""
    return list(conn.execute(select(db.approvals)
                             .where(db.approvals.c.kindergarten == kindergarten)
                             .where(db.approvals.c.month == month)
                             .order_by(db.approvals.c.revision)))


def idempotency_key(kindergarten: str, month: str, revision: int, digest: str) -> str:
    return f"qatys:{kindergarten}:{month}:r{revision}:{digest[:12]}"


def approve(conn: Connection, statement: Statement, by: str, note: str, now_us: int,
            sign_seed: bytes) -> Approved:
    """Approve ``statement`` in the caller's transaction and queue it for the queue core."""
    check_length("--by", by, db.approvals.c.approved_by)
    over_on = next_month_start(statement.month)
    if local_date(now_us) < over_on:
        raise ApprovalError(Sentence("%(month)s is not over yet; approve it from %(first_day)s",
                                     month=statement.month,
                                     first_day=over_on.isoformat()), "not_over")
    trail = revisions(conn, statement.kindergarten, statement.month)
    if trail and trail[-1].inputs_digest == statement.inputs_digest \
            and bytes(trail[-1].statement) == statement.to_json():
        raise ApprovalError(Sentence("revision %(revision)s already approves this statement; "
                                     "nothing changed since", revision=trail[-1].revision),
                            "unchanged")
    if trail and not note.strip():
        raise ApprovalError(Sentence("a correction needs a note saying why the approved amount "
                                     "changes"),
                            "note_required")
    revision = len(trail) + 1
    key = idempotency_key(statement.kindergarten, statement.month, revision,
                          statement.inputs_digest)
    conn.execute(db.approvals.insert().values(
        kindergarten=statement.kindergarten, month=statement.month, revision=revision,
        statement=statement.to_json(), inputs_digest=statement.inputs_digest,
        total=f"{statement.total:.2f}", approved_by=by, approved_at_us=now_us,
        note=note.strip()))
    replaces = (idempotency_key(statement.kindergarten, statement.month, trail[-1].revision,
                                trail[-1].inputs_digest) if trail else None)
    body = submission_body(statement, revision, replaces, now_us)
    enqueue(conn, SubmissionKind.FUNDING_STATEMENT, statement.kindergarten, statement.month,
            key, body, sign_submission(sign_seed, key, body), now_us)
    return Approved(revision, key, f"{statement.total:.2f}")


def submission_body(statement: Statement, revision: int, replaces: str | None,
                    approved_at_us: int) -> bytes:
    """What the queue core receives: the statement as approved, with its revision."""
    body = {"kind": SubmissionKind.FUNDING_STATEMENT, "kindergarten": statement.kindergarten,
            "month": statement.month, "revision": revision, "replaces": replaces,
            "approved_at": iso_utc(approved_at_us), "policy_version": statement.policy_version,
            "inputs_digest": statement.inputs_digest, "total": f"{statement.total:.2f}",
            "statement": json.loads(statement.to_json())}
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")

