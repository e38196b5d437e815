"""What the commands tell people, in their language: the ``cli`` gettext catalogue.

A command's confirmations and its ``error:`` lines are read by installers, directors and
finance staff at a terminal, in Kazakh or Russian; scripts read only the JSON, ids and numbers
on stdout, which are never translated. So every such text is a :class:`Sentence` — a whole
English sentence with named placeholders and its values, kept apart until it is shown:

- the services raise their errors with one (``ServiceError(code, Sentence(...))``): the
  web answer's ``message`` and the logs take it in English, ``str(sentence)``; a command
  shows it in its reader's language (:func:`say`);
- the commands print theirs with :func:`echo`.

The reader's language is ``QATYS_LANG`` (``kk``, ``ru`` or ``en``), else the locale's, as
every gettext program reads it (``LANGUAGE``, ``LC_ALL``, ``LC_MESSAGES``, ``LANG``):
``LANG=ru_RU.UTF-8`` gives Russian. Any other language, or none (``C``, a developer's
machine), gives the English source. The catalogue lives in ``qatys/translations/``
(docs/i18n.md); this module is a leaf, so the terminal, the server and provisioning can all
use it.
"""

from __future__ import annotations

import functools
import gettext
import os
from collections.abc import Mapping
from pathlib import Path

import click

LANGUAGES = ("kk", "ru")
ENGLISH = "en"
TRANSLATIONS = Path(__file__).resolve().parent / "translations"
DOMAIN = "cli"
LOCALE_VARIABLES = ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")


class MissingCatalogue(RuntimeError):
    """A language's compiled catalogue is not installed (a broken install, not a user error)."""


class Sentence:
    """A whole sentence (an English msgid with ``%(name)s`` placeholders) and its values.

    A value may itself be a Sentence (rendered in the same language) or an enum (shown by its
    value). ``plural`` and ``count`` make it a sentence with a count, translated by
    ``ngettext``: use :func:`plural_sentence` to write one.
    """

    __slots__ = ("count", "msgid", "params", "plural")

    def __init__(self, msgid: str, /, **params: object) -> None:
        self.msgid = msgid
        self.params: Mapping[str, object] = params
        self.plural: str | None = None
        self.count = 0

    def render(self, catalogue: gettext.NullTranslations) -> str:
        """The sentence in ``catalogue``'s language, its values filled in."""
        if self.plural is None:
            template = catalogue.gettext(self.msgid)
        else:
            template = catalogue.ngettext(self.msgid, self.plural, self.count)
        if not self.params:
            return template
        return template % {name: _rendered(value, catalogue)
                           for name, value in self.params.items()}

    def __str__(self) -> str:
        return self.render(gettext.NullTranslations())

    def __repr__(self) -> str:
        return f"Sentence({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, Sentence) and (self.msgid, self.plural, self.count)
                == (other.msgid, other.plural, other.count) and self.params == other.params)

    def __hash__(self) -> int:
        return hash((self.msgid, self.plural, self.count))


def plural_sentence(singular: str, plural: str, count: int, /, **params: object) -> Sentence:
    """A sentence about ``count`` things: each language picks its own plural form (Russian
    has three). ``count`` is also a placeholder, ``%(count)s``, unless ``params`` name it."""
    sentence = Sentence(singular, **{"count": count, **params})
    sentence.plural, sentence.count = plural, count
    return sentence


def _rendered(value: object, catalogue: gettext.NullTranslations) -> object:
    if isinstance(value, Sentence):
        return value.render(catalogue)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    return str(value)


def reader_language(environ: Mapping[str, str] | None = None) -> str:
    """``kk``, ``ru`` or ``en``: ``QATYS_LANG`` if it names one of them, else the first
    locale variable that is set, by its language part (``ru`` of ``ru_RU.UTF-8``)."""
    env = os.environ if environ is None else environ
    chosen = env.get("QATYS_LANG", "").strip().lower()
    if chosen in (*LANGUAGES, ENGLISH):
        return chosen
    for variable in LOCALE_VARIABLES:
        value = env.get(variable, "")
        if value:
            first = value.split(":")[0]
            language = first.split(".")[0].split("@")[0].split("_")[0].lower()
            return language if language in LANGUAGES else ENGLISH
    return ENGLISH


def unknown_language_setting(environ: Mapping[str, str] | None = None) -> str | None:
    """``QATYS_LANG``'s value when it names no language Qatys speaks (the command refuses to
    start rather than guess), else None."""
    env = os.environ if environ is None else environ
    chosen = env.get("QATYS_LANG", "").strip().lower()
    return chosen if chosen and chosen not in (*LANGUAGES, ENGLISH) else None


@functools.cache
def catalogue(lang: str) -> gettext.NullTranslations:
    """The compiled ``cli`` catalogue of ``lang``; English is the msgids themselves."""
    if lang == ENGLISH:
        return gettext.NullTranslations()
    if lang not in LANGUAGES:
        raise ValueError(f"language must be one of {', '.join((*LANGUAGES, ENGLISH))}")
    path = TRANSLATIONS / lang / "LC_MESSAGES" / f"{DOMAIN}.mo"
    if not path.exists():
        raise MissingCatalogue(f"{path} is missing: reinstall Qatys (docs/i18n.md)")
    with path.open("rb") as handle:
        return gettext.GNUTranslations(handle)


def say(message: Sentence | str, lang: str | None = None) -> str:
    """``message`` in ``lang`` (default: the reader's); a plain string is shown as it is
    (a value from outside: a path, a library's own error)."""
    if isinstance(message, str):
        return message
    return message.render(catalogue(lang or reader_language()))


def echo(message: Sentence | str, err: bool = False) -> None:
    """Print ``message`` for the person at the command line, in their language."""
    click.echo(say(message), err=err)


def told(exc: BaseException) -> Sentence | str:
    """What an error says: the Sentence it was raised with, else its text."""
    sentence = getattr(exc, "sentence", None)
    return sentence if isinstance(sentence, Sentence) else str(exc)
