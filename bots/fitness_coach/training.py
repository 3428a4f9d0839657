"""Calendar arithmetic for a training schedule: weekdays 1-7 and a session time ``HH:MM``.

Kept apart from the persona so the flow reads as a flow; every function here is pure.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any, Iterable

from persona import EventDataError


def parse_days(raw: Any) -> list[int]:
    """ISO weekdays (1 = Monday ... 7 = Sunday), sorted, each once; at least one (else the event
    carrying them is refused)."""
    try:
        days = sorted({int(d) for d in raw})
    except (TypeError, ValueError):
        raise EventDataError(f"days must be a list of weekdays 1-7, got {raw!r}", fields=["days"]) from None
    if not days or days[0] < 1 or days[-1] > 7:
        raise EventDataError(f"days must be a non-empty list of weekdays 1-7, got {raw!r}", fields=["days"])
    return days


def parse_time(raw: Any) -> str:
    """``"20:00"`` (also accepts ``"8:30"``); returned zero-padded."""
    try:
        hour, minute = (int(x) for x in str(raw).strip().split(":"))
    except (TypeError, ValueError):
        raise EventDataError(f"time must be HH:MM, got {raw!r}", fields=["time"]) from None
    if not (0 <= hour < 24 and 0 <= minute < 60):
        raise EventDataError(f"time must be HH:MM within a day, got {raw!r}", fields=["time"])
    return f"{hour:02d}:{minute:02d}"


def minutes(hhmm: str) -> int:
    hour, minute = hhmm.split(":")
    return int(hour) * 60 + int(minute)


def session_index(start: date, day: date, days: Iterable[int]) -> int:
    """How many training days lie in ``[start, day)``: which session of the plan ``day`` gets."""
    allowed = set(days)
    if day <= start or not allowed:
        return 0
    span = (day - start).days
    weeks, rest = divmod(span, 7)
    count = weeks * len(allowed)
    for i in range(rest):
        if (start + timedelta(days=weeks * 7 + i)).isoweekday() in allowed:
            count += 1
    return count


def previous_training_day(day: date, days: Iterable[int]) -> date | None:
    """The last training day strictly before ``day``."""
    allowed = set(days)
    for back in range(1, 8):
        earlier = day - timedelta(days=back)
        if earlier.isoweekday() in allowed:
            return earlier
    return None


def next_training_day(day: date, days: Iterable[int]) -> date | None:
    """``day`` itself if it is a training day, else the next one."""
    allowed = set(days)
    for ahead in range(0, 7):
        later = day + timedelta(days=ahead)
        if later.isoweekday() in allowed:
            return later
    return None


def streak_after(last: date | None, today: date, streak: int, days: Iterable[int]) -> int:
    """The streak after a workout today: one more if no training day was skipped since ``last``."""
    if last == today:
        return max(streak, 1)
    previous = previous_training_day(today, days)
    if last is not None and previous is not None and last >= previous:
        return streak + 1
    return 1


def week_label(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}W{week:02d}"
