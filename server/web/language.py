"""The reader's language on the pages (Kazakh by default, or Russian) and the pages'
catalogue: Flask-Babel over the server's gettext catalogue (server/i18n/), its locale the
page language of the request."""

from __future__ import annotations

from flask import Flask, request
from flask_babel import Babel
from werkzeug.wrappers.response import Response as WebResponse

from server.i18n import DEFAULT_LANGUAGE, LANGUAGES, TRANSLATIONS


def request_language() -> str:
    """The page language: ``?lang=`` first, then the remembered cookie, else Kazakh."""
    wanted = request.args.get("lang") or request.cookies.get("lang", DEFAULT_LANGUAGE)
    return wanted if wanted in LANGUAGES else DEFAULT_LANGUAGE


def remember_language(response: WebResponse) -> None:
    """Keep a language chosen with ``?lang=`` for the next pages (a year)."""
    if request.args.get("lang") in LANGUAGES:
        response.set_cookie("lang", request.args["lang"], max_age=365 * 86400, samesite="Lax")


def install(app: Flask) -> None:
    """Pages of ``app`` speak the request's language: ``_``, ``gettext`` and ``ngettext`` in
    templates, ``flask_babel.gettext`` in views."""
    Babel(app, locale_selector=request_language, default_locale=DEFAULT_LANGUAGE,
          default_translation_directories=str(TRANSLATIONS))
