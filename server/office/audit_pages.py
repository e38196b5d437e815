"""The audit trail page: the kindergarten's lines, newest first — who (and in which role) did
what to which record, and when (Asia/Almaty)."""

from __future__ import annotations

from flask_babel import gettext
from werkzeug.wrappers.response import Response as WebResponse

from qatys.timeutil import local_text
from server.context import ctx
from server.office.blueprint import bp, garden, managers_page, render
from server.staff.audit import Action, lines


def action_words() -> dict[str, str]:
    """Each action of the trail in the reader's language."""
    return {
        Action.ABSENCE_RECORDED: gettext("absence recorded"),
        Action.ABSENCE_CORRECTED: gettext("absence corrected"),
        Action.ABSENCE_CANCELLED: gettext("absence cancelled"),
        Action.CLOSURE_RECORDED: gettext("closure recorded"),
        Action.CARD_ISSUED: gettext("card issued"),
        Action.CARD_REVOKED: gettext("card revoked"),
        Action.CONSENT_RECORDED: gettext("consent form recorded"),
        Action.DOCUMENT_SHOWN: gettext("document opened"),
        Action.GUARDIAN_INVITED: gettext("guardian invited"),
        Action.GUARDIAN_REMOVED: gettext("guardian removed"),
        Action.PICKUP_REMOVED: gettext("adult who collects the child removed"),
        Action.ROSTER_IMPORTED: gettext("roster imported"),
        Action.TERMINAL_CODE_ISSUED: gettext("terminal enrolment code made"),
        Action.TERMINAL_REVOKED: gettext("terminal revoked"),
        Action.ACCOUNT_CREATED: gettext("account made"),
        Action.ACCOUNT_DISABLED: gettext("account disabled"),
    }


@bp.get("/audit")
@managers_page
def audit() -> WebResponse:
    with ctx().engine.connect() as conn:
        chosen = garden(conn)
        trail = lines(conn, chosen.code)
    return render("audit.html", kindergarten=chosen.code, garden=chosen, trail=trail,
                  actions=action_words(), when=local_text)
