"""Anomaly flags over a month of check-ins (pure): patterns finance staff should look at before
paying. A flag is a question, not a verdict; each says what it saw and why it matters
(docs/anomalies.md).

A flag carries its rule (its code) and the parameters of what it saw; the pages and exports
put those into the reader's language (server/i18n/words.py). ``summary`` is the same in
English, for logs and the JSON of ``qatys funding anomalies``.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from protocol.events import Method

BURST_WINDOW_US = 60_000_000
BURST_MIN_CHILDREN = 8
MANUAL_SHARE_LIMIT = 0.2
MANUAL_MIN_EVENTS = 20
CLOCK_JUMP_US = 600_000_000


class AnomalyRule(StrEnum):
    """A flag's rule, its stable code (``rule`` and ``code``), in docs/anomalies.md's order."""
    STACK_OF_CARDS = "stack_of_cards"
    PRESENT_ON_CLOSURE = "present_on_closure"
    MANUAL_SHARE = "manual_share"
    TWO_KINDERGARTENS = "two_kindergartens"
    SCANS_WHILE_CAMERA_DOWN = "scans_while_camera_down"
    PHONE_CODE_REUSED = "phone_code_reused"
    CLOCK_CORRECTED = "clock_corrected"
    """Seen by the statement from the server's clock corrections (server/money/statements.py)."""
    CLOCK_JUMP = "clock_jump"


@dataclass(frozen=True)
class CheckinFact:
    """What the rules need of one accepted check-in (no names)."""

    event_id: str
    terminal_id: str
    kindergarten: str
    child_id: str
    method: str
    recorded_at_us: int
    local_day: date
    boot_id: bytes
    mono_ns: int
    phone_code: str = ""
    """A guardian's phone code: ``SERIAL/WINDOW`` (empty for other methods)."""


@dataclass(frozen=True)
class Flag:
    rule: AnomalyRule
    kindergarten: str
    day: date | None
    summary: str
    event_ids: tuple[str, ...]
    params: Mapping[str, str | int] = field(default_factory=dict, hash=False)
    """What the flag saw, by name (numbers as int): the words' placeholders."""

    @property
    def code(self) -> AnomalyRule:
        """The flag's stable code: its rule's name."""
        return self.rule


def stack_of_cards(facts: Sequence[CheckinFact]) -> list[Flag]:
    """Many different children by one method on one terminal within a minute: a stack of
    cards scanned by one hand, not families arriving one by one."""
    flags = []
    groups: dict[tuple[str, str], list[CheckinFact]] = defaultdict(list)
    for fact in facts:
        groups[(fact.terminal_id, fact.method)].append(fact)
    for (terminal, method), items in sorted(groups.items()):
        items.sort(key=lambda f: f.recorded_at_us)
        start = 0
        reported_until = -1
        for end in range(len(items)):
            while items[end].recorded_at_us - items[start].recorded_at_us > BURST_WINDOW_US:
                start += 1
            window = items[start:end + 1]
            children = {f.child_id for f in window}
            if len(children) >= BURST_MIN_CHILDREN and start > reported_until:
                seconds = BURST_WINDOW_US // 1_000_000
                flags.append(Flag(AnomalyRule.STACK_OF_CARDS, window[0].kindergarten,
                                  window[0].local_day,
                                  f"{len(children)} children by {method} on {terminal} within "
                                  f"{seconds} s", tuple(f.event_id for f in window),
                                  {"children": len(children), "method": method,
                                   "terminal": terminal, "seconds": seconds}))
                reported_until = end
    return flags


def present_on_closure(facts: Iterable[CheckinFact], closed_days: set[date]) -> list[Flag]:
    """Check-ins on a day the kindergarten declared closed."""
    by_day: dict[date, list[CheckinFact]] = defaultdict(list)
    for fact in facts:
        if fact.local_day in closed_days:
            by_day[fact.local_day].append(fact)
    return [Flag(AnomalyRule.PRESENT_ON_CLOSURE, items[0].kindergarten, day,
                 f"{len({f.child_id for f in items})} children checked in on a closure day",
                 tuple(f.event_id for f in items), {"children": len({f.child_id for f in items})})
            for day, items in sorted(by_day.items())]


def manual_share(facts: Sequence[CheckinFact]) -> list[Flag]:
    """More than a fifth of a kindergarten's check-ins entered by hand in the month."""
    flags = []
    by_garden: dict[str, list[CheckinFact]] = defaultdict(list)
    for fact in facts:
        by_garden[fact.kindergarten].append(fact)
    for garden, items in sorted(by_garden.items()):
        manual = [f for f in items if f.method == Method.MANUAL]
        if len(items) >= MANUAL_MIN_EVENTS and len(manual) / len(items) > MANUAL_SHARE_LIMIT:
            share, limit = f"{len(manual) / len(items):.0%}", f"{MANUAL_SHARE_LIMIT:.0%}"
            flags.append(Flag(AnomalyRule.MANUAL_SHARE, garden, None,
                              f"{len(manual)} of {len(items)} check-ins entered by hand "
                              f"({share}, limit {limit})", tuple(f.event_id for f in manual),
                              {"manual": len(manual), "total": len(items),
                               "percent": int(share[:-1]), "limit": int(limit[:-1])}))
    return flags


def two_kindergartens(facts: Iterable[CheckinFact]) -> list[Flag]:
    """One child checked in at two kindergartens on the same day."""
    seen: dict[tuple[str, date], dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for fact in facts:
        seen[(fact.child_id, fact.local_day)][fact.kindergarten].append(fact.event_id)
    flags = []
    for (child, day), gardens in sorted(seen.items()):
        if len(gardens) > 1:
            for garden in sorted(gardens):
                others = ", ".join(sorted(g for g in gardens if g != garden))
                flags.append(Flag(AnomalyRule.TWO_KINDERGARTENS, garden, day,
                                  f"child {child} also checked in at {others}",
                                  tuple(e for g in sorted(gardens) for e in gardens[g]),
                                  {"child": child, "others": others}))
    return flags


def clock_jumps(facts: Sequence[CheckinFact]) -> list[Flag]:
    """Within one boot of a terminal, wall time and monotonic time disagree by more than ten
    minutes between consecutive check-ins: its clock was set or drifted."""
    flags = []
    by_boot: dict[tuple[str, bytes], list[CheckinFact]] = defaultdict(list)
    for fact in facts:
        by_boot[(fact.terminal_id, fact.boot_id)].append(fact)
    for (terminal, _boot), items in sorted(by_boot.items(), key=lambda kv: kv[0][0]):
        items.sort(key=lambda f: f.mono_ns)
        for before, after in itertools.pairwise(items):
            wall = after.recorded_at_us - before.recorded_at_us
            mono = (after.mono_ns - before.mono_ns) // 1000
            if abs(wall - mono) > CLOCK_JUMP_US:
                shift = f"{(wall - mono) / 60_000_000:+.0f}"
                flags.append(Flag(AnomalyRule.CLOCK_JUMP, after.kindergarten, after.local_day,
                                  f"terminal {terminal}: wall clock moved {shift} min against "
                                  "its monotonic clock", (before.event_id, after.event_id),
                                  {"terminal": terminal, "minutes": int(shift)}))
    return flags


class OutageKind(StrEnum):
    """What a period of a terminal's own outage ledger was (docs/anomalies.md)."""
    OFFLINE = "offline"
    """From ``offline`` to ``online``: no sync got through."""
    CAMERA = "camera"
    """From ``camera_failed`` to ``camera_ok``: the camera gave no frames."""


@dataclass(frozen=True)
class Outage:
    """A period a terminal itself reported (its outage ledger); ``end_us`` None while it had
    not ended by the month's end."""

    terminal_id: str
    what: OutageKind
    start_us: int
    end_us: int | None


CAMERA_METHODS = (Method.QR_CARD, Method.QR_PHONE, Method.FACE)


def scans_while_camera_down(facts: Sequence[CheckinFact],
                            outages: Sequence[Outage]) -> list[Flag]:
    """Camera check-ins (card, phone, face) on a terminal while it reported its camera
    failed: impossible at a real door, so its clock or its records are wrong."""
    flags = []
    for outage in outages:
        if outage.what != OutageKind.CAMERA:
            continue
        inside = [f for f in facts
                  if f.terminal_id == outage.terminal_id and f.method in CAMERA_METHODS
                  and outage.start_us <= f.recorded_at_us
                  and (outage.end_us is None or f.recorded_at_us < outage.end_us)]
        if inside:
            flags.append(Flag(AnomalyRule.SCANS_WHILE_CAMERA_DOWN, inside[0].kindergarten,
                              inside[0].local_day,
                              f"terminal {outage.terminal_id}: {len(inside)} camera check-ins "
                              "while it reported its camera failed",
                              tuple(f.event_id for f in inside),
                              {"terminal": outage.terminal_id, "scans": len(inside)}))
    return flags


def phone_code_reused(facts: Iterable[CheckinFact]) -> list[Flag]:
    """One guardian's phone code (one binding, one 30-second window) taken at two terminals:
    each terminal refuses a code it has seen, but not one a sibling took; a code passed on
    (a photo of the screen sent to someone at another door) shows here."""
    seen: dict[str, list[CheckinFact]] = defaultdict(list)
    for fact in facts:
        if fact.method == Method.QR_PHONE and fact.phone_code:
            seen[fact.phone_code].append(fact)
    flags = []
    for code, items in sorted(seen.items()):
        terminals = sorted({f.terminal_id for f in items})
        if len(terminals) > 1:
            serial, _, window = code.partition("/")
            taken_at = ", ".join(terminals)
            flags.append(Flag(AnomalyRule.PHONE_CODE_REUSED, items[0].kindergarten,
                              items[0].local_day,
                              f"one phone code (binding {serial}, window {window}) taken at "
                              f"{taken_at}", tuple(f.event_id for f in items),
                              {"binding": serial, "window": window, "terminals": taken_at}))
    return flags


def all_flags(facts: Sequence[CheckinFact], closed_days: set[date],
              outages: Sequence[Outage] = ()) -> list[Flag]:
    return [*stack_of_cards(facts), *present_on_closure(facts, closed_days),
            *manual_share(facts), *two_kindergartens(facts), *clock_jumps(facts),
            *scans_while_camera_down(facts, outages), *phone_code_reused(facts)]
