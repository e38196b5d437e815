"""Qatys wire formats and cryptography, shared by terminal and server.

This package is pure: it does no I/O (no files, sockets, databases, clocks
or cameras). Callers pass in keys, randomness and the current time, so every
function here is reproducible and covered by the golden vectors in
``tests/vectors/``. See ``protocol/README.md``.
"""

PROTOCOL_VERSION = 1
"""The only wire version this code speaks; see docs/protocol.md for the rules of change."""

MAX_BATCH_EVENTS = 500
"""A batch carries at most this many events, so one request stays small and quick to verify."""
