"""Anomaly flags (pure rules) on made-up months of check-ins."""

from __future__ import annotations

from datetime import date

from server.domain.anomalies import (
    CheckinFact,
    Outage,
    all_flags,
    clock_jumps,
    manual_share,
    phone_code_reused,
    present_on_closure,
    scans_while_camera_down,
    stack_of_cards,
    two_kindergartens,
)
from server.money.outages import LedgerEntry, outage_periods

DAY = date(2026, 3, 2)
T0 = 1_772_420_000_000_000
BOOT = bytes(16)


def fact(n: int, *, child: str | None = None, method: str = "qr-card", at_s: float = 0,
         garden: str = "KG1", terminal: str = "T-A", day: date = DAY,
         mono_s: float | None = None, code: str = "") -> CheckinFact:
    at_us = T0 + int(at_s * 1e6)
    mono = int((at_s if mono_s is None else mono_s) * 1e9)
    return CheckinFact(f"{terminal}:{n}", terminal, garden, child or f"child-{n}", method,
                       at_us, day, BOOT, mono, code)


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


def test_camera_scans_while_the_terminal_reported_its_camera_down() -> None:
    entries = [LedgerEntry("T-A", "power_on", T0, ""),
               LedgerEntry("T-A", "camera_failed", T0 + 100_000_000, ""),
               LedgerEntry("T-A", "offline", T0 + 150_000_000, "ServerUnreachable"),
               LedgerEntry("T-A", "camera_ok", T0 + 200_000_000, ""),
               LedgerEntry("T-B", "camera_failed", T0 + 50_000_000, "")]  # never came back
    periods = outage_periods(entries)
    assert periods == [Outage("T-A", "camera", T0 + 100_000_000, T0 + 200_000_000),
                       Outage("T-A", "offline", T0 + 150_000_000, None),
                       Outage("T-B", "camera", T0 + 50_000_000, None)]
    facts = [fact(1, at_s=120), fact(2, at_s=130, method="manual"), fact(3, at_s=250),
             fact(4, at_s=60, terminal="T-B"), fact(5, at_s=10)]
    flags = scans_while_camera_down(facts, periods)
    assert [(f.rule, f.event_ids) for f in flags] == [
        ("scans_while_camera_down", ("T-A:1",)), ("scans_while_camera_down", ("T-B:4",))]
    assert "scans_while_camera_down" in {f.rule for f in all_flags(facts, set(), periods)}


def test_one_phone_code_taken_at_two_terminals() -> None:
    code = "ABCDEFGH/59000000"
    twice = [fact(1, child="c", method="qr-phone", code=code),
             fact(2, child="c", method="qr-phone", code=code, terminal="T-B", at_s=20)]
    flags = phone_code_reused(twice)
    assert [(f.rule, f.event_ids) for f in flags] == [("phone_code_reused", ("T-A:1", "T-B:2"))]
    assert "taken at T-A, T-B" in flags[0].summary
    next_window = [twice[0], fact(3, child="c", method="qr-phone", terminal="T-B",
                                  code="ABCDEFGH/59000001")]
    assert phone_code_reused(next_window) == []
    one_terminal = [twice[0], fact(4, child="c", method="qr-phone", code=code)]
    assert phone_code_reused(one_terminal) == []
    assert phone_code_reused([fact(5, code=code), fact(6, code=code, terminal="T-B")]) == []
