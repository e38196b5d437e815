"""Working days of a kindergarten: Monday–Friday (or –Saturday), minus Kazakhstan's public
holidays and the days off observed for them, plus the weekend days the government moved work
to, minus declared closures; adjustable per policy for lunar holidays known only as estimates."""

from __future__ import annotations

import calendar as stdlib_calendar
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from functools import cache

import holidays


class DayKind(StrEnum):
    WORKING = "working"
    WEEKEND = "weekend"
    HOLIDAY = "holiday"
    CLOSURE = "closure"
    """A working day the kindergarten declared closed."""


@dataclass(frozen=True)
class CalendarRules:
    country: str = "KZ"
    transferred_workdays: bool = True
    """Weekend days the government declared working (e.g. Sunday 2025-01-05) are open days."""
    extra_days_off: frozenset[date] = frozenset()
    extra_working_days: frozenset[date] = frozenset()


@dataclass(frozen=True)
class Closure:
    first: date
    last: date  # inclusive
    reason: str
    group: str | None = None
    """One group closed (its children's days only); ``None``: the whole kindergarten."""

    def closes(self, group: str | None) -> bool:
        """Whether it closes the days of a child of ``group`` (``None``: the kindergarten's
        own days, which only a whole-kindergarten closure closes)."""
        return self.group is None or self.group == group


def month_days(year: int, month: int) -> list[date]:
    count = stdlib_calendar.monthrange(year, month)[1]
    return [date(year, month, d) for d in range(1, count + 1)]


@cache
def _public(country: str, year: int) -> holidays.HolidayBase:
    return holidays.country_holidays(country, years=year)


def day_kind(day: date, six_day: bool, rules: CalendarRules,
             closures: Iterable[Closure] = (), group: str | None = None) -> DayKind:
    """What ``day`` is for a child of ``group`` (``None``: the whole kindergarten, which a
    closure of one group does not close)."""
    if day in rules.extra_working_days:
        kind = DayKind.WORKING
    elif day in rules.extra_days_off or day in _public(rules.country, day.year):
        kind = DayKind.HOLIDAY
    elif rules.transferred_workdays and day in getattr(
            _public(rules.country, day.year), "weekend_workdays", set()):
        kind = DayKind.WORKING
    elif day.weekday() >= (6 if six_day else 5):
        kind = DayKind.WEEKEND
    else:
        kind = DayKind.WORKING
    if kind == DayKind.WORKING and any(c.first <= day <= c.last for c in closures
                                       if c.closes(group)):
        return DayKind.CLOSURE
    return kind


def working_days(year: int, month: int, six_day: bool, rules: CalendarRules,
                 closures: Iterable[Closure] = (), group: str | None = None) -> list[date]:
    closures = tuple(closures)
    return [d for d in month_days(year, month)
            if day_kind(d, six_day, rules, closures, group) == DayKind.WORKING]


def days_between(first: date, last: date) -> Iterable[date]:
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)
