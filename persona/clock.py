"""Time, swappable: the real clock in production, a fake one in tests and the simulator."""

from __future__ import annotations

import asyncio
import re
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

DEFAULT_TZ = "Asia/Shanghai"


class Clock:
    """The real clock. Everything in persona asks a Clock, never ``time.time()`` directly."""

    def now(self) -> float:
        """Epoch seconds."""
        return time.time()

    def datetime(self, tz: str = DEFAULT_TZ) -> datetime:
        return datetime.fromtimestamp(self.now(), ZoneInfo(tz))

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class FakeClock(Clock):
    """A clock that moves only when told, so a scenario of days runs in milliseconds.

    The scheduler drives it with :meth:`set`; tests usually call the simulator's ``advance``,
    which fires every timer due on the way in order.
    """

    def __init__(self, start: datetime | str | float = "2026-11-23 09:00", tz: str = DEFAULT_TZ) -> None:
        self._now = parse_time(start, tz) if not isinstance(start, (int, float)) else float(start)

    def now(self) -> float:
        return self._now

    def set(self, when: float) -> None:
        if when < self._now:
            raise ValueError("a FakeClock never goes backwards")
        self._now = when

    def advance(self, seconds: float | timedelta) -> None:
        if isinstance(seconds, timedelta):
            seconds = seconds.total_seconds()
        self.set(self._now + seconds)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(0)


def parse_time(value: datetime | str, tz: str = DEFAULT_TZ) -> float:
    """``"2026-11-23 09:00"`` (in ``tz``) or an aware datetime → epoch seconds."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo(tz))
    return value.timestamp()


#: Every way a duration may name its unit, longest first for the reader of the error message.
DURATION_UNITS: dict[str, float] = {
    "s": 1, "sec": 1, "secs": 1, "second": 1, "seconds": 1, "秒": 1,
    "m": 60, "min": 60, "mins": 60, "minute": 60, "minutes": 60, "分": 60, "分钟": 60,
    "h": 3600, "hr": 3600, "hrs": 3600, "hour": 3600, "hours": 3600, "时": 3600, "小时": 3600,
    "d": 86400, "day": 86400, "days": 86400, "天": 86400, "日": 86400,
    "w": 7 * 86400, "week": 7 * 86400, "weeks": 7 * 86400, "周": 7 * 86400, "星期": 7 * 86400,
}
_DURATION = re.compile(r"([+-]?\d+(?:\.\d+)?)\s*([^\d\s.+-]+)")
_UNITS_HELP = "s/seconds/秒, m/minutes/分钟, h/hours/小时, d/days/天, w/weeks/周"


def parse_duration(text: str) -> timedelta:
    """``"90m"``, ``"3h"``, ``"3 days"``, ``"3天"``, ``"1w"``, ``"-3h"`` → timedelta.

    Timer declarations and the simulator's ``/advance`` read the same forms, so whatever a bot
    author types in one works in the other.
    """
    cleaned = str(text).strip()
    found = _DURATION.fullmatch(cleaned)
    if not found:
        raise ValueError(f"duration {cleaned!r}: write a number and a unit, e.g. 3h, 3 days or 3天 "
                         f"(units: {_UNITS_HELP})")
    amount, unit = found.groups()
    seconds = DURATION_UNITS.get(unit.casefold())
    if seconds is None:
        raise ValueError(f"duration {cleaned!r}: unknown unit {unit!r} (units: {_UNITS_HELP})")
    return timedelta(seconds=float(amount) * seconds)
