"""A phone's push subscription: registered by a signed-in guardian (opt-in on the parents'
page), turned off by the guardian, or dropped when its push service says it is gone.

Every field is checked before anything is written; a wrong one is ``malformed`` naming it."""

from __future__ import annotations

import base64
import binascii
import ipaddress
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import Connection, select

from qatys.sentences import Sentence
from server.errors import FamiliesError
from server.i18n import DEFAULT_LANGUAGE, LANGUAGES
from server.storage import db


class DropReason:
    """``push_subscriptions.drop_reason``."""
    GONE = "gone"
    """The push service answered 404 or 410."""
    UNSUBSCRIBED = "unsubscribed"
    """The guardian turned notifications off on the phone."""
    REPLACED = "replaced"
    """The same endpoint was registered again (new keys)."""


def _malformed(field: str, message: Sentence) -> FamiliesError:
    return FamiliesError("malformed", message, field=field)


def _b64url(value: str, field: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError) as exc:
        raise _malformed(field, Sentence("the field %(field)s must be base64url",
                                         field=field)) from exc


def check_endpoint(endpoint: str, allow_loopback: bool = False) -> str:
    """A push service's URL: https to a named host or a public address, at most 2 KB, no
    credentials or fragment; plain http to this machine only with ``allow_loopback`` (the
    tests' stand-in). The server posts to it: no address of a private network."""
    if len(endpoint) > db.PUSH_ENDPOINT_LENGTH:
        raise _malformed("endpoint", Sentence("the endpoint is longer than %(limit)s "
                                              "characters", limit=db.PUSH_ENDPOINT_LENGTH))
    try:
        parts = urlsplit(endpoint)
        port = parts.port
    except ValueError as exc:
        raise _malformed("endpoint", Sentence("the endpoint is not a URL")) from exc
    host = parts.hostname or ""
    loopback = allow_loopback and host in ("127.0.0.1", "localhost", "::1")
    if loopback and parts.scheme in ("http", "https"):
        scheme_ok = True
    else:
        scheme_ok = parts.scheme == "https" and bool(host) and host != "localhost" \
            and not _private_address(host)
    if not scheme_ok or parts.username or parts.password or parts.fragment or port == 0 \
            or any(c.isspace() for c in endpoint):
        raise _malformed("endpoint", Sentence("the endpoint must be an https address of a push "
                                              "service"))
    return endpoint


def _private_address(host: str) -> bool:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False  # a name
    return not address.is_global


def check_keys(p256dh: str, auth: str) -> None:
    """The phone's P-256 public key (uncompressed point) and 16-byte auth secret."""
    raw = _b64url(p256dh, "p256dh")
    try:
        if len(raw) != 65 or raw[0] != 4:
            raise ValueError("not an uncompressed point")
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw)
    except ValueError as exc:
        raise _malformed("p256dh", Sentence("the field p256dh must be a P-256 public key "
                                            "(65 bytes, uncompressed)")) from exc
    if len(_b64url(auth, "auth")) != 16:
        raise _malformed("auth", Sentence("the field auth must be 16 bytes"))


def subscribe(conn: Connection, guardian_id: str, endpoint: str, p256dh: str, auth: str,
              language: str, now_us: int, allow_loopback: bool = False) -> int:
    """Register the phone's subscription (checked first); the same endpoint registered again
    replaces the earlier one. Returns the subscription's id."""
    check_endpoint(endpoint, allow_loopback)
    check_keys(p256dh, auth)
    language = language if language in LANGUAGES else DEFAULT_LANGUAGE
    same = conn.execute(select(db.push_subscriptions)
                        .where(db.push_subscriptions.c.endpoint == endpoint)
                        .where(db.push_subscriptions.c.dropped_at_us.is_(None))).all()
    for row in same:
        if (row.guardian_id, row.p256dh, row.auth) == (guardian_id, p256dh, auth):
            if row.language != language:
                conn.execute(db.push_subscriptions.update()
                             .where(db.push_subscriptions.c.id == row.id)
                             .values(language=language))
            return int(row.id)
        drop(conn, int(row.id), DropReason.REPLACED, now_us)
    result = conn.execute(db.push_subscriptions.insert().values(
        guardian_id=guardian_id, endpoint=endpoint, p256dh=p256dh, auth=auth,
        language=language, created_at_us=now_us))
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def unsubscribe(conn: Connection, guardian_id: str, endpoint: str, now_us: int) -> int:
    """Turn off this guardian's subscriptions at ``endpoint``; returns how many."""
    ids = conn.execute(select(db.push_subscriptions.c.id)
                       .where(db.push_subscriptions.c.guardian_id == guardian_id)
                       .where(db.push_subscriptions.c.endpoint == endpoint)
                       .where(db.push_subscriptions.c.dropped_at_us.is_(None))).scalars().all()
    for subscription_id in ids:
        drop(conn, int(subscription_id), DropReason.UNSUBSCRIBED, now_us)
    return len(ids)


def drop(conn: Connection, subscription_id: int, reason: str, now_us: int) -> None:
    """The subscription ends, and its messages not yet sent are dropped with it."""
    conn.execute(db.push_subscriptions.update()
                 .where(db.push_subscriptions.c.id == subscription_id)
                 .where(db.push_subscriptions.c.dropped_at_us.is_(None))
                 .values(dropped_at_us=now_us, drop_reason=reason))
    conn.execute(db.push_outbox.update()
                 .where(db.push_outbox.c.subscription_id == subscription_id)
                 .where(db.push_outbox.c.status == db.PushStatus.PENDING)
                 .values(status=db.PushStatus.DROPPED, claimed_until_us=None,
                         last_error=f"subscription {reason}"))
