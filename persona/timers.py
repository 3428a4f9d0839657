"""Declarative timers: when a persona acts on its own.

A :class:`TimerSpec` is attached to a handler with ``@on.timer(...)`` and says when the timer is
due for one customer. The runtime arms specs after every turn and re-arms recurring ones after
they fire; firing goes through the same atomic per-customer processing as a message.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any, Callable
from zoneinfo import ZoneInfo

from .clock import parse_duration
from .errors import DefinitionError

if TYPE_CHECKING:
    from .customer import Customer

TimeOfDay = str | Callable[["Customer"], str | None]


def _duration(value: str | timedelta | None) -> timedelta | None:
    if value is None or isinstance(value, timedelta):
        return value
    return parse_duration(value)


def _hhmm(text: str) -> time:
    try:
        hour, minute = text.split(":")
        return time(int(hour), int(minute))
    except (ValueError, AttributeError):
        raise DefinitionError(f"time of day {text!r}: write it as HH:MM, e.g. 10:00") from None


@dataclass(frozen=True)
class TimerSpec:
    """When a named timer is due.

    Exactly one of the schedule kinds is given:

    * ``after="3h"`` — once, that long after entering ``state`` (or after joining);
    * ``daily="10:00"`` (or a function of the customer returning ``"HH:MM"`` / None), with
      ``offset="-3h"`` and ``weekdays=`` a function of the customer returning ISO weekdays 1-7;
    * ``monthly=8`` (day of month, or a function of the customer) ``at="09:00"``;
    * ``yearly="birthday"`` — the customer attribute holding ``"MM-DD"`` — ``at="09:00"``;
    * ``days_after_joining=7`` ``at="10:00"``;
    * ``inactive="14d"`` — no inbound message or event for that long (re-armed by every one).

    ``state`` binds the timer to a state (armed on entering it, cancelled on leaving it);
    ``when`` is a guard (method name or callable ``(persona, turn) -> bool``) evaluated when
    the timer fires; ``grace`` is how late a timer may still fire after downtime; ``service``
    timers (an instalment the customer asked to be reminded of) survive an opt-out, marketing
    ones end with it.
    """

    name: str
    state: str | None = None
    after: timedelta | None = None
    daily: TimeOfDay | None = None
    offset: timedelta | None = None
    weekdays: Callable[["Customer"], Any] | None = None
    monthly: int | Callable[["Customer"], int | None] | None = None
    yearly: str | None = None
    days_after_joining: int | None = None
    inactive: timedelta | None = None
    at: str = "09:00"
    when: str | Callable[..., bool] | None = None
    grace: timedelta = timedelta(hours=1)
    service: bool = False

    @classmethod
    def build(cls, name: str, *, state: str | None = None, after: str | timedelta | None = None,
              daily: TimeOfDay | None = None, offset: str | timedelta | None = None,
              weekdays: Callable[["Customer"], Any] | None = None,
              monthly: int | Callable[["Customer"], int | None] | None = None,
              yearly: str | None = None, days_after_joining: int | None = None,
              inactive: str | timedelta | None = None, at: str = "09:00",
              when: str | Callable[..., bool] | None = None,
              grace: str | timedelta = "1h", service: bool = False) -> "TimerSpec":
        kinds = [k for k, v in (("after", after), ("daily", daily), ("monthly", monthly),
                                ("yearly", yearly), ("days_after_joining", days_after_joining),
                                ("inactive", inactive)) if v is not None]
        if len(kinds) > 1:
            raise DefinitionError(f"timer {name!r}: choose one schedule, not {', '.join(kinds)}")
        if isinstance(daily, str):
            _hhmm(daily)
        _hhmm(at)
        return cls(name=name, state=state, after=_duration(after), daily=daily,
                   offset=_duration(offset), weekdays=weekdays, monthly=monthly, yearly=yearly,
                   days_after_joining=days_after_joining, inactive=_duration(inactive), at=at,
                   when=when, grace=_duration(grace) or timedelta(hours=1), service=service)

    @property
    def scheduled(self) -> bool:
        """False for a plain handler of timers set by hand with ``turn.schedule``."""
        return any(v is not None for v in (self.after, self.daily, self.monthly, self.yearly,
                                           self.days_after_joining, self.inactive))

    @property
    def recurring(self) -> bool:
        return any(v is not None for v in (self.daily, self.monthly, self.yearly, self.inactive))

    def next_due(self, customer: "Customer", now: float, tz: str, entered: float) -> float | None:
        """The next time this timer is due for ``customer`` strictly after ``now``; None = never."""
        zone = ZoneInfo(tz)
        local = datetime.fromtimestamp(now, zone)
        if self.after is not None:
            return entered + self.after.total_seconds()
        if self.inactive is not None:
            base = customer.last_inbound or customer.first_seen or now
            return base + self.inactive.total_seconds()
        if self.days_after_joining is not None:
            joined = datetime.fromtimestamp(customer.first_seen or now, zone).date()
            day = joined + timedelta(days=self.days_after_joining)
            due = _at(day, _hhmm(self.at), zone)
            return due if due > now else None
        if self.daily is not None:
            text = self.daily(customer) if callable(self.daily) else self.daily
            if not text:
                return None
            allowed = set(self.weekdays(customer) or ()) if self.weekdays else None
            for ahead in range(0, 9):
                day = local.date() + timedelta(days=ahead)
                due = _at(day, _hhmm(text), zone) + (self.offset.total_seconds() if self.offset else 0)
                if due <= now:
                    continue
                fires_on = datetime.fromtimestamp(due - (self.offset.total_seconds() if self.offset else 0), zone)
                if allowed is None or fires_on.isoweekday() in allowed:
                    return due
            return None
        if self.monthly is not None:
            dom = self.monthly(customer) if callable(self.monthly) else self.monthly
            if not dom:
                return None
            year, month = local.year, local.month
            for _ in range(3):
                day = _clamped(year, month, int(dom))
                due = _at(day, _hhmm(self.at), zone)
                if due > now:
                    return due
                year, month = (year + 1, 1) if month == 12 else (year, month + 1)
            return None
        if self.yearly is not None:
            raw = customer.attrs.get(self.yearly)
            if not raw:
                return None
            try:
                month, dom = (int(x) for x in str(raw).split("-")[-2:])
            except ValueError:
                return None
            for year in (local.year, local.year + 1):
                due = _at(_clamped(year, month, dom), _hhmm(self.at), zone)
                if due > now:
                    return due
            return None
        return None


def _at(day: date, at: time, zone: ZoneInfo) -> float:
    return datetime.combine(day, at, tzinfo=zone).timestamp()


def _clamped(year: int, month: int, dom: int) -> date:
    """The ``dom``-th of the month, or its last day (the 31st in February is the 28th/29th)."""
    for day in range(min(dom, 31), 27, -1):
        try:
            return date(year, month, day)
        except ValueError:
            continue
    return date(year, month, min(dom, 28))
