"""Every JSON body the server reads, parsed once and checked field by field.

- :class:`SafeJSONProvider` is the app's JSON provider: a body nested deeper than
  :data:`MAX_DEPTH` levels (or so deep that the parser itself gives up), or holding ``NaN`` or
  ``Infinity``, is no JSON to this server. ``request.get_json(silent=True)`` then gives None
  and the route refuses it as ``malformed`` (400) before anything is written, on every JSON
  endpoint, unauthenticated ones included.
- :func:`json_object` and the field readers (:func:`text`, :func:`integer`, :func:`texts`,
  :func:`optional_text`) refuse a field of the wrong type or size with 400 ``malformed``
  naming the field (``details.field``): nothing is coerced with ``str()``.

Integers are bounded by :data:`INT64_MAX` at most: every number a route stores goes into a
64-bit column on both databases.
"""

from __future__ import annotations

import json
import re
from typing import Any

from flask import Flask, request
from flask.json.provider import DefaultJSONProvider

from server.errors import RequestError

MAX_DEPTH = 32
"""Levels of arrays and objects a body may nest: the deepest of our messages has four."""
INT64_MAX = 2**63 - 1


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def depth_within(value: Any, limit: int = MAX_DEPTH) -> bool:
    """Whether ``value`` nests at most ``limit`` levels (walked without recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if level > limit:
            return False
        stack.extend((child, level + 1) for child in children)
    return True


class SafeJSONProvider(DefaultJSONProvider):
    """Flask's JSON with a bounded depth and no NaN: what it cannot take is a ValueError,
    which Flask's ``get_json`` turns into "no JSON body"."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        kwargs.setdefault("parse_constant", _no_constant)
        try:
            value = json.loads(s, **kwargs)
        except RecursionError as exc:
            raise ValueError("the JSON is nested too deeply") from exc
        if not depth_within(value):
            raise ValueError(f"the JSON is nested more than {MAX_DEPTH} levels deep")
        return value


def install(app: Flask) -> None:
    provider = SafeJSONProvider(app)
    provider.ensure_ascii = app.json.ensure_ascii  # type: ignore[attr-defined]
    provider.sort_keys = app.json.sort_keys  # type: ignore[attr-defined]
    app.json = provider


def json_object(*required: str) -> dict[str, Any]:
    """The request's JSON object with at least these fields, else 400 ``malformed``."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not set(required) <= set(body):
        raise RequestError("malformed",
                           f"send {', '.join(required) or '{}'} as a JSON object")
    return body


def _wrong(name: str, what: str) -> RequestError:
    """A client's field of the wrong type: said to the client's developer, in English."""
    return RequestError("malformed", f"the field {name} must be {what}", field=name)


def text(body: dict[str, Any], name: str, max_len: int = 64, *, pattern: str | None = None,
         allow_empty: bool = False) -> str:
    """A text field of at most ``max_len`` characters (matching ``pattern``, if given)."""
    value = body.get(name)
    least = 0 if allow_empty else 1
    if not isinstance(value, str) or not least <= len(value) <= max_len:
        raise _wrong(name, f"text of {least} to {max_len} characters")
    if pattern is not None and re.fullmatch(pattern, value) is None:
        raise _wrong(name, f"text of the form {pattern}")
    return value


def optional_text(body: dict[str, Any], name: str, max_len: int) -> str:
    """A text field that may be missing or null (then "")."""
    if body.get(name) is None:
        return ""
    return text(body, name, max_len, allow_empty=True)


def integer(body: dict[str, Any], name: str, least: int = 0, most: int = INT64_MAX) -> int:
    """A whole number from ``least`` to ``most`` (never a boolean, never a fraction)."""
    value = body.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or not least <= value <= most:
        raise _wrong(name, f"a whole number from {least} to {most}")
    return value


def texts(body: dict[str, Any], name: str, max_items: int, max_len: int) -> list[str]:
    """A list (missing or null: empty) of texts of 1 to ``max_len`` characters."""
    value = body.get(name)
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > max_items or not all(
            isinstance(v, str) and 0 < len(v) <= max_len for v in value):
        raise _wrong(name, f"a list of at most {max_items} texts of 1 to {max_len} characters")
    return value
