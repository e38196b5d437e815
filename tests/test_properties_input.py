"""Any input to the roster parser and the policy loader gives a result or the package's own
error (provisioning's InvalidInput, the policy's PolicyError), never another exception
(issue 22)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from provisioning.errors import InvalidInput
from provisioning.roster import COLUMNS, Child, decode_roster, parse_csv, parse_records
from server.domain.policy import (
    Policy,
    PolicyError,
    decode_policy,
    default_policy_text,
    load_policy,
)
from tests.helpers import HEADER, ROSTER_TODAY, roster_csv

SETTINGS = settings(max_examples=300, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])
GOOD_ROSTER, _ = roster_csv(3)
GOOD_LINES = GOOD_ROSTER.splitlines()
POLICY_LINES = default_policy_text().splitlines()
DAYS = st.dates(date(1, 1, 1), date(9999, 12, 31))

field_text = st.one_of(st.text(max_size=30), st.sampled_from(
    ["", "2020-03-15", "２０２０-03-15", "9999-12-31", "0001-01-01", "200315500016",
     "\x00", "\u202e", "\ud800", '"', "a,b", "a\nb", "?"]))
"""Any text, and texts near the rules' edges (full-width digits, a lone surrogate, quotes)."""


def _roster_or_refusal(call: Callable[[], list[Child]]) -> None:
    try:
        children = call()
    except InvalidInput as refused:
        problems = (refused.problems, [str(p) for p in refused.problem_sentences])
    else:
        assert children
        assert all(isinstance(c, Child) for c in children)
        return
    assert problems[0] == problems[1]


@SETTINGS
@given(st.lists(st.lists(field_text, min_size=0, max_size=11), max_size=6), DAYS)
@example([["x"] * 9], ROSTER_TODAY)
def test_any_csv_rows_give_children_or_invalid_input(rows: list[list[str]], today: date) -> None:
    lines = [HEADER, *(",".join(json.dumps(f) if "," in f else f for f in row) for row in rows)]
    _roster_or_refusal(lambda: parse_csv("\n".join(lines) + "\n", today))


@SETTINGS
@given(st.lists(st.integers(0, len(GOOD_LINES) - 1), min_size=1, max_size=8),
       st.integers(0, 200), field_text, DAYS)
def test_a_good_roster_with_any_text_spliced_in_gives_children_or_invalid_input(
        order: list[int], at: int, splice: str, today: date) -> None:
    text = "\n".join(GOOD_LINES[i] for i in [0, *order])
    text = text[:at] + splice + text[at:]
    _roster_or_refusal(lambda: parse_csv(text, today))


@SETTINGS
@given(st.binary(max_size=300))
def test_any_bytes_give_text_or_invalid_input(data: bytes) -> None:
    try:
        text = decode_roster(GOOD_ROSTER.encode("utf-8") + data)
    except InvalidInput:
        return
    _roster_or_refusal(lambda: parse_csv(text, ROSTER_TODAY))


json_value = st.recursive(st.none() | st.booleans() | st.integers() | field_text,
                          lambda inner: st.lists(inner, max_size=3)
                          | st.dictionaries(st.text(max_size=5), inner, max_size=3),
                          max_leaves=12)
record = st.fixed_dictionaries({name: st.one_of(field_text, json_value) for name in COLUMNS})


@SETTINGS
@given(st.one_of(json_value, st.fixed_dictionaries({"children": st.lists(
    st.one_of(record, json_value), max_size=4)})), DAYS)
def test_any_json_roster_gives_children_or_invalid_input(payload: object, today: date) -> None:
    _roster_or_refusal(lambda: parse_records(payload, today))


def _policy_or_refusal(text: str) -> None:
    try:
        policy = load_policy(text)
    except PolicyError:
        return
    assert isinstance(policy, Policy)


@SETTINGS
@given(st.integers(0, len(POLICY_LINES) - 1), st.text(max_size=40))
@example(8, 'country = "XX"')
@example(4, "version = 5")
@example(20, "[parents]\nconfirm_from_day = 28\nconfirm_to_day = 1")
def test_the_policy_with_any_line_replaced_gives_a_policy_or_policy_error(
        line: int, replacement: str) -> None:
    lines = list(POLICY_LINES)
    lines[line] = replacement
    _policy_or_refusal("\n".join(lines))


toml_value = st.one_of(st.integers().map(str),
                       st.sampled_from(["true", "false", "inf", "nan", "1e400", "-0.0"]),
                       st.text(max_size=10).map(json.dumps),
                       DAYS.map(date.isoformat), st.just("[]"), st.just('["x"]'),
                       st.just("{}"), st.just("1979-05-27T07:32:00Z"), st.just("07:32:00"))


@SETTINGS
@given(st.integers(0, len(POLICY_LINES) - 1), toml_value)
def test_any_value_of_any_setting_gives_a_policy_or_policy_error(line: int,
                                                                  value: str) -> None:
    lines = list(POLICY_LINES)
    if "=" in lines[line] and not lines[line].lstrip().startswith("#"):
        lines[line] = lines[line].split("=", 1)[0] + "= " + value
    _policy_or_refusal("\n".join(lines))


@SETTINGS
@given(st.binary(max_size=200))
def test_any_policy_bytes_give_a_policy_or_policy_error(data: bytes) -> None:
    try:
        text = decode_policy(default_policy_text().encode("utf-8") + data)
    except PolicyError:
        return
    _policy_or_refusal(text)
