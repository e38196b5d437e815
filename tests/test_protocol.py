"""Protocol: canonical encoding, events, batches, acks and sealing, without any I/O."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocol import acks, batches, canonical, crypto, events
from protocol.errors import ChainError, EncodingError, SealError, SignatureError, VersionError

SEED = bytes(range(32))
SERVER_BOX = bytes(range(32, 64))


def make_chain(n: int, terminal: str = "T-TEST", seed: bytes = SEED) -> list[bytes]:
    skey = crypto.sealing_key(bytes(32 * [7]), crypto.box_public_key(SERVER_BOX))
    prev, raws = events.GENESIS_HASH, []
    for seq in range(1, n + 1):
        body = events.seal_body(events.Body(f"child-{seq}"), terminal, skey, bytes(12 * [seq]))
        raw = events.encode_event(events.Event(terminal, seq, prev, 1_700_000_000_000_000 + seq,
                                               bytes(16), seq, "arrival", "qr-card", "medium",
                                               body))
        raws.append(raw)
        prev = events.event_hash(raw)
    return raws


plain = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=20)
    | st.binary(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                 max_size=4),
    max_leaves=10,
)


@given(plain)
def test_canonical_round_trip_is_exact(value: object) -> None:
    raw = canonical.encode(value)
    assert canonical.decode(raw) == value
    assert canonical.encode(canonical.decode(raw)) == raw


def test_non_canonical_bytes_are_refused() -> None:
    # {"b": 1, "a": 2} with keys out of order, and an integer in a longer form than needed
    with pytest.raises(EncodingError):
        canonical.decode(bytes.fromhex("a2616201616102"))
    with pytest.raises(EncodingError):
        canonical.decode(bytes.fromhex("1800"))
    with pytest.raises(EncodingError):
        canonical.decode(bytes.fromhex("c11a00000001"))  # a tagged date
    with pytest.raises(EncodingError):  # keys out of order one level down
        canonical.decode(bytes.fromhex("a16161a2616201616102"))
    event = canonical.decode(make_chain(1)[0])
    with pytest.raises(EncodingError):  # an event whose seq uses a longer integer form
        events.decode_event(canonical.encode(event).replace(b"\x63seq\x01", b"\x63seq\x18\x01"))


def test_batch_verifies_and_body_opens_only_for_the_server() -> None:
    raws = make_chain(3)
    batch = batches.parse_batch(batches.build_batch("T-TEST", "KG1", raws, SEED))
    verified = batches.verify_batch(batch, crypto.signing_public_key(SEED))
    assert [v.event.seq for v in verified] == [1, 2, 3]
    assert events.open_body(verified[1].event.body, "T-TEST", SERVER_BOX).child_id == "child-2"
    with pytest.raises(SealError):
        events.open_body(verified[1].event.body, "T-TEST", os.urandom(32))
    with pytest.raises(SealError):  # a body moved to another terminal's event does not open
        events.open_body(verified[1].event.body, "T-OTHER", SERVER_BOX)


def test_every_flipped_byte_of_a_batch_is_caught() -> None:
    body = batches.build_batch("T-TEST", "KG1", make_chain(2), SEED)
    public = crypto.signing_public_key(SEED)
    for i in range(0, len(body), 7):
        tampered = bytearray(body)
        tampered[i] ^= 0x01
        with pytest.raises((EncodingError, SignatureError, VersionError, ChainError)):
            batches.verify_batch(batches.parse_batch(bytes(tampered)), public)


def test_chain_breaks_are_named() -> None:
    raws = make_chain(3)
    public = crypto.signing_public_key(SEED)
    gap = batches.parse_batch(batches.build_batch("T-TEST", "KG1", [raws[0], raws[2]], SEED))
    with pytest.raises(ChainError) as info:
        batches.verify_batch(gap, public)
    assert info.value.code == "bad_sequence"
    foreign = make_chain(1, terminal="T-OTHER")
    mixed = batches.parse_batch(batches.build_batch("T-TEST", "KG1", foreign, SEED))
    with pytest.raises(ChainError) as info:
        batches.verify_batch(mixed, public)
    assert info.value.code == "terminal_mismatch"


def test_batch_size_limit() -> None:
    with pytest.raises(ValueError, match=r"1\.\.500"):
        batches.build_batch("T-TEST", "KG1", [b"x"] * 501, SEED)


def test_ack_round_trip_and_forgery() -> None:
    ack = acks.Ack("T-TEST", 5, bytes(32), 5, 123)
    raw, sig = acks.sign_ack(ack, SEED)
    assert acks.verify_ack(raw, sig, crypto.signing_public_key(SEED)) == ack
    with pytest.raises(SignatureError):
        acks.verify_ack(raw, sig, crypto.signing_public_key(os.urandom(32)))


def test_protocol_imports_no_io_libraries() -> None:
    code = ("import sys, protocol, protocol.events, protocol.batches, protocol.acks, "
            "protocol.roster, protocol.enrolment, protocol.auth\n"
            "bad = {'sqlite3', 'flask', 'requests', 'cv2', 'sqlalchemy', 'socket'} "
            "& set(sys.modules)\nprint(sorted(bad))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"


_HEADER_VALUES = st.one_of(
    st.integers(min_value=-2, max_value=2**64), st.booleans(), st.none(),
    st.binary(max_size=40), st.sampled_from(["", "T-1", "arrival", "qr-card", "medium", "x" * 33]),
    st.text(max_size=40))


_UINT = st.integers(min_value=0, max_value=2**63 - 1)
_VALID_HEADER = {
    "terminal": st.text(min_size=1, max_size=32), "seq": _UINT, "time_us": _UINT,
    "mono_ns": _UINT, "prev": st.binary(min_size=32, max_size=32),
    "boot": st.binary(min_size=16, max_size=16), "body": st.binary(max_size=2048),
    "kind": st.sampled_from([k.value for k in events.EventKind]),
    "method": st.sampled_from([m.value for m in events.Method]),
    "assurance": st.sampled_from([a.value for a in events.Assurance])}
"""Each field's valid values: mixed with :data:`_HEADER_VALUES`, most headers drawn have a
field or two wrong, and many are wholly valid."""


@given(st.fixed_dictionaries({key: st.one_of(valid, valid, _HEADER_VALUES)
                              for key, valid in _VALID_HEADER.items()}))
def test_the_fast_header_reading_accepts_exactly_what_the_field_by_field_reading_does(
        header: dict[str, object]) -> None:
    """Ingest reads every header through events._well_formed_event; whatever it accepts must
    be what the checking reader gives, and whatever that reader refuses it must refuse too."""
    data = dict(sorted(header.items(), key=lambda item: (len(item[0]), item[0])))
    fast = events._well_formed_event(data)
    try:
        slow = events._read_fields(data)
    except EncodingError:
        assert fast is None
    else:
        assert fast == slow


@given(st.one_of(st.text(max_size=70), st.integers(), st.binary(max_size=8), st.none()))
def test_a_body_naming_only_a_child_decodes_as_the_checking_reader_would(child: object) -> None:
    raw = canonical.encode({"child": child})
    try:
        expected = events.Body(child_id=events.fields.text({"child": child}, "child",
                                                           max_len=events.MAX_CHILD_ID))
    except EncodingError:
        with pytest.raises(EncodingError):
            events.decode_body(raw)
    else:
        assert events.decode_body(raw) == expected
