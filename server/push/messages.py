"""What a push message says: a small JSON the service worker shows (``title``, ``body``,
``url``, ``tag``) plus the facts it was made from, in the guardian's page language (Kazakh
when unknown). The texts are the server catalogue's (server/i18n)."""

from __future__ import annotations

import json
from typing import Any

from qatys.timeutil import LOCAL_ZONE, to_datetime
from server.i18n import DEFAULT_LANGUAGE, LANGUAGES, Catalogue, catalogue
from server.i18n.words import Words
from server.storage.db import PushKind

OPEN_URL = "/parents/"


def _tr(language: str) -> Catalogue:
    return catalogue(language if language in LANGUAGES else DEFAULT_LANGUAGE)


def local_time(at_us: int) -> str:
    return to_datetime(at_us).astimezone(LOCAL_ZONE).strftime("%H:%M")


def _payload(tr: Catalogue, kind: PushKind, body: str, tag: str, **facts: Any) -> str:
    return json.dumps({"title": tr.gettext("Qatys"), "body": body, "url": OPEN_URL,
                       "tag": tag, "kind": str(kind), **facts}, ensure_ascii=False)


def passage(language: str, kind: PushKind, child_id: str, first_name: str, at_us: int,
            receipt: str | None, relation: str | None = None) -> str:
    """An arrival or a departure. ``relation`` is the code (``grandmother``, …) of the pickup
    adult whose phone code collected the child: a departure's text names it in the guardian's
    language, and the facts carry the code."""
    tr, at = _tr(language), local_time(at_us)
    said = Words(tr).relation(relation) if relation else None
    values = {"name": first_name, "time": at, "receipt": receipt or "", "relation": said}
    if kind == PushKind.ARRIVAL:
        text = (tr.gettext("%(name)s arrived at %(time)s, receipt %(receipt)s") if receipt
                else tr.gettext("%(name)s arrived at %(time)s"))
    elif relation:
        text = (tr.gettext("%(name)s left at %(time)s with %(relation)s, receipt %(receipt)s")
                if receipt else tr.gettext("%(name)s left at %(time)s with %(relation)s"))
    else:
        text = (tr.gettext("%(name)s left at %(time)s, receipt %(receipt)s") if receipt
                else tr.gettext("%(name)s left at %(time)s"))
    return _payload(tr, kind, text % values, f"{child_id}:{kind}", child_id=child_id,
                    time=at, receipt=receipt or None, relation=relation)


def not_collected(language: str, child_id: str, first_name: str, closes_at: str) -> str:
    tr = _tr(language)
    text = tr.gettext("%(name)s has not been collected yet; the kindergarten closes at "
                      "%(time)s") % {"name": first_name, "time": closes_at}
    return _payload(tr, PushKind.NOT_COLLECTED, text, f"{child_id}:not-collected",
                    child_id=child_id, closes_at=closes_at)


def report_outcome(language: str, kind: PushKind, child_id: str, first_name: str, first: str,
                   last: str, note: str) -> str:
    tr = _tr(language)
    values = {"name": first_name, "first": first, "last": last, "note": note}
    if kind == PushKind.REPORT_ACCEPTED:
        text = tr.gettext("The absence of %(name)s from %(first)s to %(last)s was accepted")
    else:
        text = tr.gettext("The absence of %(name)s from %(first)s to %(last)s was declined: "
                          "%(note)s")
    return _payload(tr, kind, text % values, f"{child_id}:report", child_id=child_id,
                    first_day=first, last_day=last)
