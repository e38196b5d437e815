"""The funding policy: a versioned TOML file (format in docs/policy.md), checked strictly.

An invalid file is refused with the line that is wrong, so whoever edits a copy finds the
mistake at once instead of in a statement.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from importlib import resources
from typing import Any

import holidays

from server.domain.calendar import CalendarRules

DEFAULT_POLICY = "kz-default-2026.toml"


class AbsenceReason(StrEnum):
    """Why a child was absent, as the director records it (docs/cli.md, `qatys absence add`);
    stored in ``absences.reason``. A policy may name the first four as paid reasons; "other"
    is never paid (docs/policy.md). Recorded by provisioning/records.py, which exports it."""
    ILLNESS = "illness"
    QUARANTINE = "quarantine"
    SANATORIUM = "sanatorium"
    LEAVE = "leave"
    OTHER = "other"
    """Any other reason (a family's trip, a move): recorded, never paid."""
    CANCELLED = "cancelled"
    """Not a reason: a record that cancels the one it replaces."""


REASONS = (AbsenceReason.ILLNESS, AbsenceReason.QUARANTINE, AbsenceReason.SANATORIUM,
           AbsenceReason.LEAVE)
"""The reasons a policy may pay for (``[absence] paid_reasons``)."""
_MONEY = re.compile(r"^\d{1,9}(\.\d{1,2})?$")
MAX_VERSION = 40
"""Statements store the version (``month_totals.policy_version``, 40 characters)."""


class PolicyError(ValueError):
    """A policy file that is not valid; the message names the line."""


@dataclass(frozen=True)
class Policy:
    version: str
    digest: str
    """SHA-256 of the file's bytes: a statement names exactly the rules it used."""
    calendar: CalendarRules
    paid_reasons: frozenset[str]
    illness_requires_document: bool
    leave_cap_days_per_year: int
    rounding_step: Decimal
    norms: dict[str, Decimal] = field(hash=False)
    currency: str = "KZT"
    confirm_from_day: int = 1
    """Guardians confirm or dispute a month from this day of the next month …"""
    confirm_to_day: int = 7
    """… to this one (inclusive). Optional section [parents]; these are the defaults."""
    report_past_working_days: int = 3
    """A guardian's absence report may begin at most this many working days before today."""
    pickup_adults_per_child: int = 6
    """How many adults a child's guardians may allow to collect the child (optional section
    [families]; docs/families.md)."""


def default_policy_text() -> str:
    return resources.files("server.domain.policies").joinpath(DEFAULT_POLICY).read_text(
        encoding="utf-8")


def decode_policy(data: bytes) -> str:
    """A policy file's text: UTF-8 (a BOM is dropped); any other encoding (e.g. a copy saved
    as Windows-1251) is refused with the first line that is not UTF-8."""
    try:
        return data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise PolicyError(f"line {line}: the file is not UTF-8 text (saved as Windows-1251?); "
                          "save it as UTF-8") from exc


def load_policy(text: str | None = None) -> Policy:
    """The policy in ``text`` (the shipped default when None)."""
    text = default_policy_text() if text is None else text
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"not valid TOML: {exc}") from exc
    reader = _Reader(text, data)
    version = reader.text("", "version")
    if len(version) > MAX_VERSION:
        raise reader.error("", "version", f"must be at most {MAX_VERSION} characters")
    calendar_rules = _calendar(reader)  # read in the file's order: the first problem is named
    reasons = reader.texts("absence", "paid_reasons")
    unknown = sorted(set(reasons) - set(REASONS))
    if unknown:
        raise reader.error("absence", "paid_reasons",
                           f"unknown reason {unknown[0]!r} (known: {', '.join(REASONS)})")
    cap = reader.integer("absence", "leave_cap_days_per_year", 0, 366)
    step = reader.money("amounts", "rounding_step")
    if step <= 0:
        raise reader.error("amounts", "rounding_step", "must be more than zero")
    norms_table = reader.table("norms")
    if not norms_table:
        raise reader.error("norms", None, "the norm table is empty")
    norms = {key: reader.money("norms", key) for key in norms_table}
    families = _families(reader, data)
    reader.no_unknown_keys()
    return Policy(version=version, digest=hashlib.sha256(text.encode("utf-8")).hexdigest(),
                  calendar=calendar_rules, paid_reasons=frozenset(reasons),
                  illness_requires_document=reader.boolean("absence",
                                                           "illness_requires_document"),
                  leave_cap_days_per_year=cap, rounding_step=step, norms=norms,
                  currency=reader.text("", "currency"), **families)


def _calendar(reader: _Reader) -> CalendarRules:
    country = reader.text("calendar", "country")
    if country not in holidays.list_supported_countries():
        raise reader.error("calendar", "country",
                           f"{country[:20]!r} is not a country code the holiday calendar knows "
                           '(e.g. "KZ")')
    return CalendarRules(
        country=country,
        transferred_workdays=reader.boolean("calendar", "transferred_workdays"),
        extra_days_off=reader.dates("calendar", "extra_days_off"),
        extra_working_days=reader.dates("calendar", "extra_working_days"),
    )


def _families(reader: _Reader, data: dict[str, Any]) -> dict[str, int]:
    """The parents' windows and the pickup limit: optional tables, each with its default."""
    found = {"confirm_from_day": 1, "confirm_to_day": 7, "report_past_working_days": 3,
             "pickup_adults_per_child": 6}
    if "parents" in data:
        found["confirm_from_day"] = reader.integer("parents", "confirm_from_day", 1, 28)
        found["confirm_to_day"] = reader.integer("parents", "confirm_to_day",
                                                 found["confirm_from_day"], 28)
        if "report_past_working_days" in data["parents"]:
            found["report_past_working_days"] = reader.integer(
                "parents", "report_past_working_days", 0, 30)
    if "families" in data and "pickup_adults_per_child" in data["families"]:
        found["pickup_adults_per_child"] = reader.integer("families",
                                                          "pickup_adults_per_child", 0, 50)
    return found


_KNOWN = {"": {"version", "currency", "calendar", "absence", "amounts", "norms", "parents",
               "families"},
          "calendar": {"country", "transferred_workdays", "extra_days_off",
                       "extra_working_days"},
          "absence": {"paid_reasons", "illness_requires_document", "leave_cap_days_per_year"},
          "amounts": {"rounding_step"},
          "parents": {"confirm_from_day", "confirm_to_day", "report_past_working_days"},
          "families": {"pickup_adults_per_child"}}


class _Reader:
    """Typed access to the parsed file, with errors that point at the line."""

    def __init__(self, text: str, data: dict[str, Any]) -> None:
        self._lines = text.splitlines()
        self._data = data

    def _section(self, section: str) -> dict[str, Any]:
        if not section:
            return self._data
        value = self._data.get(section)
        if not isinstance(value, dict):
            raise PolicyError(f"the section [{section}] is missing")
        return value

    def _value(self, section: str, key: str) -> Any:
        table = self._section(section)
        if key not in table:
            where = f"[{section}]" if section else "the top of the file"
            raise PolicyError(f"{key} is missing in {where}")
        return table[key]

    def table(self, section: str) -> dict[str, Any]:
        return self._section(section)

    def text(self, section: str, key: str) -> str:
        value = self._value(section, key)
        if not isinstance(value, str) or not value.strip():
            raise self.error(section, key, "must be non-empty text")
        return value

    def texts(self, section: str, key: str) -> list[str]:
        value = self._value(section, key)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.error(section, key, "must be a list of texts")
        return value

    def boolean(self, section: str, key: str) -> bool:
        value = self._value(section, key)
        if not isinstance(value, bool):
            raise self.error(section, key, "must be true or false")
        return value

    def integer(self, section: str, key: str, low: int, high: int) -> int:
        value = self._value(section, key)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise self.error(section, key, f"must be a whole number within {low}..{high}")
        return value

    def money(self, section: str, key: str) -> Decimal:
        value = self._value(section, key)
        if not isinstance(value, str) or not _MONEY.match(value):
            raise self.error(section, key, 'must be an amount in quotes, e.g. "48000.00"')
        try:
            return Decimal(value)
        except InvalidOperation as exc:  # pragma: no cover - the pattern already checked it
            raise self.error(section, key, "is not an amount") from exc

    def dates(self, section: str, key: str) -> frozenset[date]:
        value = self._value(section, key)
        if not isinstance(value, list) or not all(type(v) is date for v in value):
            raise self.error(section, key, "must be a list of dates (2026-05-27, no quotes)")
        return frozenset(value)

    def no_unknown_keys(self) -> None:
        for section, known in _KNOWN.items():
            if section in ("parents", "families") and section not in self._data:
                continue
            for key in self._section(section):
                if key not in known:
                    raise self.error(section, key, "is not a policy setting")

    def error(self, section: str, key: str | None, problem: str) -> PolicyError:
        line = self._line_of(section, key)
        name = f"[{section}] {key}" if section and key else (key or f"[{section}]")
        where = f"line {line}: " if line else ""
        return PolicyError(f"{where}{name} {problem}")

    def _line_of(self, section: str, key: str | None) -> int | None:
        current = ""
        for number, raw in enumerate(self._lines, start=1):
            line = raw.strip()
            if line.startswith("[") and line.endswith("]"):
                current = line[1:-1].strip()
                if key is None and current == section:
                    return number
                continue
            if key is not None and current == section:
                name = line.split("=", 1)[0].strip().strip('"')
                if "=" in line and name == key:
                    return number
        return None
