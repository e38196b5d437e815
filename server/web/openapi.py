"""The OpenAPI 3.1 description of the API, served at ``/api/v1/openapi.json``.

One document for the terminals' API (``/api/v1/``) and the parents' pages' JSON API
(``/parents/api/``): every field as the server checks it (patterns, lengths, integer ranges,
required fields), the batch as the canonical CBOR map it is, and every status each operation
answers with, each refusal in the one JSON error shape. tests/test_docs.py checks it against
the app's routes both ways; tests/test_fuzz_api.py fuzzes a real server with it.
"""

from __future__ import annotations

from typing import Any

from protocol import MAX_BATCH_EVENTS
from protocol.events import MAX_TERMINAL_ID
from protocol.faces import EraseReason
from protocol.health import CAMERA_STATES, HEALTH_FIELDS
from protocol.phone import PickupRelation
from qatys import __version__
from server.domain.face_consent import ConsentAction
from server.domain.policy import AbsenceReason

ERROR_CODES = {
    "invitation_unknown": "no guardian invitation with this code",
    "invitation_used": "the guardian invitation was used already",
    "invitation_expired": "the guardian invitation is older than its validity (at most 7 days)",
    "bad_key": "the phone's public key is not an ECDSA P-256 SubjectPublicKeyInfo",
    "guardian_removed": "this phone's access to the child was removed",
    "challenge_invalid": "the sign-in challenge is unknown, used or older than two minutes",
    "unknown_phone": "no guardian has this phone key",
    "not_signed_in": "the parents' API needs a signed-in phone",
    "unknown_child": "the child is on no roster",
    "child_withdrawn": "the child has left the kindergarten",
    "not_bound": "the guardian is not bound to this child",
    "bad_first_name": "a pickup adult's first name is 1 to 100 letters (spaces, hyphens, "
                      "apostrophes between them)",
    "bad_relation": "a pickup adult's relation is not one of the list",
    "pickup_limit": "the child has as many pickup adults as the policy allows (default 6)",
    "already_guardian": "this phone is already a guardian's for the child",
    "bad_consent_period": "a consent runs from today for at most one year",
    "nothing_to_withdraw": "there is no consent in force to withdraw",
    "confirmation_closed": "the month can be confirmed or disputed only in its window",
    "bad_dispute": "a dispute must name days of that month and say what is wrong",
    "stale_signature": "the phone signed the consent more than ten minutes away from now",
    "replayed_consent": "the signed consent message was recorded before, or is not later than "
                        "the guardian's last recorded one for the child",
    "csrf_invalid": "the call lacks this session's CSRF token (X-Qatys-CSRF)",
    "rate_limited": "too many attempts from this address or for this account; see Retry-After",
    "malformed": "the body is not a well-formed message of this protocol",
    "unsupported_version": "a protocol version this server does not speak",
    "unsupported_media_type": "the body is not of the expected media type",
    "payload_too_large": "the body is larger than the server accepts",
    "unknown_terminal": "no terminal is enrolled with this id",
    "stale_request": "the signed request's time is more than 5 minutes off the server's clock",
    "replayed_request": "the server took this signed request already",
    "terminal_revoked": "the terminal was revoked; nothing it sends is accepted",
    "wrong_kindergarten": "the batch names a kindergarten the terminal is not enrolled in",
    "bad_signature": "the signature does not verify under the terminal's key",
    "terminal_mismatch": "an event belongs to another terminal than its batch",
    "bad_sequence": "sequence numbers inside the batch are not consecutive",
    "broken_chain": "an event does not link to the hash of its predecessor",
    "sequence_gap": "the batch starts after the next expected sequence number",
    "equivocation": "a different event was already stored under this sequence number",
    "unauthenticated": "the request lacks a terminal signature",
    "token_invalid": "the enrolment token is not of the documented form",
    "token_unknown": "the enrolment token was never issued",
    "token_used": "the enrolment token was already used",
    "token_expired": "the enrolment token has expired",
    "bad_proof": "the enrolment proof does not verify",
    "key_reused": "the terminal key is already enrolled",
    "not_found": "no such path",
    "bad_request": "a parameter is not of the documented form",
    "method_not_allowed": "the path does not accept this method",
    "internal_error": "the server failed; the request changed nothing",
    "consent_not_in_force": "the face template's consent was withdrawn, ran out or never "
                            "existed (details: reason); the terminal erases the template",
    "template_too_large": "an encrypted face template is larger than a template can be",
    "template_conflict": "another face template (or face key) already has this id",
    "unknown_face_key": "the face key is not registered for the sending terminal",
    "foreign_terminal": "the face key is sealed to a terminal that is not an active terminal "
                        "of the sender's kindergarten",
    "bad_notice": "the withdrawal notice does not open for the sending terminal",
    "report_reversed": "the absence report's last day is before its first day",
    "report_too_old": "the absence report begins before the policy's window of working days",
    "report_too_far": "the absence report ends more than 30 days after today",
    "report_too_long": "the absence report spans more than a year",
    "bad_reason": "the absence report's reason is no absence reason",
    "note_too_long": "the absence report's note is over 500 characters",
    "document_type": "the file is not a JPEG, PNG or PDF by its content",
    "document_too_large": "the file is over 10 MB",
    "document_missing": "the file is empty",
    "http_error": "an HTTP refusal of the web framework that has no code of its own",
    "request_line_too_long": "the request line is longer than gunicorn reads (4094 bytes)",
    "headers_too_large": "more than 100 header fields, or one longer than 8190 bytes",
    "malformed_request": "not well-formed HTTP/1.1 (request line, header, chunk or version)",
    "invalid_method": "the method is not an HTTP method token",
    "unsupported_transfer_coding": "a Transfer-Encoding other than chunked",
    "expectation_failed": "an Expect header other than 100-continue",
    "proxy_forbidden": "a PROXY-protocol or forwarded request from an address not trusted",
}

INT64 = 2**63 - 1
"""The largest integer a BIGINT column (SQLite and PostgreSQL) holds."""
MAX_FACE_LIST = 5000
"""Ids a terminal may list in one face sync (server/families/face_templates.py MAX_LIST)."""

_ERROR = {"$ref": "#/components/schemas/Error"}
_BASE64 = {"type": "string", "contentEncoding": "base64",
           "pattern": "^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$"}
_HEX32 = {"type": "string", "pattern": "^[0-9a-f]{32}$"}
_HEX64 = {"type": "string", "pattern": "^[0-9a-f]{64}$"}
_MONTH = {"type": "string", "pattern": "^20[0-9]{2}-(?:0[1-9]|1[0-2])$",
          "description": "ASCII YYYY-MM from 2000-01 to 2099-12 (docs/finance.md, Months)"}
_NONCE = {"type": "string",
          "pattern": "^[0-9]{1,16}\\.[A-Za-z0-9_-]{16}\\.[A-Za-z0-9_-]{24}$",
          "description": "issued time (ms), a random part and the server's MAC over both: "
                         "valid two minutes, used once (docs/parents.md)"}
_DAY = {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"}
_REFUSED = {
    400: "not of the documented form (malformed, bad_request, …)",
    401: "not signed in, or the signature or sign-in does not hold",
    403: "refused for who is asking (unknown or revoked terminal, CSRF token, …)",
    404: "no such thing, or not this caller's",
    409: "conflicts with what the server holds",
    410: "expired",
    413: "the body is larger than the server accepts",
    414: "the request line (path and query) is longer than the server reads",
    415: "the body is not of the expected media type",
    429: "too many attempts; see Retry-After",
}


def _text(max_len: int, min_len: int = 1, **extra: Any) -> dict[str, Any]:
    return {"type": "string", "minLength": min_len, "maxLength": max_len, **extra}


def _int(minimum: int = 0, maximum: int = INT64) -> dict[str, Any]:
    return {"type": "integer", "format": "int64", "minimum": minimum, "maximum": maximum}


def _object(properties: dict[str, Any], required: tuple[str, ...] | None = None,
            closed: bool = False) -> dict[str, Any]:
    """A JSON object; ``required`` all its properties unless named; ``closed``: no others."""
    schema: dict[str, Any] = {"type": "object", "properties": properties,
                              "required": list(properties if required is None else required)}
    if closed:
        schema["additionalProperties"] = False
    return schema


def _done(description: str, properties: dict[str, Any], status: int = 200) -> dict[str, Any]:
    return {str(status): {"description": description, "content": {"application/json": {
        "schema": _object({"ok": {"const": True}, **properties},
                          required=("ok", *properties))}}}}


def _errors(*statuses: int) -> dict[str, Any]:
    retry = {"Retry-After": {"description": "seconds to wait",
                             "schema": {"type": "string", "pattern": "^[0-9]+$"}}}
    return {str(s): {"description": _REFUSED[s], **({"headers": retry} if s == 429 else {}),
                     "content": {"application/json": {"schema": _ERROR}}}
            for s in statuses}


def _json_body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": "Qatys sync server", "version": __version__,
                 "description": "Terminals deliver signed batches of check-ins and sign every "
                                "other request (docs/protocol.md); the parents' pages call "
                                "/parents/api/ with a signed-in phone's session (docs/"
                                "parents.md). Every refusal is {ok: false, error: {code, "
                                "message, …}} (docs/api.md)."},
        "paths": {
            "/api/v1/health": {"get": {
                "summary": "Liveness, versions, server time, the database and the replica",
                "description": "503 when the primary database does not answer (a load "
                               "balancer takes the node out); the replica's fields only when "
                               "one is configured (docs/deployment.md)",
                "responses": _health()}},
            "/api/v1/openapi.json": {"get": {
                "summary": "This document",
                "responses": {"200": {"description": "OpenAPI 3.1", "content": {
                    "application/json": {"schema": {"type": "object",
                                                    "required": ["openapi", "paths"]}}}}}}},
            **_parents_api(),
            **_terminal_api(),
        },
        "components": _components(),
    }


def _health() -> dict[str, Any]:
    up = _done("up", {
        "version": {"type": "string"}, "protocol": {"type": "integer"},
        "max_batch_events": {"const": MAX_BATCH_EVENTS},
        "server_time_us": {"type": "integer"}, "database": {"const": "reachable"}})
    schema = up["200"]["content"]["application/json"]["schema"]
    schema["properties"].update({
        "replica": {"enum": ["reachable", "unreachable"]},
        "replica_lag_seconds": {"type": ["number", "null"], "minimum": 0,
                                "description": "0 when the replica has replayed the "
                                               "primary's WAL position, else the age of "
                                               "the last transaction it replayed"},
        "replica_behind_bytes": {"type": ["integer", "null"], "minimum": 0}})
    down = {"description": "the primary database does not answer", "content": {
        "application/json": {"schema": _object({
            "ok": {"const": False}, "database": {"const": "unreachable"},
            "version": {"type": "string"}})}}}
    return {**up, "503": down}


_SIGNED: list[dict[str, list[str]]] = [{"terminalSignature": []}]
_FACE_ID = _text(32)


def _signed(summary: str, responses: dict[str, Any], statuses: tuple[int, ...],
            body: dict[str, Any] | None = None, method: str = "post",
            **extra: Any) -> dict[str, Any]:
    """A request signed by an enrolled terminal (protocol/auth.py): 400 for another protocol
    version, 401 unsigned, stale or replayed, 403 unknown, revoked or forged."""
    operation: dict[str, Any] = {"summary": summary, "security": _SIGNED, **extra,
                                 "responses": {**responses, **_errors(400, 401, 403, *statuses)}}
    if body is not None:
        operation["requestBody"] = _json_body(body)
    return {method: operation}


def _terminal_api() -> dict[str, Any]:
    """What terminals call: batches, enrolment and the signed requests of a sync."""
    return {**_delivery_api(), **_sync_requests(), **_faces_api()}


def _delivery_api() -> dict[str, Any]:
    """The two calls that carry a terminal's own proof: a signed batch, an enrolment token."""
    return {
    "/api/v1/batches": {"post": {
        "summary": f"Deliver a signed batch of 1..{MAX_BATCH_EVENTS} events: a canonical CBOR "
                   "map whose signature (sig) covers the rest; byte strings are CBOR byte "
                   "strings. The batch carries its own signature: no request headers",
        "parameters": [{"name": "Qatys-Protocol", "in": "header",
                        "schema": {"type": "string", "enum": ["1", "2"]}}],
        "requestBody": {"required": True, "content": {"application/cbor": {
            "schema": {"$ref": "#/components/schemas/Batch"}}}},
        "responses": {**_done("stored (or already stored)", {
            "ack": _BASE64, "signature": _BASE64, "terminal_id": {"type": "string"},
            "acked_seq": {"type": "integer"}, "stored": {"type": "integer"}}),
                      **_errors(400, 403, 409, 413, 415)}}},
    "/api/v1/terminals/enrol": {"post": {
        "summary": "Enrol a terminal with a one-time token",
        "requestBody": _json_body(_object({
            "token": {"type": "string", "pattern": "^QTK1-[A-Z2-7]{32}-[A-Z2-7]{16}$"},
            "sign_pub": _BASE64, "box_pub": _BASE64, "proof": _BASE64,
            "software_version": _text(40, 0)}, ("token", "sign_pub", "box_pub", "proof"))),
        "responses": {**_done("enrolled", {
            "terminal_id": {"type": "string"}, "kindergarten": {"type": "string"},
            "kindergarten_name": {"type": "string"}, "server_sign_pub": _BASE64,
            "server_box_pub": _BASE64, "server_time_us": {"type": "integer"},
            "protocol": {"type": "integer"}}, 201), **_errors(400, 403, 413)}}},
    }


def _sync_requests() -> dict[str, Any]:
    """The signed requests of a sync: the clock, the roster, the door, status and health."""
    return {
    "/api/v1/terminal/time": _signed(
        "The server's clock, for a terminal whose own is off (signed request; freshness not "
        "checked; changes nothing)",
        _done("the server's time", {"terminal_id": {"type": "string"},
                                    "server_time_us": {"type": "integer"}}), (), method="get"),
    "/api/v1/terminal/roster": _signed(
        "Roster ids and first names, sealed to the asking terminal",
        {"200": {"description": "sealed roster, or unchanged when known is its version",
                 "content": {"application/json": {"schema": {
                     "type": "object", "required": ["ok", "unchanged", "version",
                                                    "server_time_us"],
                     "properties": {"ok": {"const": True}, "unchanged": {"type": "boolean"},
                                    "version": {"type": "string"},
                                    "server_time_us": {"type": "integer"},
                                    "sealed": _BASE64}}}}}}, (414,), method="get",
        parameters=[{"name": "known", "in": "query", "schema": _text(128, 0),
                     "description": "the roster version the terminal holds"}]),
    "/api/v1/terminal/door": _signed(
        "Card keys and revoked card serials of the terminal's kindergarten, signed by the "
        "server (base64 CBOR + Ed25519 signature)",
        _done("door credentials", {"door": _BASE64, "signature": _BASE64,
                                   "server_time_us": {"type": "integer"}}), (), method="get"),
    "/api/v1/terminal/status": _signed(
        "What the server holds for the asking terminal",
        _done("status", {"terminal_id": {"type": "string"},
                         "kindergarten": {"type": "string"}, "head_seq": {"type": "integer"},
                         "server_time_us": {"type": "integer"},
                         "server_version": {"type": "string"}}), (), method="get"),
    "/api/v1/terminal/health": _signed(
        "The terminal's health report at each sync (exactly these fields); shown on the "
        "fleet page",
        _done("stored", {"server_time_us": {"type": "integer"}, "head_seq": _int(),
                         "head_hash": _HEX64}), (413,),
        _object({"pending": _int(), "head_seq": _int(), "terminal_time_us": _int(),
                 "software_version": _text(40, 0),
                 "camera": {"type": "string", "enum": list(CAMERA_STATES)},
                 "storage_free_bytes": _int(), "boot_id": _HEX32, "mono_ns": _int(),
                 "server_behind": _int(0, 2**31 - 1), "server_behind_us": _int(0, 2**62)},
                required=tuple(HEALTH_FIELDS), closed=True)),
    "/api/v1/terminal/chain-gap": _signed(
        "The terminal's signed declaration of a range of its chain it no longer holds and the "
        "server lost (protocol/gaps.py): kept as a lost range; the head moves past it",
        _done("declared", {"head_seq": _int(), "head_hash": _HEX64, "lost": _int(),
                           "server_time_us": {"type": "integer"}}), (403, 409, 413),
        _object({"declaration": _BASE64, "signature": _BASE64}, closed=True)),
    }


def _faces_api() -> dict[str, Any]:
    """The face relay and consent withdrawals taken at the door (docs/faces.md)."""
    id_list = {"type": "array", "maxItems": MAX_FACE_LIST, "items": _FACE_ID}
    return {
    "/api/v1/terminal/faces/templates": _signed(
        "A face template enrolled at the terminal, encrypted under the kindergarten's face "
        "key; the server cannot open it",
        {**_done("stored", {"outcome": {"const": "stored"}}, 201),
         **_done("already stored", {"outcome": {"const": "already"}})},
        (404, 409, 413),
        _object({"template_id": _FACE_ID, "key_id": _text(16), "child_id": _text(64),
                 "consent_record": _int(1), "blob": _BASE64})),
    "/api/v1/terminal/faces/keys": _signed(
        "Face keys sealed to the sender or to siblings that lack them",
        _done("added", {"added": {"type": "integer", "minimum": 0}}), (409, 413),
        _object({"wraps": {"type": "array", "minItems": 1, "maxItems": 100, "items": _object(
            {"key_id": _text(16), "terminal_id": _text(MAX_TERMINAL_ID),
             "sealed": _BASE64})}})),
    "/api/v1/terminal/faces/sync": _signed(
        "The terminal's templates, keys and erasure receipts in; what to erase, add and "
        "pass on out",
        _done("what to do", {"erasures_recorded": {"type": "integer"},
                             "erase": {"type": "array"}, "add": {"type": "array"},
                             "more": {"type": "boolean"}, "key_wraps": {"type": "array"},
                             "wrap_for": {"type": "array"}}), (413,),
        _object({"have": id_list, "keys": {**id_list, "items": _text(32)},
                 "erased": {"type": "array", "maxItems": MAX_FACE_LIST, "items": _object({
                     "template_id": _FACE_ID, "erased_at_us": _int(),
                     "reason": {"type": "string", "enum": list(EraseReason)}})}})),
    "/api/v1/terminal/consent/withdrawals": _signed(
        "A withdrawal of face consent taken at the terminal, sealed to the server; counts "
        "once",
        _done("recorded", {"outcome": {"type": "string"}}), (404, 413),
        _object({"request_id": _text(32), "sealed": _BASE64})),
    }


def _components() -> dict[str, Any]:
    blob = {"type": "string", "contentMediaType": "application/octet-stream",
            "description": "a CBOR byte string"}
    return {
        "securitySchemes": {"terminalSignature": {
            "type": "apiKey", "in": "header", "name": "Qatys-Signature",
            "description": "An enrolled terminal's Ed25519 signature (base64) over method, "
                           "path, query, Qatys-Terminal, Qatys-Time (unix seconds, within 5 "
                           "minutes of the server's clock), Qatys-Nonce (32 hex digits, used "
                           "once) and the body's SHA-256 (protocol/auth.py). The answer is "
                           "signed back in Qatys-Answer-Signature."}},
        "schemas": {
            "Error": {"type": "object", "required": ["ok", "error"], "properties": {
                "ok": {"const": False},
                "error": {"type": "object", "required": ["code", "message"], "properties": {
                    "code": {"type": "string", "enum": sorted(ERROR_CODES)},
                    "message": {"type": "string"},
                    "field": {"type": "string",
                              "description": "the body's field that is not of its form"},
                    "allow": {"type": "array", "items": {"type": "string"},
                              "description": "405: the methods the path takes (also "
                                             "the Allow header)"}}}}},
            "Batch": _object({
                "v": {"type": "integer", "minimum": 1, "maximum": 255},
                "type": {"const": "batch"},
                "terminal": _text(MAX_TERMINAL_ID),
                "kindergarten": _text(64),
                "events": {"type": "array", "minItems": 1, "maxItems": MAX_BATCH_EVENTS,
                           "items": {**blob, "description": "one event's canonical CBOR"}},
                "sig": {**blob, "description": "Ed25519 signature, 64 bytes"}}, closed=True),
        }}


def _parents_post(summary: str, body: dict[str, Any], done: dict[str, Any],
                  *statuses: int, signed_in: bool = True) -> dict[str, Any]:
    refusals = (401, 403, *statuses) if signed_in else statuses
    operation: dict[str, Any] = {"summary": summary, "requestBody": _json_body(body),
                                 "responses": {**done, **_errors(400, 413, *refusals)}}
    if signed_in:
        operation["parameters"] = [_CSRF]
    return {"post": operation}


_CSRF = {"name": "X-Qatys-CSRF", "in": "header", "required": True, "schema": _text(128),
         "description": "this session's CSRF token (the csrf of the claim, login or me "
                        "answer)"}
_SIGNED_IN = {"guardian_id": {"type": "string"}, "csrf": {"type": "string"}}
_CODE = {"type": "string", "minLength": 16, "maxLength": 64,
         "description": "XXXX-XXXX-XXXX-XXXX; case, dashes and spaces do not matter"}
_CHILD = _text(64)


def _parents_api() -> dict[str, Any]:
    """The parents' pages' own API (docs/parents.md): a signed-in phone, its session cookie
    (``qatys_guardian``) and the header ``X-Qatys-CSRF`` on every POST but claim and login."""
    return {
        "/parents/api/claim": _parents_post(
            "Claim an invitation with the phone's new key (P-256 SubjectPublicKeyInfo, DER) "
            "and a proof signed with it (r ‖ s); opens a session (cookie qatys_guardian)",
            _object({"code": _CODE, "public_key": _BASE64, "proof": _BASE64}),
            _done("claimed and signed in", _SIGNED_IN), 403, 404, 409, 410, 429,
            signed_in=False),
        "/parents/api/challenge": {"get": {
            "summary": "A one-time sign-in challenge for the phone to sign (two minutes)",
            "responses": {**_done("nonce", {"nonce": _NONCE}),
                          **_errors(429)}}},
        "/parents/api/login": _parents_post(
            "Sign in with a signature of the challenge (r ‖ s); opens a session",
            _object({"key_id": _text(64), "nonce": _text(64), "signature": _BASE64}),
            _done("signed in", _SIGNED_IN), 401, 403, 429, signed_in=False),
        "/parents/api/logout": _parents_post(
            "End this phone's session", {"type": "object"}, _done("signed out", {})),
        "/parents/api/me": _parents_me(),
        **_pickup_api(),
        "/parents/api/consent": _parents_post(
            "A face-consent grant (until a day at most a year ahead) or withdrawal, signed "
            "on the phone",
            _object({"child_id": _CHILD, "action": {"type": "string",
                                                    "enum": list(ConsentAction)},
                     "until": {"anyOf": [_DAY, {"type": "null"}, {"const": ""}]},
                     "signed_at_ms": _int(), "signature": _BASE64}),
            _done("recorded", {"record": {"type": "integer"}}), 404, 409),
        "/parents/api/month": _parents_post(
            "Confirm a month of the child's record, or dispute named days of it with a "
            "comment (only in the month's window)",
            _object({"child_id": _CHILD, "month": _MONTH,
                     "kind": {"type": "string", "enum": ["confirm", "dispute"]},
                     "days": {"type": "array", "maxItems": 31, "items": _DAY},
                     "comment": _text(2000, 0)}, ("child_id", "month", "kind")),
            _done("recorded", {"record": {"type": "integer"}}), 404, 409),
        "/parents/api/absence-report": _absence_report(),
        **_push_api(),
    }


def _push_api() -> dict[str, Any]:
    """A phone's Web Push subscription (docs/notifications.md)."""
    return {
        "/parents/api/push/key": {"get": {
            "summary": "The application server key a phone subscribes to Web Push with "
                       "(VAPID, RFC 8292): the uncompressed P-256 point, base64url",
            "responses": _done("the key", {"key": _text(87, 87)})}},
        "/parents/api/push/subscribe": _parents_post(
            "Turn notifications on for this phone: its PushSubscription.toJSON() (endpoint "
            "https, at most 2048 characters; keys p256dh and auth, base64url)",
            _object({"endpoint": _text(2048), "expirationTime": {},
                     "keys": _object({"p256dh": _text(200), "auth": _text(200)})},
                    ("endpoint", "keys")),
            _done("subscribed", {"subscription": {"type": "integer"}})),
        "/parents/api/push/unsubscribe": _parents_post(
            "Turn notifications off for this phone (its subscription's endpoint)",
            _object({"endpoint": _text(2048)}),
            _done("turned off", {"ended": {"type": "integer"}})),
    }


def _parents_me() -> dict[str, Any]:
    """What a signed-in phone sees of its children."""
    return {"get": {
            "summary": "The phone's children, their codes' bindings and today's state; a "
                       "guardian's also the consent state and the pickup adults, a pickup "
                       "adult's (kind pickup) the relation only",
            "responses": {**_done("children", {**_SIGNED_IN, "children": {
                "type": "array", "items": {"type": "object", "required": [
                    "child_id", "first_name", "kindergarten", "kindergarten_code", "serial",
                    "binding", "kind", "today"], "properties": {
                        "kind": {"type": "string", "enum": ["guardian", "pickup"]},
                        "today": {"type": "string",
                                  "enum": ["present", "left", "absent", "expected"]},
                        "relation": {"type": "string", "enum": list(PickupRelation)},
                        "pickup": {"type": "array", "items": {"type": "object", "required": [
                            "id", "first_name", "relation", "claimed"]}}}}}}),
                          **_errors(401)}}}


def _pickup_api() -> dict[str, Any]:
    """A guardian's adults who may collect the child (docs/families.md)."""
    return {
        "/parents/api/pickup": _parents_post(
            "A guardian adds an adult allowed to collect the child (first name, relation); "
            "the answer is the adult's invitation (7 days). At most the policy's "
            "[families] pickup_adults_per_child (default 6), invitations open included",
            _object({"child_id": _CHILD, "first_name": _text(400, 0),
                     "relation": {"type": "string", "maxLength": 40}}),
            _done("invited", {"invitation": {"type": "object", "required": [
                "code", "url", "expires_at"]}}), 404, 409),
        "/parents/api/pickup/remove": _parents_post(
            "A guardian removes a pickup adult (their guardian id) or an unclaimed invitation "
            "(invitation:<id>) from the child: their pages at once, the door at the "
            "terminals' next sync",
            _object({"child_id": _CHILD, "adult": _text(64)}), _done("removed", {}), 404),
    }


def _absence_report() -> dict[str, Any]:
    """Multipart, not JSON: the certificate's photo travels as a file (docs/parents.md)."""
    form = _object({"child_id": _CHILD, "first_day": _DAY, "last_day": _DAY,
                    "reason": {"type": "string", "enum": [
                        r for r in AbsenceReason if r != AbsenceReason.CANCELLED]},
                    "note": _text(500, 0),
                    "document": {"type": "string", "contentMediaType": "application/"
                                 "octet-stream", "description": "a JPEG, PNG or PDF by its "
                                 "content, at most 10 MB"}},
                   ("child_id", "first_day", "last_day", "reason"))
    return {"post": {
        "summary": "Report the child's absence (days from the policy's window of working "
                   "days back to 30 days ahead), with an optional photo of the certificate; "
                   "pending until the director accepts or declines it",
        "parameters": [_CSRF],
        "requestBody": {"required": True, "content": {"multipart/form-data": {
            "schema": form}}},
        "responses": {**_done("reported", {"report": {"type": "integer"}}),
                      **_errors(400, 401, 403, 404, 413, 415)}}}
