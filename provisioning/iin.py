"""Kazakhstan's individual identification number (ИИН / ЖСН): 12 digits, the last a checksum.

The check digit is the weighted sum of the first 11 digits modulo 11 with
weights 1..11; if that gives 10, the sum is taken again with weights
3..11, 1, 2; if that also gives 10 the number is not valid.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

_FIRST = tuple(range(1, 12))
_SECOND = (3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2)


def check_digit(first_eleven: str) -> int | None:
    """The checksum digit for 11 digits, or None when no valid IIN can end them."""
    digits = [int(c) for c in first_eleven]
    for weights in (_FIRST, _SECOND):
        value = sum(d * w for d, w in zip(digits, weights, strict=True)) % 11
        if value != 10:
            return value
    return None


def is_valid(iin: str) -> bool:
    if len(iin) != 12 or not iin.isascii() or not iin.isdigit():
        return False
    return check_digit(iin[:11]) == int(iin[11])


def birth_date(iin: str) -> date | None:
    """The birth date encoded in an IIN (YYMMDD + century digit), if it encodes one."""
    century = {"1": 1800, "2": 1800, "3": 1900, "4": 1900, "5": 2000, "6": 2000}.get(iin[6])
    if century is None:
        return None
    try:
        return date(century + int(iin[0:2]), int(iin[2:4]), int(iin[4:6]))
    except ValueError:
        return None


def make(first_eleven: str) -> str | None:
    """Complete 11 digits with their check digit (for generated test and demo data)."""
    digit = check_digit(first_eleven)
    return None if digit is None else first_eleven + str(digit)


def generated(first_seven: str) -> Iterator[str]:
    """Valid IINs starting with ``first_seven`` (birth date + century digit), for generated
    demo and test data only: numbers that pass the checksum, belonging to nobody known."""
    for serial in range(10_000):
        value = make(f"{first_seven}{serial:04d}")
        if value is not None:
            yield value
