"""The reader's language on the pages (Kazakh by default, or Russian) and the lookup of a
text in a (kk, ru) table."""

from __future__ import annotations

from flask import request
from werkzeug.wrappers.response import Response as WebResponse

LANGUAGES = ("kk", "ru")


def request_language() -> str:
    """The page language: ``?lang=`` first, then the remembered cookie, else Kazakh."""
    wanted = request.args.get("lang") or request.cookies.get("lang", "kk")
    return wanted if wanted in LANGUAGES else "kk"


def remember_language(response: WebResponse) -> None:
    """Keep a language chosen with ``?lang=`` for the next pages (a year)."""
    if request.args.get("lang") in LANGUAGES:
        response.set_cookie("lang", request.args["lang"], max_age=365 * 86400, samesite="Lax")


def translate(table: dict[str, tuple[str, str]], key: str, lang: str) -> str:
    """The Kazakh or Russian of ``key`` in a (kk, ru) table; a missing key raises."""
    kk, ru = table[key]
    return ru if lang == "ru" else kk
