"""Signed requests from a terminal to the server (everything except batches and enrolment).

The terminal signs method, path, its id, its clock reading and a hash of the
body. Freshness is not enforced: a terminal's clock may be wrong after weeks
offline, and every answer to such a request is sealed to the terminal's own
key, so a replayed request yields nothing readable.
"""

from __future__ import annotations

from protocol import crypto

HEADER_TERMINAL = "Qatys-Terminal"
HEADER_TIME = "Qatys-Time"
HEADER_SIGNATURE = "Qatys-Signature"
HEADER_PROTOCOL = "Qatys-Protocol"


def request_signing_input(
    method: str, path: str, terminal_id: str, time_s: int, body: bytes
) -> bytes:
    return "\n".join(
        ["qatys/v1/request", method.upper(), path, terminal_id, str(time_s),
         crypto.sha256(body).hex()]
    ).encode("utf-8")
