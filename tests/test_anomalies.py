"""Anomaly flags (pure rules) on made-up months of check-ins."""

from __future__ import annotations

from datetime import date

from server.domain.anomalies import (
    CheckinFact,
    all_flags,
    clock_jumps,
    manual_share,
    present_on_closure,
    stack_of_cards,
    two_kindergartens,
)

DAY = date(2026, 3, 2)
T0 = 1_772_420_000_000_000
BOOT = bytes(16)


def fact(n: int, *, child: str | None = None, method: str = "qr-card", at_s: float = 0,
         garden: str = "KG1", terminal: str = "T-A", day: date = DAY,
         mono_s: float | None = None) -> CheckinFact:
    at_us = T0 + int(at_s * 1e6)
    mono = int((at_s if mono_s is None else mono_s) * 1e9)
    return CheckinFact(f"{terminal}:{n}", terminal, garden, child or f"child-{n}", method,
                       at_us, day, BOOT, mono)


def test_a_stack_of_cards_is_flagged_families_one_by_one_are_not() -> None:
    stack = [fact(i, at_s=i * 3) for i in range(10)]            # ten children in 30 s
    morning = [fact(100 + i, at_s=600 + i * 45) for i in range(30)]  # one every 45 s
    flags = stack_of_cards(stack + morning)
    assert [f.rule for f in flags] == ["stack_of_cards"]
    assert set(flags[0].event_ids) >= {f"T-A:{i}" for i in range(8)}
    assert "children by qr-card on T-A" in flags[0].summary


def test_present_on_a_closure_day() -> None:
    flags = present_on_closure([fact(1), fact(2, day=date(2026, 3, 3))], {DAY})
    assert [(f.rule, f.day, f.event_ids) for f in flags] == \
        [("present_on_closure", DAY, ("T-A:1",))]


def test_manual_share_above_a_fifth() -> None:
    normal = [fact(i) for i in range(20)] + [fact(100 + i, method="manual") for i in range(4)]
    assert manual_share(normal) == []  # 4 of 24 = 17 %
    heavy = normal + [fact(200 + i, method="manual") for i in range(3)]
    flags = manual_share(heavy)
    assert [f.rule for f in flags] == ["manual_share"]
    assert "7 of 27" in flags[0].summary


def test_one_child_at_two_kindergartens_the_same_day() -> None:
    flags = two_kindergartens([fact(1, child="c"), fact(2, child="c", garden="KG2",
                                                         terminal="T-B")])
    assert sorted((f.kindergarten, f.rule) for f in flags) == \
        [("KG1", "two_kindergartens"), ("KG2", "two_kindergartens")]
    assert two_kindergartens([fact(1, child="c"), fact(2, child="c", day=date(2026, 3, 3),
                                                        garden="KG2")]) == []


def test_clock_jump_within_one_boot() -> None:
    steady = [fact(1, at_s=0), fact(2, at_s=300)]
    assert clock_jumps(steady) == []
    jumped = [fact(1, at_s=0, mono_s=0), fact(2, at_s=3600, mono_s=300)]  # wall +55 min
    flags = clock_jumps(jumped)
    assert [f.rule for f in flags] == ["clock_jump"]
    assert "+55 min" in flags[0].summary


def test_a_quiet_month_has_no_flags() -> None:
    month = [fact(i, at_s=i * 90, day=date(2026, 3, 1 + i % 28)) for i in range(200)]
    assert all_flags(month, set()) == []
