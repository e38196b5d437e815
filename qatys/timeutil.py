"""Time conventions: store UTC as integer microseconds since the epoch, show Asia/Almaty."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

LOCAL_ZONE = ZoneInfo("Asia/Almaty")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def now_us() -> int:
    return time.time_ns() // 1000


def to_datetime(us: int) -> datetime:
    """Exact conversion (no float rounding) to an aware UTC datetime."""
    return _EPOCH + timedelta(microseconds=us)


def from_datetime(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(microseconds=1)


def iso_utc(us: int) -> str:
    """ISO 8601 in UTC with a Z, to the microsecond: the export and API form."""
    return to_datetime(us).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def local_date(us: int, zone: ZoneInfo = LOCAL_ZONE) -> date:
    return to_datetime(us).astimezone(zone).date()


def local_text(us: int, zone: ZoneInfo = LOCAL_ZONE) -> str:
    return to_datetime(us).astimezone(zone).strftime("%Y-%m-%d %H:%M")
