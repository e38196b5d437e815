"""Pure rules: IIN checksum, roster CSV validation, door logic."""

from __future__ import annotations

import pytest

from provisioning import iin
from provisioning.errors import InvalidInput
from provisioning.roster import parse_csv
from terminal.door import DayState, decide
from tests.helpers import HEADER, roster_csv


def test_iin_checksum() -> None:
    good = iin.make("20031550001")
    assert good is not None
    assert iin.is_valid(good)
    assert not iin.is_valid(good[:11] + str((int(good[11]) + 1) % 10))
    assert not iin.is_valid("12345")
    assert not iin.is_valid("2003155000１1")


def test_roster_parses_generated_file() -> None:
    text, people = roster_csv(5)
    children = parse_csv(text)
    assert [c.child_id for c in children] == [p["child_id"] for p in people]


def test_roster_names_every_bad_line() -> None:
    text, _ = roster_csv(3)
    lines = text.splitlines()
    bad_iin = lines[1].replace(lines[1].split(",")[1], "123456789012")
    bad_date = lines[2].replace("2020-03-15", "2020-02-30")
    duplicate = lines[3].split(",", 1)[0] + "," + lines[1].split(",", 1)[1]
    with pytest.raises(InvalidInput) as info:
        parse_csv("\n".join([HEADER, bad_iin, bad_date, duplicate, lines[3]]) + "\n")
    text_of = "\n".join(info.value.problems)
    assert "line 2: iin" in text_of
    assert "line 3: birth_date" in text_of
    assert "line 5: duplicate child_id" in text_of


def test_door_first_scan_is_arrival_then_departure_and_repeats_are_not_recorded() -> None:
    window = 120_000_000
    first = decide(None, 0, window)
    assert first.record
    assert first.direction == "in"
    state = DayState(1, "in", 0)
    repeat = decide(state, 30_000_000, window)
    assert not repeat.record
    assert repeat.repeat_of == 1
    later = decide(state, 4 * 3600_000_000, window)
    assert later.record
    assert later.direction == "out"
    assert decide(DayState(2, "out", 0), window, window).direction == "in"
