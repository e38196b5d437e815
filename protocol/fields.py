"""Small typed readers for decoded CBOR maps, so every message is checked the same way."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any, TypeVar

from protocol.errors import EncodingError

E = TypeVar("E", bound=StrEnum)


def require_keys(data: dict[str, Any], required: set[str], optional: set[str], what: str) -> None:
    keys = set(data)
    missing = required - keys
    unknown = keys - required - optional
    if missing:
        raise EncodingError(f"{what} lacks {', '.join(sorted(missing))}")
    if unknown:
        raise EncodingError(f"{what} has unknown fields {', '.join(sorted(unknown))}")


def text(data: dict[str, Any], key: str, *, max_len: int, optional: bool = False) -> str:
    value = data.get(key)
    if value is None and optional:
        return ""
    if not isinstance(value, str) or not value or len(value) > max_len:
        raise EncodingError(f"{key} must be text of 1..{max_len} characters")
    return value


def uint(data: dict[str, Any], key: str, *, minimum: int = 0, maximum: int = 2**63 - 1) -> int:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        raise EncodingError(f"{key} must be an integer in {minimum}..{maximum}")
    return value


def blob(data: dict[str, Any], key: str, *, size: int | None = None,
         max_len: int = 1 << 20) -> bytes:
    value = data.get(key)
    if not isinstance(value, bytes):
        raise EncodingError(f"{key} must be a byte string")
    if size is not None and len(value) != size:
        raise EncodingError(f"{key} must be {size} bytes")
    if len(value) > max_len:
        raise EncodingError(f"{key} is longer than {max_len} bytes")
    return value


def member(data: dict[str, Any], key: str, members: Mapping[str, E]) -> E:
    """The enum member a text field names; ``members`` maps each allowed text to its member
    (a dict look-up: events are decoded on the hot path)."""
    value = data.get(key)
    found = members.get(value) if isinstance(value, str) else None
    if found is None:
        raise EncodingError(f"{key} must be one of {', '.join(members)}")
    return found


def choice(data: dict[str, Any], key: str, allowed: tuple[str, ...]) -> str:
    value = data.get(key)
    if value not in allowed:
        raise EncodingError(f"{key} must be one of {', '.join(allowed)}")
    assert isinstance(value, str)
    return value
