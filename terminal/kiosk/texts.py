"""What the kiosk says, in Kazakh and Russian at once (the door screen switches between them
without asking the terminal again): for each result and refusal reason, and the words of the
door page. The words come from the kiosk's own gettext catalogue
(``translations/{kk,ru}/LC_MESSAGES/kiosk.po``, compiled to the ``.mo`` beside it and
committed), read with the standard library's ``gettext``: the terminal imports nothing of the
server. Message ids are English, the source language (docs/i18n.md)."""

from __future__ import annotations

import functools
import gettext
import re
from pathlib import Path

LANGUAGES = ("kk", "ru")
TRANSLATIONS = Path(__file__).resolve().parent / "translations"
DOMAIN = "kiosk"


def N_(message: str) -> str:
    """Marks a message for the catalogue where it is looked up later (by ``say``)."""
    return message


MESSAGES: dict[str, str] = {
    "in": N_("Welcome!"),
    "out": N_("Goodbye!"),
    "repeat": N_("Already checked in"),
    "repeat_in": N_("Welcome! Your arrival is already recorded"),
    "repeat_out": N_("Goodbye! Your departure is already recorded"),
    "accepted": N_("Checked in"),
    "unlocked": N_("The list is open"),
    "not_a_card": N_("This is not a Qatys card"),
    "damaged_card": N_("The card is damaged — tell the teacher"),
    "foreign_card": N_("A card of another kindergarten"),
    "forged_card": N_("The card is not valid"),
    "revoked_card": N_("The card is blocked — tell the teacher"),
    "expired_card": N_("The card has expired"),
    "expired_code": N_("The code is out of date — show the new one"),
    "replayed_code": N_("This code has been used — wait for the next one"),
    "unknown_phone": N_("The phone is not known yet — use the card"),
    "guardian_removed": N_("This phone's access was withdrawn"),
    "not_guardian": N_("This phone cannot check this child in"),
    "not_yet_valid": N_("The card is not valid yet"),
    "no_card_keys": N_("The terminal is not ready yet"),
    "unknown_child": N_("The child is not on the list"),
    "terminal_revoked": N_("The terminal is switched off"),
    "not_unlock_card": N_("This is not an unlock card"),
    "no_roster": N_("The list is not loaded yet"),
    "card_unknown": N_("The unlock card is not from this kindergarten"),
    "card_revoked": N_("The unlock card is blocked"),
    "card_invalid": N_("The unlock card is not valid"),
    "pin_wrong": N_("Wrong PIN"),
    "pin_locked": N_("Wait 5 minutes"),
    "reason_required": N_("Write the reason"),
    # storage faults (terminal/storage_guard.py): the red screen and the door page's banner
    "storage_full": N_("Storage full — call staff"),
    "storage_readonly": N_("Storage is damaged (read-only) — call staff"),
    "storage_low": N_("Storage almost full — tell staff"),
    "store_damaged": N_("The terminal's memory was damaged and repaired — tell staff"),
    "clock_not_set": N_("The terminal's clock is not set — use the card"),
    # face check-in (terminal/kiosk/face_watch.py): prompts, enrolment and its refusals
    "face_turn": N_("Turn your head a little"),
    "face_scan_qr": N_("Show the QR code"),
    "face_enrolling": N_("Look at the camera and turn your head a little"),
    "face_enrolled": N_("Face recorded"),
    "face_withdrawn": N_("Consent withdrawn, face erased"),
    "face_unknown": N_("Show the QR code"),
    "face_uncertain": N_("Show the QR code"),
    "face_spoof": N_("Show the QR code"),
    "face_busy": N_("A face is being recorded"),
    "no_consent": N_("No parent's consent — use the QR code"),
    "consent_withdrawn": N_("Consent was withdrawn"),
    "consent_expired": N_("The consent has expired"),
    "roster_locked": N_("The list is closed — connect to the server"),
    "no_usable_frame": N_("The face was not seen clearly — try again"),
    "several_people": N_("Only one person in the picture, please"),
    "no_liveness": N_("Turn your head — try again"),
    "looks_like_another_child": N_("Looks like another child — use the QR code"),
    "bad_child_id": N_("Wrong ID"),
    # first boot: enrolment from the token QR (terminal/kiosk/first_boot.py)
    "waiting": N_("Show the registration code to the camera"),
    "enrolling": N_("Registering…"),
    "enrolled": N_("The terminal is registered"),
    "not_enrolment_code": N_("This is not a registration code"),
    "token_invalid": N_("The code is damaged — issue a new one"),
    "token_used": N_("This code has been used — issue a new one"),
    "token_expired": N_("The code has expired — issue a new one"),
    "token_unknown": N_("The server does not know this code"),
    "server_key_mismatch": N_("This is not the server named in the code"),
    "answer_refused": N_("The server's answer failed the check — tell the administrator"),
    "plain_http": N_("Unprotected connection (http) — use https"),
    "server_unreachable": N_("No connection to the server — check the network"),
}
GENERIC_REFUSAL = N_("Not accepted — tell the teacher")
ENROLMENT_REFUSED = N_("Registration failed — tell the administrator")

RELATIONS: dict[str, str] = {
    "grandmother": N_("grandmother"),
    "grandfather": N_("grandfather"),
    "nanny": N_("nanny"),
    "aunt": N_("aunt"),
    "uncle": N_("uncle"),
    "sister": N_("sister"),
    "brother": N_("brother"),
    "neighbour": N_("neighbour"),
    "other": N_("another adult"),
}
"""The word beside the child's first name when a pickup adult's phone code collects them
(the door credentials carry the relation code alone, protocol/cards.py PhoneKey.pickup)."""


def relation_words(relation: str) -> dict[str, str] | None:
    """A relation code in both languages, or None for a code this terminal does not know."""
    message = RELATIONS.get(relation)
    return both(message) if message else None


PAGE_WORDS: dict[str, str] = {
    "online": N_("Online"),
    "offline": N_("No network"),
}
"""Words the door page's script puts together with numbers or states."""


class MissingCatalogue(RuntimeError):
    """A language's compiled catalogue is not installed (a broken install)."""


@functools.cache
def catalogue(lang: str) -> gettext.GNUTranslations:
    path = TRANSLATIONS / lang / "LC_MESSAGES" / f"{DOMAIN}.mo"
    if lang not in LANGUAGES or not path.exists():
        raise MissingCatalogue(f"no kiosk catalogue for {lang!r} at {path}")
    with path.open("rb") as handle:
        return gettext.GNUTranslations(handle)


def both(message: str) -> dict[str, str]:
    """``message`` in each language: ``{"kk": ..., "ru": ...}``."""
    return {lang: catalogue(lang).gettext(message) for lang in LANGUAGES}


def say(key: str, fallback: str = GENERIC_REFUSAL) -> dict[str, str]:
    """What the screen says for a result or refusal ``key``, in both languages."""
    return both(MESSAGES.get(key, fallback))


_PLURAL_RULE = re.compile(r"plural=([n0-9%=!<>&|?:() ]+);?\s*$")


def pending_forms() -> dict[str, list[str]]:
    """`` · N waiting`` after the network state on the door page (check-ins not sent yet):
    every plural form in each language, ``{n}`` where the number goes, for the page's script
    to index with ``plural_rule``."""
    found: dict[str, list[str]] = {}
    for lang in LANGUAGES:
        cat = catalogue(lang)
        forms: dict[int, str] = {}
        for n in range(200):
            index = int(cat.plural(n))  # type: ignore[attr-defined]
            forms.setdefault(index, cat.ngettext("%(num)s waiting", "%(num)s waiting", n))
        found[lang] = [forms[i].replace("%(num)s", "{n}") for i in sorted(forms)]
    return found


def plural_rule(lang: str) -> str:
    """The catalogue's Plural-Forms expression of ``n`` (C syntax, which is also JavaScript's):
    only numbers, ``n`` and operators, or this raises."""
    header = catalogue(lang).info().get("plural-forms", "")
    found = _PLURAL_RULE.search(header)
    if found is None:
        raise MissingCatalogue(f"the {lang} kiosk catalogue has no usable Plural-Forms")
    return found.group(1).strip()
