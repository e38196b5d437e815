"""The server's words for people, in Kazakh (the default) and Russian: one gettext catalogue
(``translations/{kk,ru}/LC_MESSAGES/messages.po``, compiled to the ``.mo`` beside it and
committed), read by Flask-Babel on the pages (server/web/language.py) and directly here where
there is no request (exports, the CLI). Message ids are English, the source language: whole
sentences with named placeholders, plural forms by ``ngettext``. How to add or change a text:
docs/i18n.md.

Depends on: the domain only (what its words name); the pages, the exports and the web layer
depend on it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Protocol, cast

from babel.support import Translations

LANGUAGES = ("kk", "ru")
DEFAULT_LANGUAGE = "kk"
TRANSLATIONS = Path(__file__).resolve().parent / "translations"
DOMAIN = "messages"


class Catalogue(Protocol):
    """What a catalogue answers (babel's Translations, Flask-Babel's per-request one)."""

    def gettext(self, message: str) -> str: ...

    def ngettext(self, singular: str, plural: str, n: int) -> str: ...

    def pgettext(self, context: str, message: str) -> str: ...


class MissingCatalogue(RuntimeError):
    """A language's compiled catalogue is not installed (a broken install, not a user error)."""


@functools.cache
def catalogue(lang: str) -> Catalogue:
    """The compiled catalogue of ``lang`` (``kk`` or ``ru``)."""
    if lang not in LANGUAGES:
        raise ValueError(f"language must be one of {', '.join(LANGUAGES)}")
    path = TRANSLATIONS / lang / "LC_MESSAGES" / f"{DOMAIN}.mo"
    if not path.exists():
        raise MissingCatalogue(f"{path} is missing: reinstall Qatys (docs/i18n.md)")
    with path.open("rb") as handle:
        return cast(Catalogue, Translations(handle, domain=DOMAIN))


def both(words: Callable[[Catalogue], str], once_if_same: bool = False) -> str:
    """Kazakh, then Russian, as the bilingual sheets print a heading: ``"Санат / Категория"``;
    with ``once_if_same`` a word the same in both is written once (``"карантин"``)."""
    kk, ru = words(catalogue("kk")), words(catalogue("ru"))
    return kk if once_if_same and kk == ru else f"{kk} / {ru}"
