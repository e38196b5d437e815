"""A generated, plausible month of a demo kindergarten (pure: dates and times, no I/O).

Most children come on most working days, by card mostly, arriving 07:30–09:00 and leaving
17:00–19:00 local time; a few entries are made by hand at the door, with a reason. One child
is ill with a medical certificate, one without (unpaid under the default policy), one is on
leave; the kindergarten is closed one day, and a few children are checked in on it anyway:
the pattern the finance pages flag (``present_on_closure``). The same seed gives the same
month.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from protocol.events import Direction, Method
from qatys.timeutil import from_datetime
from server.domain.calendar import CalendarRules, working_days
from server.registry.records import AbsenceReason

SEED = 2026
PRESENT_SHARE = 0.93
"""Of the working days a child has no absence record for, how many it comes."""
MANUAL_SHARE = 0.03
"""Of the scans, how many staff enter by hand (far below the 20 % the pages flag)."""
MANUAL_REASONS = ("карта забыта дома / card left at home", "карта повреждена / card damaged",
                  "родитель без карты / parent came without the card")
DOOR_STAFF = "Тәрбиеші / воспитатель"
ON_CLOSURE = 3
"""Children checked in on the closure day: the flagged pattern."""


@dataclass(frozen=True)
class Scan:
    """One check-in at the door, in time order within the month."""
    child_id: str
    time_us: int
    direction: Direction
    method: Method
    reason: str = ""
    by: str = ""


@dataclass(frozen=True)
class Absence:
    child_id: str
    first: date
    last: date
    reason: AbsenceReason
    document: str


@dataclass(frozen=True)
class Closure:
    first: date
    last: date
    reason: str


@dataclass(frozen=True)
class MonthPlan:
    year: int
    month: int
    scans: tuple[Scan, ...]
    absences: tuple[Absence, ...]
    closures: tuple[Closure, ...]

    @property
    def label(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


def previous_month(today: date) -> tuple[int, int]:
    first = today.replace(day=1) - timedelta(days=1)
    return first.year, first.month


def plan_month(year: int, month: int, children: list[str], zone: ZoneInfo,
               seed: int = SEED) -> MonthPlan:
    """The month's scans, absence records and closure for ``children`` (at least ten)."""
    rng = random.Random(seed)  # noqa: S311 - invented attendance, not a secret
    days = working_days(year, month, False, CalendarRules())
    closed = days[len(days) // 2]
    closure = Closure(closed, closed, "Санитарлық күн / санитарный день")
    open_days = [d for d in days if d != closed]
    absences = (
        Absence(children[3], open_days[2], open_days[4], AbsenceReason.ILLNESS,
                "Анықтама / справка 095/у № 4711"),
        Absence(children[6], open_days[8], open_days[9], AbsenceReason.ILLNESS, ""),
        Absence(children[9], open_days[11], open_days[15], AbsenceReason.LEAVE,
                "Өтініш / заявление № 12"),
    )
    excused = {(a.child_id, d) for a in absences for d in open_days if a.first <= d <= a.last}
    scans: list[Scan] = []
    for day in days:
        if day == closed:
            comers = children[:ON_CLOSURE]
        else:
            comers = [c for c in children
                      if (c, day) not in excused and rng.random() < PRESENT_SHARE]
        for child in comers:
            arrival = _at(day, time(7, 30), 90, rng, zone)
            departure = _at(day, time(17, 0), 120, rng, zone)
            scans += [_scan(child, arrival, Direction.IN, rng),
                      _scan(child, departure, Direction.OUT, rng)]
    scans.sort(key=lambda s: s.time_us)
    return MonthPlan(year, month, tuple(scans), absences, (closure,))


def _at(day: date, start: time, spread_minutes: int, rng: random.Random,
        zone: ZoneInfo) -> int:
    moment = datetime.combine(day, start, zone) + timedelta(
        seconds=rng.randrange(spread_minutes * 60))
    return from_datetime(moment)


def _scan(child: str, time_us: int, direction: Direction, rng: random.Random) -> Scan:
    if rng.random() < MANUAL_SHARE:
        return Scan(child, time_us, direction, Method.MANUAL, rng.choice(MANUAL_REASONS),
                    DOOR_STAFF)
    return Scan(child, time_us, direction, Method.QR_CARD)
