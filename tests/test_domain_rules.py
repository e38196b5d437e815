"""Pure rules: IIN checksum, roster CSV validation, door logic."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from provisioning import iin
from provisioning.errors import InvalidInput
from provisioning.roster import parse_csv
from terminal.door import RECEIPT_ALPHABET, DayState, Rules, decide, receipt_code
from tests.helpers import HEADER, ROSTER_TODAY, roster_csv


def test_iin_checksum() -> None:
    good = iin.make("20031550001")
    assert good is not None
    assert iin.is_valid(good)
    assert not iin.is_valid(good[:11] + str((int(good[11]) + 1) % 10))
    assert not iin.is_valid("12345")
    assert not iin.is_valid("2003155000１1")


def test_roster_parses_generated_file() -> None:
    text, people = roster_csv(5)
    children = parse_csv(text, ROSTER_TODAY)
    assert [c.child_id for c in children] == [p["child_id"] for p in people]


def test_roster_names_every_bad_line() -> None:
    text, _ = roster_csv(3)
    lines = text.splitlines()
    bad_iin = lines[1].replace(lines[1].split(",")[1], "123456789012")
    bad_date = lines[2].replace("2020-03-15", "2020-02-30")
    duplicate = lines[3].split(",", 1)[0] + "," + lines[1].split(",", 1)[1]
    with pytest.raises(InvalidInput) as info:
        parse_csv("\n".join([HEADER, bad_iin, bad_date, duplicate, lines[3]]) + "\n", ROSTER_TODAY)
    text_of = "\n".join(info.value.problems)
    assert "line 2: iin" in text_of
    assert "line 3: birth_date" in text_of
    assert "line 5: duplicate child_id" in text_of


MINUTE = 60_000_000
RULES = Rules(dedupe_window_us=2 * MINUTE, departure_gap_us=30 * MINUTE)


def test_door_first_scan_is_arrival_then_departure_and_repeats_are_not_recorded() -> None:
    first = decide(None, 0, RULES)
    assert (first.record, first.direction) == (True, "in")
    arrived = DayState(1, "in", 0, "K7M-4PX")
    repeat = decide(arrived, MINUTE // 2, RULES)
    assert (repeat.record, repeat.repeat_of, repeat.receipt) == (False, 1, "K7M-4PX")
    still_in_the_hall = decide(arrived, 10 * MINUTE, RULES)  # past the window, before the gap
    assert (still_in_the_hall.record, still_in_the_hall.direction) == (False, "in")
    home_time = decide(arrived, 4 * 60 * MINUTE, RULES)
    assert (home_time.record, home_time.direction) == (True, "out")
    left = DayState(2, "out", 0)
    assert decide(left, 3 * MINUTE, RULES).direction == "in"  # came back: no gap after "out"
    assert not decide(left, MINUTE, RULES).record


def test_staff_direction_wins_except_an_identical_repeat() -> None:
    arrived = DayState(1, "in", 0)
    assert decide(arrived, 5 * MINUTE, RULES, "out").record  # early pick-up, entered by staff
    assert not decide(arrived, MINUTE, RULES, "in").record
    assert decide(None, 0, RULES, "out").direction == "out"


def test_clock_going_back_is_not_a_repeat() -> None:
    arrived = DayState(1, "in", 10 * MINUTE)
    assert decide(arrived, 5 * MINUTE, RULES).record  # the original stays; the server sorts it


@given(st.binary(min_size=8, max_size=8))
def test_receipts_are_short_and_unambiguous(seed: bytes) -> None:
    code = receipt_code(seed)
    assert len(code) == 7
    assert code[3] == "-"
    assert set(code.replace("-", "")) <= set(RECEIPT_ALPHABET)
    assert not set(code) & set("0O1IL")
