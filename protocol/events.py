"""Check-in events: the header anyone may read, and the sealed body that names the child.

An event is encoded exactly once, by the terminal, into canonical bytes. Those
bytes are what the terminal stores, what the batch carries, what both sides
hash into the chain and what the server keeps as evidence. Nothing re-encodes
an event after it was made.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, NamedTuple

from protocol import MESSAGE_VERSION, canonical, crypto, fields
from protocol.errors import EncodingError, VersionError

GENESIS_HASH = bytes(32)
"""The previous-event hash carried by a terminal's first event (seq 1)."""



class EventKind(StrEnum):
    ARRIVAL = "arrival"
    DEPARTURE = "departure"
    CORRECTION = "correction"
    SYSTEM = "system"
    """The terminal's own outage ledger (:class:`SystemEvent`): about no child."""


class Method(StrEnum):
    """How the child was recognised at the door."""
    QR_CARD = "qr-card"
    QR_PHONE = "qr-phone"
    FACE = "face"
    MANUAL = "manual"
    SYSTEM = "system"


class Assurance(StrEnum):
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class Direction(StrEnum):
    IN = "in"
    OUT = "out"


class SystemEvent(StrEnum):
    """What a system event records (the first word of its sealed ``reason``)."""
    POWER_ON = "power_on"
    """The first start after a boot."""
    KIOSK_START = "kiosk_start"
    """A restart within the same boot."""
    OFFLINE = "offline"
    ONLINE = "online"
    CAMERA_FAILED = "camera_failed"
    CAMERA_OK = "camera_ok"
    STORAGE_LOW = "storage_low"
    """Free storage under the terminal's warning level (check-ins still recorded)."""
    STORAGE_FULL = "storage_full"
    """Free storage under the floor: check-ins refused until space is freed."""
    STORAGE_OK = "storage_ok"
    """Storage back above the warning level after one of the two."""


KINDS = tuple(EventKind)
METHODS = tuple(Method)
ASSURANCE_LEVELS = tuple(Assurance)
DIRECTION_OF_KIND = {EventKind.ARRIVAL: Direction.IN, EventKind.DEPARTURE: Direction.OUT}
KIND_OF_DIRECTION = {v: k for k, v in DIRECTION_OF_KIND.items()}
_KIND_OF_TEXT = {m.value: m for m in EventKind}
_METHOD_OF_TEXT = {m.value: m for m in Method}
_ASSURANCE_OF_TEXT = {m.value: m for m in Assurance}

MAX_TERMINAL_ID = 32
MAX_CHILD_ID = 64
MAX_TEXT = 500
MAX_SEALED_BODY = 2048
MAX_EVENT_BYTES = 4096
BOOT_ID_SIZE = 16

_HEADER_KEYS = {"v", "terminal", "seq", "prev", "time_us", "boot", "mono_ns", "kind", "method",
                "assurance", "body"}
_HEADER_ORDER = tuple(sorted(_HEADER_KEYS, key=lambda k: (len(k), k)))
"""The header's keys in canonical order: a decoded header with exactly these keys is complete."""
_BODY_REQUIRED = {"child"}
_BODY_OPTIONAL = {"reason", "by", "corrects", "receipt", "code"}
_BODY_PLAIN = ("child",)
_MAX_UINT = 2**63 - 1
"""The largest integer :func:`fields.uint` takes by default."""


class Event(NamedTuple):
    """The readable header of one event; ``body`` is the sealed envelope.

    A named tuple rather than a dataclass: the server builds one per received
    event, and a tuple is built four times faster.
    """

    terminal_id: str
    seq: int
    prev_hash: bytes
    time_us: int
    boot_id: bytes
    mono_ns: int
    kind: EventKind
    method: Method
    assurance: Assurance
    body: bytes

    @property
    def event_id(self) -> str:
        return event_id(self.terminal_id, self.seq)

    @property
    def direction(self) -> Direction | None:
        return DIRECTION_OF_KIND.get(self.kind)


@dataclass(frozen=True)
class Body:
    """What only the server may read: who the event is about and why it exists."""

    child_id: str
    reason: str = ""
    by: str = ""
    corrects: str = ""
    receipt: str = ""
    code: str = ""
    """For a guardian's phone code (qr-phone): its binding serial and window, ``SERIAL/WINDOW``,
    so the server sees one code taken at two terminals (``phone_code_reused``)."""


def event_id(terminal_id: str, seq: int) -> str:
    return f"{terminal_id}:{seq}"


def event_hash(raw: bytes) -> bytes:
    return crypto.sha256(raw)


def body_aad(terminal_id: str) -> bytes:
    """Binds a sealed body to the terminal that made it."""
    return b"qatys/v1/body\x00" + terminal_id.encode("utf-8")


def encode_event(event: Event) -> bytes:
    raw = canonical.encode(
        {
            "v": MESSAGE_VERSION,
            "terminal": event.terminal_id,
            "seq": event.seq,
            "prev": event.prev_hash,
            "time_us": event.time_us,
            "boot": event.boot_id,
            "mono_ns": event.mono_ns,
            "kind": event.kind,
            "method": event.method,
            "assurance": event.assurance,
            "body": event.body,
        }
    )
    decode_event(raw)  # the encoder never emits what the decoder would refuse
    return raw


def decode_event(raw: bytes) -> Event:
    if len(raw) > MAX_EVENT_BYTES:
        raise EncodingError(f"event is larger than {MAX_EVENT_BYTES} bytes")
    data = canonical.decode_map(raw, "event", typed_by_caller=True)
    check_version(data, "event")
    if tuple(data) == _HEADER_ORDER:  # canonical order is fixed, so one comparison suffices
        event = _well_formed_event(data)
        if event is not None:
            return event
    else:
        fields.require_keys(data, _HEADER_KEYS, set(), "event")
    return _read_fields(data)


def _read_fields(data: dict[str, Any]) -> Event:
    """Each field checked on its own, so a refusal names the field that is wrong."""
    return Event(
        terminal_id=fields.text(data, "terminal", max_len=MAX_TERMINAL_ID),
        seq=fields.uint(data, "seq", minimum=1),
        prev_hash=fields.blob(data, "prev", size=32),
        time_us=fields.uint(data, "time_us"),
        boot_id=fields.blob(data, "boot", size=BOOT_ID_SIZE),
        mono_ns=fields.uint(data, "mono_ns"),
        kind=fields.member(data, "kind", _KIND_OF_TEXT),
        method=fields.member(data, "method", _METHOD_OF_TEXT),
        assurance=fields.member(data, "assurance", _ASSURANCE_OF_TEXT),
        body=fields.blob(data, "body", max_len=MAX_SEALED_BODY),
    )


def _well_formed_event(data: dict[str, Any]) -> Event | None:
    """The same checks as :func:`_read_fields` in one expression, for the
    server's hot path (ingest reads every event of a batch: this halves the cost of a
    header); None when any fails, and :func:`_read_fields` then names which."""
    terminal, seq, prev, time_us = data["terminal"], data["seq"], data["prev"], data["time_us"]
    boot, mono_ns, body = data["boot"], data["mono_ns"], data["body"]
    kind = _KIND_OF_TEXT.get(data["kind"]) if type(data["kind"]) is str else None
    method = _METHOD_OF_TEXT.get(data["method"]) if type(data["method"]) is str else None
    assurance = (_ASSURANCE_OF_TEXT.get(data["assurance"]) if type(data["assurance"]) is str
                 else None)
    if (type(terminal) is str and 0 < len(terminal) <= MAX_TERMINAL_ID
            and type(seq) is int and 1 <= seq <= _MAX_UINT
            and type(prev) is bytes and len(prev) == 32
            and type(time_us) is int and 0 <= time_us <= _MAX_UINT
            and type(boot) is bytes and len(boot) == BOOT_ID_SIZE
            and type(mono_ns) is int and 0 <= mono_ns <= _MAX_UINT
            and type(body) is bytes and len(body) <= MAX_SEALED_BODY
            and kind is not None and method is not None and assurance is not None):
        return Event(terminal, seq, prev, time_us, boot, mono_ns, kind, method, assurance, body)
    return None


def check_version(data: dict[str, Any], what: str) -> None:
    """Refuse a message of another protocol version before reading anything else of it."""
    if "v" not in data:
        raise EncodingError(f"{what} carries no protocol version")
    if data["v"] != MESSAGE_VERSION:
        raise VersionError(f"{what} is of protocol version {data.get('v')!r}, "
                           f"this side speaks {MESSAGE_VERSION}")


def encode_body(body: Body) -> bytes:
    data: dict[str, Any] = {"child": body.child_id}
    for key in ("reason", "by", "corrects", "receipt", "code"):
        value = getattr(body, key)
        if value:
            data[key] = value
    raw = canonical.encode(data)
    decode_body(raw)
    return raw


def decode_body(raw: bytes) -> Body:
    data = canonical.decode_map(raw, "body", typed_by_caller=True)
    if tuple(data) == _BODY_PLAIN:  # the common body names only the child: read it at once
        child = data["child"]
        if type(child) is str and 0 < len(child) <= MAX_CHILD_ID:
            return Body(child)
    else:
        fields.require_keys(data, _BODY_REQUIRED, _BODY_OPTIONAL, "body")
    return Body(
        child_id=fields.text(data, "child", max_len=MAX_CHILD_ID),
        reason=fields.text(data, "reason", max_len=MAX_TEXT, optional=True),
        by=fields.text(data, "by", max_len=MAX_TEXT, optional=True),
        corrects=fields.text(data, "corrects", max_len=MAX_TERMINAL_ID + 21, optional=True),
        receipt=fields.text(data, "receipt", max_len=32, optional=True),
        code=fields.text(data, "code", max_len=40, optional=True),
    )


def seal_body(body: Body, terminal_id: str, skey: crypto.SealingKey, nonce: bytes) -> bytes:
    return crypto.seal_with(skey, nonce, encode_body(body), body_aad(terminal_id))


def open_body(
    sealed: bytes, terminal_id: str, server_box_private: bytes,
    cache: crypto.OpenCache | None = None,
) -> Body:
    plain = crypto.open_sealed(server_box_private, sealed, body_aad(terminal_id), cache)
    return decode_body(plain)
