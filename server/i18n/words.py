"""Words for the codes the domain and the services keep (a role, a day's mark and reason, a
check-in method, a terminal's ledger entry, an anomaly flag with its parameters), in one
catalogue's language: the pages pass the request's catalogue, the exports each language's.

An unknown code is shown as it is, never as an error: a page must not fail because a newer
terminal reports something this server has no words for yet.
"""

from __future__ import annotations

from collections.abc import Callable

from server.domain.anomalies import MANUAL_SHARE_LIMIT, Flag
from server.domain.funding import DayEntry
from server.i18n import Catalogue, both


class Words:
    def __init__(self, tr: Catalogue) -> None:
        self.tr = tr

    def role(self, role: str) -> str:
        tr = self.tr
        return {"finance": tr.gettext("finance officer"), "director": tr.gettext("director"),
                "teacher": tr.gettext("teacher"), "operator": tr.gettext("district operator"),
                "auditor": tr.gettext("auditor (read only)"),
                "admin": tr.gettext("administrator")}.get(role, role)

    def approval(self, status: str) -> str:
        tr = self.tr
        return {"not_approved": tr.gettext("not approved"), "approved": tr.gettext("approved"),
                "changed": tr.gettext("changed after approval")}.get(status, status)

    def delivery(self, status: str) -> str:
        """An approved statement's way to the queue core (the outbox's status)."""
        tr = self.tr
        return {"pending": tr.gettext("waiting"), "delivered": tr.gettext("delivered"),
                "refused": tr.gettext("refused")}.get(status, status)

    def consent(self, status: str, until: str = "") -> str:
        """Face check-in consent as staff read it."""
        tr = self.tr
        if status == "granted":
            return tr.gettext("given, until %(until)s") % {"until": until}
        return {"none": tr.gettext("none"), "withdrawn": tr.gettext("withdrawn"),
                "expired": tr.gettext("expired")}.get(status, status)

    def consent_source(self, source: str) -> str:
        """How a consent was given."""
        tr = self.tr
        return {"paper": tr.gettext("on paper"), "phone": tr.gettext("signed on a phone"),
                "director": tr.gettext("by the director")}.get(source, source)

    def assurance(self, level: str) -> str:
        """How sure a check-in is of who came (protocol/events.py)."""
        tr = self.tr
        return {"high": tr.gettext("high assurance"), "medium": tr.gettext("medium assurance"),
                "low": tr.gettext("low assurance")}.get(level, level)

    def method(self, method: str) -> str:
        tr = self.tr
        return {"qr-card": tr.gettext("card"), "qr-phone": tr.gettext("phone"),
                "face": tr.gettext("face"), "manual": tr.gettext("by hand")}.get(method, method)

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
        return {"illness": tr.gettext("illness"), "quarantine": tr.gettext("quarantine"),
                "sanatorium": tr.gettext("sanatorium"), "leave": tr.gettext("leave"),
                "other": tr.gettext("another reason"), "weekend": tr.gettext("weekend"),
                "holiday": tr.gettext("public holiday"),
                "closure": tr.gettext("the kindergarten is closed")}.get(reason, reason)

    def day(self, entry: DayEntry) -> str:
        """A day of the табель in words: its mark and, where there is one, its reason."""
        tr = self.tr
        reason = {"reason": self.reason(entry.reason)}
        if entry.mark == "present":
            return tr.gettext("present")
        if entry.mark == "paid_absence":
            return tr.gettext("excused, paid: %(reason)s") % reason
        if entry.mark == "unpaid_absence":
            return tr.gettext("excused, not paid: %(reason)s") % reason
        if entry.mark == "absent":
            return tr.gettext("absent")
        if entry.mark == "non_working":
            return tr.gettext("not a working day: %(reason)s") % reason if entry.reason else \
                tr.gettext("not a working day")
        if entry.mark == "not_enrolled":
            return tr.gettext("not on the roster")
        return entry.mark

    def legend(self) -> str:
        """What the табель's letters mean, in this catalogue's language."""
        return _legend(lambda words: words(self.tr))

    def camera(self, state: str) -> str:
        """A terminal's camera as its last health report says (protocol/health.py)."""
        tr = self.tr
        return {"ok": tr.gettext("camera working"), "failed": tr.gettext("camera failed"),
                "ended": tr.gettext("video clip ended"),
                "none": tr.gettext("no camera")}.get(state, state)

    def ledger(self, what: str) -> str:
        """An entry of a terminal's own outage ledger."""
        tr = self.tr
        return {"power_on": tr.gettext("switched on"), "kiosk_start": tr.gettext("restarted"),
                "offline": tr.gettext("offline"), "online": tr.gettext("back online"),
                "camera_failed": tr.gettext("camera failed"),
                "camera_ok": tr.gettext("camera working again")}.get(what, what)

    def rule(self, rule: str) -> str:
        """What an anomaly rule looks for and why it matters (a flag's heading)."""
        tr = self.tr
        if rule == "manual_share":
            return tr.gettext("More than %(limit)s of the month's check-ins were entered by "
                              "hand (the least trusted way).") % {
                                  "limit": f"{MANUAL_SHARE_LIMIT:.0%}".replace("%", " %")}
        return {
            "stack_of_cards": tr.gettext(
                "Many children were checked in on one terminal within a minute by one method: "
                "a stack of cards may have been scanned by one hand."),
            "present_on_closure": tr.gettext(
                "Check-ins on a day the kindergarten was declared closed."),
            "two_kindergartens": tr.gettext(
                "One child was checked in at two kindergartens on the same day."),
            "clock_jump": tr.gettext(
                "The terminal's clock jumped: times and days may be wrong."),
            "scans_while_camera_down": tr.gettext(
                "Camera check-ins while the terminal reported its camera failed: its clock or "
                "its records are wrong."),
            "phone_code_reused": tr.gettext(
                "One guardian's phone code was taken at two terminals: it may have been passed "
                "on (a photo of the screen)."),
            "clock_corrected": tr.gettext(
                "Check-ins recorded while the terminal's clock was wrong: their times were "
                "corrected by the server (the originals are kept)."),
        }.get(rule, rule)

    def flag(self, flag: Flag) -> str:
        """What one flag saw, from its code and parameters (``flag.summary`` is the same in
        English, for logs and machines)."""
        tr, p = self.tr, dict(flag.params)
        rule = flag.rule
        try:
            if rule == "stack_of_cards":
                return tr.ngettext(
                    "%(children)s child checked in by %(method)s on terminal %(terminal)s "
                    "within %(seconds)s s",
                    "%(children)s children checked in by %(method)s on terminal %(terminal)s "
                    "within %(seconds)s s", int(p["children"])) % {
                        **p, "method": self.method(str(p["method"]))}
            if rule == "present_on_closure":
                return tr.ngettext("%(children)s child checked in on a closure day",
                                   "%(children)s children checked in on a closure day",
                                   int(p["children"])) % p
            if rule == "manual_share":
                return tr.ngettext(
                    "%(manual)s of %(total)s check-in entered by hand (%(percent)s %%, limit "
                    "%(limit)s %%)",
                    "%(manual)s of %(total)s check-ins entered by hand (%(percent)s %%, limit "
                    "%(limit)s %%)", int(p["total"])) % p
            if rule == "two_kindergartens":
                return tr.gettext("child %(child)s also checked in at %(others)s") % p
            if rule == "clock_jump":
                return tr.gettext("terminal %(terminal)s: its wall clock moved %(shift)s min "
                                  "against its monotonic clock") % {
                                      **p, "shift": f"{int(p['minutes']):+d}"}
            if rule == "scans_while_camera_down":
                return tr.ngettext(
                    "terminal %(terminal)s: %(scans)s camera check-in while it reported its "
                    "camera failed",
                    "terminal %(terminal)s: %(scans)s camera check-ins while it reported its "
                    "camera failed", int(p["scans"])) % p
            if rule == "phone_code_reused":
                return tr.gettext("one phone code (binding %(binding)s, window %(window)s) "
                                  "taken at %(terminals)s") % p
            if rule == "clock_corrected":
                return tr.ngettext(
                    "terminal %(terminal)s: %(events)s event recorded with its clock %(days)s "
                    "days off; its time was corrected",
                    "terminal %(terminal)s: %(events)s events recorded with its clock %(days)s "
                    "days off; their times were corrected", int(p["events"])) % p
        except (KeyError, ValueError, TypeError):
            pass  # a flag without the parameters its words need
        return flag.summary


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
