"""The OpenAPI 3.1 description of the API, served at ``/api/v1/openapi.json``."""

from __future__ import annotations

from typing import Any

from qatys import __version__

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
}

_ERROR = {"$ref": "#/components/schemas/Error"}


def _errors(*statuses: int) -> dict[str, Any]:
    return {str(s): {"description": "refused", "content": {"application/json": {"schema": _ERROR}}}
            for s in statuses}


def document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": "Qatys sync server", "version": __version__,
                 "description": "Terminals deliver signed batches of check-ins; see docs/api.md "
                                "and docs/protocol.md."},
        "paths": {
            "/api/v1/health": {"get": {"summary": "Liveness, versions and server time",
                                       "responses": {"200": {"description": "up"}}}},
            "/api/v1/openapi.json": {"get": {"summary": "This document",
                                             "responses": {"200": {"description": "OpenAPI"}}}},
            **_parents_api(),
            **_terminal_api(),
        },
        "components": _components(),
    }


def _terminal_api() -> dict[str, Any]:
    """What terminals call: batches, enrolment and the signed requests of a sync."""
    return {
    "/api/v1/batches": {"post": {
        "summary": "Deliver a signed batch of up to 500 events (canonical CBOR)",
        "parameters": [{"name": "Qatys-Protocol", "in": "header",
                        "schema": {"type": "string", "enum": ["1", "2"]}}],
        "requestBody": {"required": True, "content": {
            "application/cbor": {"schema": {"type": "string", "format": "binary"}}}},
        "responses": {"200": {"description": "stored (or already stored)",
                              "content": {"application/json": {
                                  "schema": {"$ref": "#/components/schemas/Ack"}}}},
                      **_errors(400, 403, 409, 413, 415)}}},
    "/api/v1/terminals/enrol": {"post": {
        "summary": "Enrol a terminal with a one-time token",
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "required": ["token", "sign_pub", "box_pub", "proof"],
            "properties": {k: {"type": "string"} for k in
                           ("token", "sign_pub", "box_pub", "proof",
                            "software_version")}}}}},
        "responses": {"201": {"description": "enrolled"}, **_errors(400, 403)}}},
    "/api/v1/terminal/time": {"get": {
        "summary": "The server's clock, for a terminal whose own is off (signed "
                   "request; freshness not checked; changes nothing)",
        "responses": {"200": {"description": "terminal_id, server_time_us"},
                      **_errors(401, 403)}}},
    "/api/v1/terminal/roster": {"get": {
        "summary": "Roster ids and first names, sealed to the asking terminal",
        "parameters": [{"name": "known", "in": "query", "schema": {"type": "string"}}],
        "responses": {"200": {"description": "sealed roster or unchanged"},
                      **_errors(401, 403)}}},
    "/api/v1/terminal/door": {"get": {
        "summary": "Card keys and revoked card serials of the terminal's kindergarten, "
                   "signed by the server (base64 CBOR + Ed25519 signature)",
        "responses": {"200": {"description": "door credentials"}, **_errors(401, 403)}}},
    "/api/v1/terminal/status": {"get": {
        "summary": "What the server holds for the asking terminal",
        "responses": {"200": {"description": "status"}, **_errors(401, 403)}}},
    "/api/v1/terminal/health": {"post": {
        "summary": "The terminal's health report at each sync (signed JSON: pending, "
                   "head_seq, terminal_time_us, software_version, camera, "
                   "storage_free_bytes); shown on the fleet page",
        "responses": {"200": {"description": "stored; server_time_us"},
                      **_errors(400, 401, 403)}}},
    **_faces_api(),
    }


def _faces_api() -> dict[str, Any]:
    """The face relay and consent withdrawals taken at the door (docs/faces.md)."""
    return {
    "/api/v1/terminal/faces/templates": {"post": {
        "summary": "A face template enrolled at the terminal, encrypted under the "
                   "kindergarten's face key (signed JSON: template_id, key_id, child_id, "
                   "consent_record, blob); the server cannot open it",
        "responses": {"201": {"description": "stored (outcome stored)"},
                      "200": {"description": "already stored (outcome already)"},
                      **_errors(400, 401, 403, 404, 409, 413)}}},
    "/api/v1/terminal/faces/keys": {"post": {
        "summary": "Face keys sealed to the sender or to siblings that lack them "
                   "(signed JSON: wraps of key_id, terminal_id, sealed)",
        "responses": {"200": {"description": "added"}, **_errors(400, 401, 403, 409)}}},
    "/api/v1/terminal/faces/sync": {"post": {
        "summary": "The terminal's templates, keys and erasure receipts in; what to "
                   "erase, add and pass on out (signed JSON)",
        "responses": {"200": {"description": "erase, add, more, key_wraps, wrap_for"},
                      **_errors(400, 401, 403)}}},
    "/api/v1/terminal/consent/withdrawals": {"post": {
        "summary": "A withdrawal of face consent taken at the terminal, sealed to the "
                   "server (signed JSON: request_id, sealed); counts once",
        "responses": {"200": {"description": "outcome recorded, already or no_effect"},
                      **_errors(400, 401, 403, 404)}}},
    }


def _components() -> dict[str, Any]:
    return {"schemas": {
        "Error": {"type": "object", "required": ["ok", "error"], "properties": {
            "ok": {"const": False},
            "error": {"type": "object", "required": ["code", "message"], "properties": {
                "code": {"type": "string", "enum": sorted(ERROR_CODES)},
                "message": {"type": "string"}}}}},
        "Ack": {"type": "object", "properties": {
            "ok": {"const": True}, "ack": {"type": "string", "contentEncoding": "base64"},
            "signature": {"type": "string", "contentEncoding": "base64"},
            "terminal_id": {"type": "string"}, "acked_seq": {"type": "integer"},
            "stored": {"type": "integer"}}},
    }}


def _json_post(summary: str, fields: tuple[str, ...], *statuses: int) -> dict[str, Any]:
    return {"post": {"summary": summary, "requestBody": {"required": True, "content": {
        "application/json": {"schema": {"type": "object", "required": list(fields)}}}},
        "responses": {"200": {"description": "done"}, **_errors(*statuses)}}}


def _parents_api() -> dict[str, Any]:
    """The parents' pages' own API (docs/parents.md): a signed-in phone, its session cookie
    (``qatys_guardian``) and the header ``X-Qatys-CSRF`` on every POST but claim and login."""
    return {
        "/parents/api/claim": _json_post(
            "Claim an invitation with the phone's new key (and open a session)",
            ("code", "public_key", "proof"), 400, 403, 404, 409, 410, 429),
        "/parents/api/challenge": {"get": {
            "summary": "A one-time sign-in challenge for the phone to sign",
            "responses": {"200": {"description": "nonce"}, **_errors(429)}}},
        "/parents/api/login": _json_post("Sign in with a signature of the challenge",
                                         ("key_id", "nonce", "signature"), 400, 401, 429),
        "/parents/api/logout": _json_post("End this phone's session", (), 400),
        "/parents/api/me": {"get": {
            "summary": "The guardian's children, their codes' bindings and consent states",
            "responses": {"200": {"description": "children"}, **_errors(401)}}},
        "/parents/api/consent": _json_post(
            "A face-consent grant or withdrawal signed on the phone",
            ("child_id", "action", "until", "signed_at_ms", "signature"), 400, 401, 404, 409),
        "/parents/api/month": _json_post("Confirm or dispute a month of the child's record",
                                         ("child_id", "month", "kind"), 400, 401, 404, 409),
    }
