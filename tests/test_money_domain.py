"""The money domain without a server: calendar, policy file, attendance days, amounts."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server.domain.calendar import CalendarRules, Closure, day_kind, working_days
from server.domain.funding import (
    AbsenceSpan,
    ChildInput,
    Evidence,
    FundingError,
    compute_statement,
)
from server.domain.policy import PolicyError, default_policy_text, load_policy

POLICY = load_policy()
RULES = POLICY.calendar
EVIDENCE = (Evidence("T-A:1", "qr-card", "medium"),)


def test_march_2026_holidays_on_weekends_move_to_monday() -> None:
    days = working_days(2026, 3, False, RULES)
    assert len(days) == 18  # 22 weekdays − 9 March (8 March was a Sunday) − Nauryz 23–25
    assert date(2026, 3, 9) not in days
    assert {date(2026, 3, d) for d in (23, 24, 25)}.isdisjoint(days)
    assert len(working_days(2026, 3, True, RULES)) == 21  # + Saturdays 7, 14, 28 (21 is Nauryz)


def test_transferred_working_sunday_and_policy_overrides() -> None:
    assert len(working_days(2025, 1, False, RULES)) == 20  # Sunday 5 January 2025 worked
    assert day_kind(date(2025, 1, 3), False, RULES) == "holiday"  # ... for Friday 3 January
    corrected = CalendarRules(extra_days_off=frozenset({date(2026, 5, 28)}),
                              extra_working_days=frozenset({date(2026, 5, 27)}))
    may = working_days(2026, 5, False, corrected)
    assert date(2026, 5, 27) in may  # the estimated Eid al-Adha moved by the policy
    assert date(2026, 5, 28) not in may


def test_closure_spanning_two_months() -> None:
    closure = Closure(date(2025, 12, 29), date(2026, 1, 9), "repairs")
    december = working_days(2025, 12, False, RULES, [closure])
    january = working_days(2026, 1, False, RULES, [closure])
    assert date(2025, 12, 30) not in december
    assert len(december) == len(working_days(2025, 12, False, RULES)) - 3  # 29, 30, 31
    assert min(january) == date(2026, 1, 12)
    assert day_kind(date(2026, 1, 8), False, RULES, [closure]) == "closure"


def _statement(children: list[ChildInput], presence: dict[str, dict[date, tuple[Evidence, ...]]],
               absences: list[AbsenceSpan], month: int = 3):
    return compute_statement("KG1", 2026, month, False, [], POLICY, children, presence, absences)


def test_statement_equals_a_hand_computed_one() -> None:
    march = working_days(2026, 3, False, RULES)
    a = ChildInput("child-a", "age3-full-state", date(2025, 9, 1))
    b = ChildInput("child-b", "age3-full-state", date(2026, 3, 16))
    c = ChildInput("child-c", "age5-half-state", date(2025, 9, 1), date(2026, 3, 20))
    presence = {
        "child-a": {d: EVIDENCE for d in march[:15]},
        "child-b": {d: EVIDENCE for d in march if d >= date(2026, 3, 16)},
        "child-c": {d: EVIDENCE for d in march[:5]},
    }
    absences = [
        AbsenceSpan("abs-1", "child-a", march[15], march[16], "illness", "cert-77"),
        AbsenceSpan("abs-2", "child-c", march[5], march[7], "illness"),  # no certificate
    ]
    st_ = _statement([c, b, a], presence, absences)
    lines = {line.child_id: line for line in st_.children}
    assert st_.working_days == 18
    assert (lines["child-a"].present_days, lines["child-a"].paid_absence_days) == (15, 2)
    assert lines["child-a"].amount == Decimal("45333.33")  # 48000 × 17 / 18
    assert lines["child-b"].present_days == 9  # 16–20, 26–27, 30–31 March
    assert lines["child-b"].amount == Decimal("24000.00")  # 48000 × 9 / 18
    assert lines["child-c"].paid_absence_days == 0  # illness without a certificate
    assert lines["child-c"].amount == Decimal("7500.00")  # 27000 × 5 / 18
    assert st_.total == Decimal("76833.33")
    assert [line.child_id for line in st_.children] == ["child-a", "child-b", "child-c"]
    why = {d.day: d for d in lines["child-a"].days}
    assert why[march[0]].mark == "present"
    assert why[march[0]].evidence == EVIDENCE
    assert (why[march[15]].mark, why[march[15]].absence_record) == ("paid_absence", "abs-1")
    assert why[march[17]].mark == "absent"
    assert why[date(2026, 3, 8)].mark == "non_working"


def test_same_inputs_same_bytes_and_any_change_shows_in_the_digest() -> None:
    child = ChildInput("child-a", "age3-full-state", date(2025, 9, 1))
    presence = {"child-a": {date(2026, 3, 2): EVIDENCE}}
    first = _statement([child], presence, []).to_json()
    assert first == _statement([child], dict(presence), []).to_json()
    other = _statement([child], {"child-a": {date(2026, 3, 3): EVIDENCE}}, [])
    assert other.to_json() != first
    assert other.inputs_digest != _statement([child], presence, []).inputs_digest


def test_leave_is_capped_at_30_days_a_year_in_date_order() -> None:
    child = ChildInput("child-l", "age3-full-state", date(2025, 9, 1))
    leave = [AbsenceSpan("abs-l", "child-l", date(2026, 1, 5), date(2026, 2, 27), "leave")]
    january = _statement([child], {}, leave, month=1)
    february = _statement([child], {}, leave, month=2)
    jan_paid = january.children[0].paid_absence_days
    feb_paid = february.children[0].paid_absence_days
    assert jan_paid == len([d for d in working_days(2026, 1, False, RULES)
                            if d >= date(2026, 1, 5)])
    assert jan_paid + feb_paid == 30
    unpaid = [d for d in february.children[0].days if d.mark == "unpaid_absence"]
    paid = [d for d in february.children[0].days if d.mark == "paid_absence"]
    assert max(d.day for d in paid) < min(d.day for d in unpaid)  # the 31st and later unpaid


def test_a_category_without_a_norm_is_refused() -> None:
    with pytest.raises(FundingError, match="no norm for funding category 'age9-x'"):
        _statement([ChildInput("child-x", "age9-x", date(2025, 9, 1))], {}, [])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 120), st.integers(0, 40), st.booleans(),
                          st.sampled_from(["illness", "quarantine", "sanatorium", "leave"]),
                          st.booleans()), min_size=1, max_size=6),
       st.integers(1, 12), st.integers(0, 2**32 - 1))
def test_amounts_are_bounded_and_add_up(spans: list[tuple[int, int, bool, str, bool]],
                                        month: int, seed: int) -> None:
    start = date(2026, 1, 1)
    children, presence, absences = [], {}, []
    for i, (offset, length, present, reason, documented) in enumerate(spans):
        child_id = f"child-{i}"
        enrolled = start + timedelta(days=(seed >> i) % 200)
        children.append(ChildInput(child_id, "age3-full-state", enrolled,
                                   enrolled + timedelta(days=60 + offset) if i % 2 else None))
        first = start + timedelta(days=offset)
        days = [first + timedelta(days=k) for k in range(length)]
        if present:
            presence[child_id] = {d: EVIDENCE for d in days[::2]}
        absences.append(AbsenceSpan(f"abs-{i}", child_id, first, first + timedelta(days=length),
                                    reason, "doc" if documented else ""))
    statement = compute_statement("KG1", 2026, month, bool(seed % 2), [], POLICY, children,
                                  presence, absences)
    norm = POLICY.norms["age3-full-state"]
    for line in statement.children:
        assert Decimal("0") <= line.amount <= norm
        assert line.present_days + line.paid_absence_days <= statement.working_days
        assert line.amount == line.amount.quantize(Decimal("0.01"))
    assert statement.total == sum(line.amount for line in statement.children)
    year_leave = sum(
        d.mark == "paid_absence" and d.reason == "leave"
        for m in range(1, month + 1)
        for d in compute_statement("KG1", 2026, m, bool(seed % 2), [], POLICY, children[:1],
                                   presence, absences).children[0].days)
    assert year_leave <= POLICY.leave_cap_days_per_year


@pytest.mark.parametrize(("change", "message"), [
    (('"age3-half-state" = "28800.00"', '"age3-half-state" = 28800'),
     "LINE: [norms] age3-half-state must be an amount"),
    (('paid_reasons = ["illness", "quarantine", "sanatorium", "leave"]',
      'paid_reasons = ["illness", "holiday"]'), "LINE: [absence] paid_reasons unknown reason"),
    (("leave_cap_days_per_year = 30", "leave_cap_days_per_year = 400"),
     "LINE: [absence] leave_cap_days_per_year must be a whole number"),
    (('rounding_step = "0.01"', 'rounding_step = "0.01"\nround_up = true'),
     "[amounts] round_up is not a policy setting"),  # on the line after the change
    (("[absence]", "[absense]"), "the section [absence] is missing"),
    (('version = "kz-default-2026.1"', 'version = "kz-default-2026.1'), "not valid TOML"),
])
def test_an_invalid_policy_is_refused_with_the_line(change: tuple[str, str],
                                                    message: str) -> None:
    text = default_policy_text()
    assert change[0] in text
    line = text[:text.index(change[0])].count("\n") + 1  # the line that was changed
    with pytest.raises(PolicyError) as caught:
        load_policy(text.replace(change[0], change[1], 1))
    assert message.replace("LINE", f"line {line}") in str(caught.value)


def test_the_money_domain_does_no_io() -> None:
    import subprocess
    import sys

    # (the holidays package itself imports socket through the standard library; no I/O)
    code = ("import sys, server.domain.calendar, server.domain.policy, server.domain.funding\n"
            "bad = {'sqlite3', 'flask', 'requests', 'cv2', 'sqlalchemy', 'psycopg'} "
            "& set(sys.modules)\nprint(sorted(bad))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"
