"""A parent withdraws face consent at the door: erase here at once, tell the ledger later.

The notice for the server's consent ledger is sealed to the server's key and queued in the
same commit as the erasure; the next sync delivers it (once, by its request id) and every
other terminal of the kindergarten erases the child's templates at its next contact. Until
then this terminal refuses a new enrolment of that child.
"""

from __future__ import annotations

import logging
import os
import sqlite3

from protocol import consent, crypto
from protocol.faces import EraseReason
from qatys.logs import log
from qatys.sentences import Sentence
from qatys.timeutil import now_us
from terminal.checkin import DoorResult, valid_child_id
from terminal.errors import FaceRefusal, FaceRefused
from terminal.faces.vault import FaceVault, delete_templates, templates_of
from terminal.home import Terminal

logger = logging.getLogger("qatys.terminal.faces")


def withdraw_here(terminal: Terminal, vault: FaceVault, child_id: str, by: str) -> dict[
        str, object]:
    """Erase the child's templates now and queue the withdrawal for the consent ledger."""
    if not valid_child_id(child_id):
        raise FaceRefused(FaceRefusal.BAD_CHILD_ID,
                          Sentence("a child id is 1-64 letters, digits, '.', '_' or '-'"))
    if len(by) > 200:
        raise FaceRefused(FaceRefusal.TOO_LONG,
                          Sentence("the staff name is at most 200 characters"))
    names = terminal.roster()
    if names is not None and child_id not in names:
        raise FaceRefused(FaceRefusal.UNKNOWN_CHILD,
                          Sentence("this child is not on the kindergarten's roster"))
    request_id = os.urandom(16).hex()
    sealed = consent.seal_withdrawal(
        consent.Withdrawal(request_id, child_id, by.strip(), now_us()), terminal.terminal_id,
        terminal.keys.server_box_public, os.urandom(32), os.urandom(crypto.NONCE_SIZE))
    tag = vault.child_tag(child_id)

    def job(conn: sqlite3.Connection) -> int:
        conn.execute("INSERT INTO consent_outbox(request_id, sealed, child_tag) "
                     "VALUES (?, ?, ?)", (request_id, sealed, tag))
        return delete_templates(conn, [(i, EraseReason.WITHDRAWN)
                                       for i in templates_of(conn, tag)])

    erased = terminal.store.write(job)
    if erased:
        terminal.store.compact()
    log(logger, "faces.withdrawn_here", erased=erased)
    return {"result": DoorResult.WITHDRAWN, "child_id": child_id, "erased": erased,
            "request": request_id}


def pending_notices(terminal: Terminal) -> list[tuple[str, bytes]]:
    return [(str(r), bytes(s)) for r, s in terminal.store.read(lambda conn: conn.execute(
        "SELECT request_id, sealed FROM consent_outbox ORDER BY rowid").fetchall())]


def notice_delivered(terminal: Terminal, request_id: str) -> None:
    terminal.store.write(lambda conn: conn.execute(
        "DELETE FROM consent_outbox WHERE request_id = ?", (request_id,)))

