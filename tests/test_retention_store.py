"""The terminal store's retention (issue 20), on a real SQLite store: acknowledged events stay
for the window and then go; a server head behind the acknowledged one makes them pending again,
a head naming another event changes nothing, and what was pruned becomes a lost range with its
period and the hash the chain continues from."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from protocol import crypto, events, gaps
from protocol.errors import EncodingError, SignatureError
from terminal.store import TerminalStore, get_int

DAY = 86_400_000_000
T0 = 1_780_000_000_000_000


def _event(seq: int, prev: bytes, time_us: int) -> bytes:
    return events.encode_event(events.Event(
        "T-RETAIN01", seq, prev, time_us, bytes(16), seq, events.EventKind.ARRIVAL,
        events.Method.MANUAL, events.Assurance.LOW, b"\x01" + os.urandom(80)))


def _store(tmp_path: Path, count: int, start_us: int = T0) -> TerminalStore:
    store = TerminalStore(tmp_path)
    for i in range(count):
        store.write(lambda conn, i=i: TerminalStore.append(
            conn, lambda seq, prev: _event(seq, prev, start_us + i * 60_000_000)))
    return store


def _hash(store: TerminalStore, seq: int) -> bytes:
    return bytes(store.read(lambda c: c.execute("SELECT hash FROM events WHERE seq = ?",
                                                (seq,)).fetchone()[0]))


def _meta(store: TerminalStore, key: str) -> int:
    return store.read(lambda c: get_int(c, key))


def test_acknowledged_events_stay_for_the_window_then_go(tmp_path: Path) -> None:
    store = _store(tmp_path, 10)
    assert store.acknowledge(6, _hash(store, 6), b"a", b"s", T0, T0) == 6
    assert store.pending(100)[0][0] == 7
    assert store.retained() == (6, 0)
    assert store.prune(T0 + 35 * DAY - 1, 35 * DAY) == 0
    assert store.acknowledge(10, _hash(store, 10), b"a", b"s", T0 + DAY, T0 + DAY) == 4
    assert store.prune(T0 + 35 * DAY, 35 * DAY) == 6  # only the first acknowledgement's
    assert store.retained() == (4, 6)
    assert store.prune(T0 + 36 * DAY, 35 * DAY) == 4
    assert store.retained() == (0, 10)
    spans = store.read(lambda c: c.execute("SELECT * FROM retired_spans").fetchall())
    assert len(spans) == 1
    assert spans[0][:2] == (1, 10)
    store.close()


def test_a_server_behind_makes_retained_events_pending_again(tmp_path: Path) -> None:
    store = _store(tmp_path, 10)
    store.acknowledge(10, _hash(store, 10), b"a", b"s", T0, T0)
    found = store.server_behind(4, _hash(store, 4), T0)
    assert found.behind
    assert found.gap is None
    assert found.acked_seq == 10
    assert [s for s, _, _ in store.pending(100)] == list(range(5, 11))
    assert _meta(store, "server_behind") == 1
    assert not store.server_behind(10, _hash(store, 10), T0).behind  # not behind: nothing
    store.close()


@pytest.mark.parametrize("seq", [0, 4])
def test_a_head_naming_another_event_changes_nothing(tmp_path: Path, seq: int) -> None:
    store = _store(tmp_path, 10)
    store.acknowledge(10, _hash(store, 10), b"a", b"s", T0, T0)
    with pytest.raises(ValueError, match="different event"):
        store.server_behind(seq, b"\x07" * 32, T0)
    assert _meta(store, "acked_seq") == 10
    assert store.pending(100) == []
    assert _meta(store, "server_behind") == 0
    store.close()


def test_what_was_pruned_becomes_a_lost_range_the_chain_continues_from(tmp_path: Path) -> None:
    store = _store(tmp_path, 6)
    store.acknowledge(6, _hash(store, 6), b"a", b"s", T0, T0)
    last_pruned = _hash(store, 6)
    assert store.prune(T0 + 40 * DAY, 35 * DAY) == 6
    for i in range(4):  # four more, acknowledged later: still held
        store.write(lambda conn, i=i: TerminalStore.append(
            conn, lambda seq, prev: _event(seq, prev, T0 + 40 * DAY + i)))
    store.acknowledge(10, _hash(store, 10), b"a", b"s", T0 + 40 * DAY, T0 + 40 * DAY)
    found = store.server_behind(2, b"\x00" * 32, T0 + 40 * DAY)  # unknown here: not checked
    assert found.gap is not None
    assert (found.gap.first_seq, found.gap.last_seq) == (3, 6)
    assert found.gap.last_hash == last_pruned
    assert found.gap.first_time_us == T0
    assert found.gap.last_time_us == T0 + 5 * 60_000_000
    assert store.pending(100)
    assert store.pending(100)[0][0] == 7
    store.gap_declared(6)
    assert [s for s, _, _ in store.pending(100)] == [7, 8, 9, 10]
    store.close()


def test_a_chain_gap_declaration_verifies_only_as_signed() -> None:
    seed, other = os.urandom(32), os.urandom(32)
    gap = gaps.ChainGap("T-RETAIN01", "KG1", 3, 6, T0, T0 + 60, b"\x05" * 32,
                        gaps.LostReason.RETENTION_EXPIRED, T0 + DAY)
    raw, signature = gaps.sign_gap(gap, seed)
    assert gaps.verify_gap(raw, signature, crypto.signing_public_key(seed)) == gap
    assert gap.count == 4
    with pytest.raises(SignatureError):
        gaps.verify_gap(raw, signature, crypto.signing_public_key(other))
    altered = bytearray(raw)
    altered[-5] ^= 1
    with pytest.raises(SignatureError):
        gaps.verify_gap(bytes(altered), signature, crypto.signing_public_key(seed))
    backwards = gaps.ChainGap("T-RETAIN01", "KG1", 6, 3, T0, T0, b"\x05" * 32,
                              gaps.LostReason.STORE_DAMAGED, T0)
    raw, signature = gaps.sign_gap(backwards, seed)
    with pytest.raises(EncodingError, match="last_seq"):
        gaps.verify_gap(raw, signature, crypto.signing_public_key(seed))


def test_pending_events_are_never_pruned(tmp_path: Path) -> None:
    store = _store(tmp_path, 10)
    store.acknowledge(4, _hash(store, 4), b"a", b"s", T0, T0)
    assert store.prune(T0 + 400 * DAY, DAY) == 4
    assert [s for s, _, _ in store.pending(100)] == list(range(5, 11))
    store.close()
