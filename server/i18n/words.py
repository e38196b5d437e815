"""Words for the codes the domain and the services keep (a role, a day's mark and reason, a
check-in method, a terminal's ledger entry, an anomaly flag with its parameters), in one
catalogue's language: the pages pass the request's catalogue, the exports each language's.

An unknown code is shown as it is, never as an error: a page must not fail because a newer
terminal reports something this server has no words for yet.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from protocol.events import Assurance, Method, SystemEvent
from protocol.gaps import LostReason
from protocol.health import CameraState
from protocol.roster import ConsentStatus
from server.domain.anomalies import MANUAL_SHARE_LIMIT, AnomalyRule, Flag
from server.domain.calendar import DayKind
from server.domain.funding import DayEntry, DayMark
from server.domain.policy import AbsenceReason
from server.i18n import Catalogue, both
from server.queue_core.outbox import OutboxStatus


class Words:
    def __init__(self, tr: Catalogue) -> None:
        self.tr = tr

    def role(self, role: str) -> str:
        tr = self.tr
        # server.staff.accounts.Role's values (staff's pages import these words, so not Role;
        # tests/test_states.py checks the keys are Role's)
        return _said({"finance": tr.gettext("finance officer"), "director": tr.gettext("director"),
                      "teacher": tr.gettext("teacher"), "operator": tr.gettext("district operator"),
                      "auditor": tr.gettext("auditor (read only)"),
                      "admin": tr.gettext("administrator")}, role)

    def approval(self, status: str) -> str:
        tr = self.tr
        return _said({"not_approved": tr.gettext("not approved"),
                      "approved": tr.gettext("approved"),
                      "changed": tr.gettext("changed after approval")}, status)

    def delivery(self, status: str) -> str:
        """An approved statement's way to the queue core (the outbox's status)."""
        tr = self.tr
        return _said({OutboxStatus.PENDING: tr.gettext("waiting"),
                      OutboxStatus.DELIVERED: tr.gettext("delivered"),
                      OutboxStatus.REFUSED: tr.gettext("refused")}, status)

    def consent(self, status: str, until: str = "") -> str:
        """Face check-in consent as staff read it."""
        tr = self.tr
        if status == ConsentStatus.GRANTED:
            return tr.gettext("given, until %(until)s") % {"until": until}
        return _said({ConsentStatus.NONE: tr.gettext("none"),
                      ConsentStatus.WITHDRAWN: tr.gettext("withdrawn"),
                      ConsentStatus.EXPIRED: tr.gettext("expired")}, status)

    def consent_source(self, source: str) -> str:
        """How a consent was given."""
        tr = self.tr
        return _said({"paper": tr.gettext("on paper"), "phone": tr.gettext("signed on a phone"),
                      "director": tr.gettext("by the director"),
                      "terminal": tr.gettext("at a terminal")}, source)

    def assurance(self, level: str) -> str:
        """How sure a check-in is of who came (protocol/events.py)."""
        tr = self.tr
        return _said({Assurance.HIGH: tr.gettext("high assurance"),
                      Assurance.MEDIUM: tr.gettext("medium assurance"),
                      Assurance.LOW: tr.gettext("low assurance")}, level)

    def method(self, method: str) -> str:
        tr = self.tr
        return _said({Method.QR_CARD: tr.gettext("card"), Method.QR_PHONE: tr.gettext("phone"),
                      Method.FACE: tr.gettext("face"),
                      Method.MANUAL: tr.gettext("by hand")}, method)

    def relation(self, relation: str) -> str:
        """A pickup adult's relation to the child (protocol/phone.py PickupRelation)."""
        tr = self.tr
        return {"grandmother": tr.gettext("grandmother"),
                "grandfather": tr.gettext("grandfather"), "nanny": tr.gettext("nanny"),
                "aunt": tr.gettext("aunt"), "uncle": tr.gettext("uncle"),
                "sister": tr.gettext("sister"), "brother": tr.gettext("brother"),
                "neighbour": tr.gettext("neighbour"),
                "other": tr.gettext("another adult")}.get(relation, relation)

    def who(self, who: object) -> str:
        """Who brought or collected a child (server/families/pickup.py ``Who``): a pickup
        adult's first name and relation, a guardian, or the card, face or hand."""
        tr = self.tr
        kind = str(getattr(who, "kind", ""))
        if kind == "pickup":
            return tr.gettext("%(first_name)s (%(relation)s)") % {
                "first_name": getattr(who, "first_name", ""),
                "relation": self.relation(str(getattr(who, "relation", "")))}
        return {"guardian": tr.gettext("a guardian's phone"), "card": tr.gettext("card"),
                "face": tr.gettext("face"), "manual": tr.gettext("by hand")}.get(kind, kind)

    def reason(self, reason: str) -> str:
        """Why a child was absent, or why a day is not a working day."""
        tr = self.tr
        return _said({AbsenceReason.ILLNESS: tr.gettext("illness"),
                      AbsenceReason.QUARANTINE: tr.gettext("quarantine"),
                      AbsenceReason.SANATORIUM: tr.gettext("sanatorium"),
                      AbsenceReason.LEAVE: tr.gettext("leave"),
                      AbsenceReason.OTHER: tr.gettext("another reason"),
                      DayKind.WEEKEND: tr.gettext("weekend"),
                      DayKind.HOLIDAY: tr.gettext("public holiday"),
                      DayKind.CLOSURE: tr.gettext("the kindergarten is closed")}, reason)

    def day(self, entry: DayEntry) -> str:
        """A day of the табель in words: its mark and, where there is one, its reason."""
        tr = self.tr
        reason = {"reason": self.reason(entry.reason)}
        if entry.mark == DayMark.PRESENT:
            return tr.gettext("present")
        if entry.mark == DayMark.PAID_ABSENCE:
            return tr.gettext("excused, paid: %(reason)s") % reason
        if entry.mark == DayMark.UNPAID_ABSENCE:
            return tr.gettext("excused, not paid: %(reason)s") % reason
        if entry.mark == DayMark.ABSENT:
            return tr.gettext("absent")
        if entry.mark == DayMark.NON_WORKING:
            return tr.gettext("not a working day: %(reason)s") % reason if entry.reason else \
                tr.gettext("not a working day")
        if entry.mark == DayMark.NOT_ENROLLED:
            return tr.gettext("not on the roster")
        return entry.mark

    def legend(self) -> str:
        """What the табель's letters mean, in this catalogue's language."""
        return _legend(lambda words: words(self.tr))

    def camera(self, state: str) -> str:
        """A terminal's camera as its last health report says (protocol/health.py)."""
        tr = self.tr
        return _said({CameraState.OK: tr.gettext("camera working"),
                      CameraState.FAILED: tr.gettext("camera failed"),
                      CameraState.ENDED: tr.gettext("video clip ended"),
                      CameraState.NONE: tr.gettext("no camera")}, state)

    def lost_reason(self, reason: str) -> str:
        """Why a terminal no longer held a range of events the server lost
        (protocol/gaps.py)."""
        tr = self.tr
        return _said({LostReason.RETENTION_EXPIRED: tr.gettext("older than the retention "
                                                               "window"),
                      LostReason.STORE_DAMAGED: tr.gettext("the terminal's store was "
                                                           "damaged")}, reason)

    def ledger(self, what: str) -> str:
        """An entry of a terminal's own outage ledger."""
        tr = self.tr
        return _said({SystemEvent.POWER_ON: tr.gettext("switched on"),
                      SystemEvent.KIOSK_START: tr.gettext("restarted"),
                      SystemEvent.OFFLINE: tr.gettext("offline"),
                      SystemEvent.ONLINE: tr.gettext("back online"),
                      SystemEvent.CAMERA_FAILED: tr.gettext("camera failed"),
                      SystemEvent.CAMERA_OK: tr.gettext("camera working again"),
                      SystemEvent.STORAGE_LOW: tr.gettext("storage almost full"),
                      SystemEvent.STORAGE_FULL: tr.gettext("storage full, check-ins refused"),
                      SystemEvent.STORAGE_OK: tr.gettext("storage free again")}, what)

    def rule(self, rule: str) -> str:
        """What an anomaly rule looks for and why it matters (a flag's heading)."""
        tr = self.tr
        if rule == AnomalyRule.MANUAL_SHARE:
            return tr.gettext("More than %(limit)s of the month's check-ins were entered by "
                              "hand (the least trusted way).") % {
                                  "limit": f"{MANUAL_SHARE_LIMIT:.0%}".replace("%", " %")}
        return _said({
            AnomalyRule.STACK_OF_CARDS: tr.gettext(
                "Many children were checked in on one terminal within a minute by one method: "
                "a stack of cards may have been scanned by one hand."),
            AnomalyRule.PRESENT_ON_CLOSURE: tr.gettext(
                "Check-ins on a day the kindergarten was declared closed."),
            AnomalyRule.TWO_KINDERGARTENS: tr.gettext(
                "One child was checked in at two kindergartens on the same day."),
            AnomalyRule.CLOCK_JUMP: tr.gettext(
                "The terminal's clock jumped: times and days may be wrong."),
            AnomalyRule.SCANS_WHILE_CAMERA_DOWN: tr.gettext(
                "Camera check-ins while the terminal reported its camera failed: its clock or "
                "its records are wrong."),
            AnomalyRule.PHONE_CODE_REUSED: tr.gettext(
                "One guardian's phone code was taken at two terminals: it may have been passed "
                "on (a photo of the screen)."),
            AnomalyRule.CLOCK_CORRECTED: tr.gettext(
                "Check-ins recorded while the terminal's clock was wrong: their times were "
                "corrected by the server (the originals are kept)."),
        }, rule)

    def flag(self, flag: Flag) -> str:
        """What one flag saw, from its code and parameters (``flag.summary`` is the same in
        English, for logs and machines)."""
        tr, p = self.tr, dict(flag.params)
        rule = flag.rule
        try:
            if rule == AnomalyRule.STACK_OF_CARDS:
                return tr.ngettext(
                    "%(children)s child checked in by %(method)s on terminal %(terminal)s "
                    "within %(seconds)s s",
                    "%(children)s children checked in by %(method)s on terminal %(terminal)s "
                    "within %(seconds)s s", int(p["children"])) % {
                        **p, "method": self.method(str(p["method"]))}
            if rule == AnomalyRule.PRESENT_ON_CLOSURE:
                return tr.ngettext("%(children)s child checked in on a closure day",
                                   "%(children)s children checked in on a closure day",
                                   int(p["children"])) % p
            if rule == AnomalyRule.MANUAL_SHARE:
                return tr.ngettext(
                    "%(manual)s of %(total)s check-in entered by hand (%(percent)s %%, limit "
                    "%(limit)s %%)",
                    "%(manual)s of %(total)s check-ins entered by hand (%(percent)s %%, limit "
                    "%(limit)s %%)", int(p["total"])) % p
            if rule == AnomalyRule.TWO_KINDERGARTENS:
                return tr.gettext("child %(child)s also checked in at %(others)s") % p
            if rule == AnomalyRule.CLOCK_JUMP:
                return tr.gettext("terminal %(terminal)s: its wall clock moved %(shift)s min "
                                  "against its monotonic clock") % {
                                      **p, "shift": f"{int(p['minutes']):+d}"}
            if rule == AnomalyRule.SCANS_WHILE_CAMERA_DOWN:
                return tr.ngettext(
                    "terminal %(terminal)s: %(scans)s camera check-in while it reported its "
                    "camera failed",
                    "terminal %(terminal)s: %(scans)s camera check-ins while it reported its "
                    "camera failed", int(p["scans"])) % p
            if rule == AnomalyRule.PHONE_CODE_REUSED:
                return tr.gettext("one phone code (binding %(binding)s, window %(window)s) "
                                  "taken at %(terminals)s") % p
            if rule == AnomalyRule.CLOCK_CORRECTED:
                return tr.ngettext(
                    "terminal %(terminal)s: %(events)s event recorded with its clock %(days)s "
                    "days off; its time was corrected",
                    "terminal %(terminal)s: %(events)s events recorded with its clock %(days)s "
                    "days off; their times were corrected", int(p["events"])) % p
        except (KeyError, ValueError, TypeError):
            pass  # a flag without the parameters its words need
        return flag.summary


def _said(words: Mapping[str, str], code: str) -> str:
    """The words for ``code``, or the code itself when there are none (a newer code)."""
    return words.get(code, code)


def _legend(say: Callable[[Callable[[Catalogue], str]], str]) -> str:
    def mark(letter: str, words: Callable[[Catalogue], str]) -> str:
        return f"{letter} {say(words)}"

    methods = ", ".join([mark("+к", lambda c: c.pgettext("legend", "card")),
                         mark("+т", lambda c: c.pgettext("legend", "phone")),
                         mark("+ф", lambda c: c.pgettext("legend", "face")),
                         mark("+р", lambda c: c.pgettext("legend", "by hand"))])
    reasons = ", ".join([mark("Б", lambda c: c.pgettext("legend", "illness")),
                         mark("К", lambda c: c.pgettext("legend", "quarantine")),
                         mark("С", lambda c: c.pgettext("legend", "sanatorium")),
                         mark("О", lambda c: c.pgettext("legend", "leave")),
                         mark("П", lambda c: c.pgettext("legend", "another reason"))])
    unpaid = say(lambda c: c.pgettext("legend", "lower case — not paid"))
    return "; ".join([methods, f"{reasons} ({unpaid})",
                      mark("Н", lambda c: c.pgettext("legend", "no reason")),
                      mark("·", lambda c: c.pgettext("legend", "day off")),
                      mark("—", lambda c: c.pgettext("legend", "not on the roster"))])


def bilingual_legend() -> str:
    """The legend of the exported табель, Kazakh / Russian item by item."""
    return _legend(lambda words: both(words, once_if_same=True))
