"""Time, swappable: the real clock in production, a fake one in tests and the simulator."""

from __future__ import annotations

import asyncio
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


def parse_duration(text: str) -> timedelta:
    """``"90m"``, ``"3h"``, ``"2d"``, ``"1w"`` → timedelta (the simulator's ``/advance``)."""
    text = text.strip()
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
    if not text or text[-1] not in units:
        raise ValueError(f"duration {text!r}: use a number and one of s, m, h, d, w (e.g. 3h)")
    try:
        amount = float(text[:-1])
    except ValueError:
        raise ValueError(f"duration {text!r}: {text[:-1]!r} is not a number") from None
    return timedelta(seconds=amount * units[text[-1]])
