"""Deterministic CBOR (RFC 8949 §4.2.1) encoding and strict decoding.

Every signed or hashed structure is encoded once by :func:`encode` and its
bytes are then stored, hashed and sent verbatim. :func:`decode` accepts only
bytes that :func:`encode` itself would produce: definite lengths, shortest
integers, sorted unique map keys, no tags. All map keys in the protocol are
short text strings (< 24 bytes), for which the core ordering of §4.2.1 and the
length-first ordering of §4.2.3 coincide, so any conforming encoder agrees.
"""

from __future__ import annotations

from typing import Any

import cbor2

from protocol.errors import EncodingError

MAX_DEPTH = 6


def encode(value: Any) -> bytes:
    """Canonical bytes of a value made of dicts, lists, str, bytes, int, bool and None."""
    try:
        return bytes(cbor2.dumps(value, canonical=True))
    except (cbor2.CBOREncodeError, TypeError, ValueError) as exc:
        raise EncodingError(f"value cannot be encoded: {exc}") from exc


def _no_tags(decoder: Any, tag: Any) -> Any:
    raise EncodingError("CBOR tags are not allowed")


def decode(data: bytes, *, typed_by_caller: bool = False) -> Any:
    """Decode canonical bytes; raise :class:`EncodingError` for anything else.

    ``typed_by_caller`` skips the walk that refuses non-plain types, for callers
    that check the type of every field themselves (events, bodies: the hot path).
    """
    try:
        value = cbor2.loads(
            data,
            tag_hook=_no_tags,
            allow_indefinite=False,
            allow_duplicate_keys=False,
            max_depth=MAX_DEPTH,
            strict_hashable_types=True,
        )
    except EncodingError:
        raise
    except Exception as exc:  # cbor2 raises several types for truncated or invalid input
        raise EncodingError(f"not valid CBOR: {type(exc).__name__}") from exc
    if not typed_by_caller:
        _require_plain(value)
    elif isinstance(value, dict):
        _require_sorted_text_keys(value)
    # Every map's keys are now known to be in canonical order, and cbor2 always
    # writes shortest integers and definite lengths, so a plain re-encoding that
    # keeps the decoded order equals the input exactly when the input is canonical.
    if bytes(cbor2.dumps(value)) != data:
        raise EncodingError("not the canonical encoding")
    return value


_KNOWN_ORDERS: set[tuple[Any, ...]] = set()
_KNOWN_ORDERS_LIMIT = 256


def _require_sorted_text_keys(value: dict[Any, Any]) -> None:
    """Text keys in RFC 8949 §4.2.1 order: for text, bytewise order of the encoded key
    equals ordering by (UTF-8 length, UTF-8 bytes). Orders already seen are remembered,
    since every event carries the same keys."""
    keys = tuple(value)
    if keys in _KNOWN_ORDERS:
        return
    _check_order(keys)
    if len(_KNOWN_ORDERS) < _KNOWN_ORDERS_LIMIT:
        _KNOWN_ORDERS.add(keys)


def _check_order(value: tuple[Any, ...]) -> None:
    previous: tuple[int, bytes] | None = None
    for key in value:
        if not isinstance(key, str):
            raise EncodingError("map keys must be text")
        encoded = key.encode("utf-8")
        current = (len(encoded), encoded)
        if previous is not None and current <= previous:
            raise EncodingError("map keys are not in canonical order")
        previous = current


_PLAIN_SCALARS = (str, bytes, int, bool, type(None))


def _require_plain(value: Any) -> None:
    """Refuse what cbor2 turns into richer types (dates, decimals, sets, floats)."""
    if isinstance(value, dict):
        _require_sorted_text_keys(value)
        for item in value.values():
            _require_plain(item)
    elif isinstance(value, list):
        for item in value:
            _require_plain(item)
    elif not isinstance(value, _PLAIN_SCALARS):
        raise EncodingError(f"type {type(value).__name__} is not allowed")


def decode_map(data: bytes, what: str, *, typed_by_caller: bool = False) -> dict[str, Any]:
    value = decode(data, typed_by_caller=typed_by_caller)
    if not isinstance(value, dict):
        raise EncodingError(f"{what} must be a CBOR map")
    return value
