"""Qatys wire formats and cryptography, shared by terminal and server.

This package is pure: it does no I/O (no files, sockets, databases, clocks
or cameras). Callers pass in keys, randomness and the current time, so every
function here is reproducible and covered by the golden vectors in
``tests/vectors/``. See ``protocol/README.md``.
"""

PROTOCOL_VERSION = 2
"""The version of the exchange between terminal and server (``Qatys-Protocol``): how requests
are signed and how answers are signed (:mod:`protocol.auth`). Version 2 signs every answer and
checks the freshness of every signed request; see docs/protocol.md for the rules of change."""

MESSAGE_VERSION = 1
"""The ``v`` of every CBOR message (events, batches, acknowledgements, rosters, door
credentials, templates, withdrawals): their bytes did not change with protocol 2, so events
made before an upgrade are still delivered and golden vectors v1 still hold."""

BATCH_PROTOCOLS = (1, 2)
"""``Qatys-Protocol`` values a server accepts for batches: a terminal not yet upgraded still
delivers its check-ins (the batch and its acknowledgement are the same in both)."""

MAX_BATCH_EVENTS = 500
"""A batch carries at most this many events, so one request stays small and quick to verify."""
