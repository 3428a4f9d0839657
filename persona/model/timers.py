"""Declarative timers: when a persona acts on its own.

A :class:`TimerSpec` is attached to a handler with ``@on.timer(...)`` and says when the timer is
due for one customer. :func:`arm_timers` arms specs after every turn and re-arms recurring ones
after they fire; firing goes through the same atomic per-customer processing as a message.

Times of day are read in the customer's time zone (``attrs["tz"]``, else the persona's), so
"10:00" is ten in the morning where the customer lives, across daylight-saving changes.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import cached_property, lru_cache
from typing import TYPE_CHECKING, Any, Callable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..clock import DEFAULT_TZ, parse_duration
from ..errors import DefinitionError

if TYPE_CHECKING:
    from .customer import Customer
    from .turn import Turn

log = logging.getLogger(__name__)

#: How many calendar answers each timer remembers before starting afresh.
MEMO_SIZE = 4096

TimeOfDay = str | Callable[["Customer"], str | None]
Weekdays = Iterable[int] | Callable[["Customer"], Iterable[Any] | None]
DayOfMonth = int | Callable[["Customer"], int | None]


def _duration(value: str | timedelta | None, what: str) -> timedelta | None:
    if value is None or isinstance(value, timedelta):
        return value
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise DefinitionError(f"{what}: {exc}") from None


def _hhmm(text: str) -> time:
    try:
        hour, minute = str(text).split(":")
        return time(int(hour), int(minute))
    except (ValueError, AttributeError):
        raise DefinitionError(f"time of day {text!r}: write it as HH:MM, e.g. 10:00") from None


def _customer_hhmm(value: Any, timer: str) -> time | None:
    """A time of day that came from customer data: a bad value skips the timer, never the turn."""
    if not value:
        return None
    try:
        return _hhmm(value)
    except DefinitionError:
        log.warning("timer %s: the customer's time of day %r is not HH:MM; timer not armed", timer, value)
        return None


@lru_cache(maxsize=256)
def zone(tz: str | None) -> ZoneInfo:
    """``ZoneInfo(tz)``; an unknown name (a typo in a customer attribute) falls back to the default."""
    try:
        return ZoneInfo(tz or DEFAULT_TZ)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        log.warning("unknown time zone %r; using %s", tz, DEFAULT_TZ)
        return ZoneInfo(DEFAULT_TZ)


@dataclass(frozen=True)
class TimerSpec:
    """When a named timer is due.

    At most one of the schedule kinds is given (none: a timer set by hand with
    ``turn.schedule``):

    * ``after="3h"`` — once, that long after entering ``state`` (without ``state``: after
      joining);
    * ``daily="10:00"`` (or a function of the customer returning ``"HH:MM"`` / None, e.g. the
      session time the customer chose), with ``offset="-3h"`` ("3 hours before the session")
      and ``weekdays=`` ISO weekdays 1-7 (a collection, or a function of the customer) — the
      weekday of the session, not of the shifted time;
    * ``monthly=8`` (day of month, or a function of the customer) ``at="09:00"``; the 31st is
      the last day of shorter months;
    * ``yearly="birthday"`` — the customer attribute holding ``"MM-DD"`` (or ``"YYYY-MM-DD"``)
      — ``at="09:00"``; the 29th of February is the 28th in other years;
    * ``days_after_joining=7`` ``at="10:00"``;
    * ``inactive="14d"`` — the customer did nothing for that long; re-armed by every message or
      action of the customer (not by business events), fires once per silence;
    * ``relative_to="appointment"`` — the customer attribute holding a date and time
      (``"2026-11-27 10:30"``, ISO with or without an offset, ``"2026-11-27"``, or epoch
      seconds), shifted by ``offset="-1d"``; with ``at="09:00"`` it fires at that time of day
      on the shifted date ("1 day before the appointment, at 09:00"), without ``at`` at the
      shifted moment itself (``offset="-2h"``: two hours before). It fires once per value:
      moved when the attribute changes, cancelled when it is cleared, and not armed when the
      moment has already passed.

    ``state`` binds the timer to a state (armed on entering it, cancelled on leaving it);
    ``when`` is a guard (method name or callable ``(persona, turn) -> bool``) evaluated when
    the timer fires; ``grace`` is how late a timer may still fire after downtime (later ones
    are skipped and counted as ``timers_late``); ``service`` timers (an instalment the
    customer asked to be reminded of) survive an opt-out, marketing ones end with it.

    Recurring timers (daily, monthly, yearly, inactive) and ``relative_to`` timers follow
    their schedule: after firing,
    and whenever the customer data they read changes, they move to the next time it gives.
    To stop one, bind it to a state or guard it with ``when``; ``turn.cancel`` only skips
    the occurrence until the next turn re-arms it.
    """

    name: str
    state: str | None = None
    after: timedelta | None = None
    daily: TimeOfDay | None = None
    offset: timedelta | None = None
    weekdays: Weekdays | None = None
    monthly: DayOfMonth | None = None
    yearly: str | None = None
    days_after_joining: int | None = None
    inactive: timedelta | None = None
    relative_to: str | None = None
    at: str | None = "09:00"
    when: str | Callable[..., bool] | None = None
    grace: timedelta = timedelta(hours=1)
    service: bool = False
    _memo: dict[tuple[Any, ...], tuple[float, float]] = field(
        default_factory=dict, init=False, repr=False, compare=False, hash=False)

    @classmethod
    def build(cls, name: str, *, state: str | None = None, after: str | timedelta | None = None,
              daily: TimeOfDay | None = None, offset: str | timedelta | None = None,
              weekdays: Weekdays | None = None, monthly: DayOfMonth | None = None,
              yearly: str | None = None, days_after_joining: int | None = None,
              inactive: str | timedelta | None = None, relative_to: str | None = None,
              at: str | None = None, when: str | Callable[..., bool] | None = None,
              grace: str | timedelta = "1h", service: bool = False) -> "TimerSpec":
        """Check a schedule as written in ``@on.timer(...)``; mistakes fail at import."""
        where = f"timer {name!r}"
        kinds = [k for k, v in (("after", after), ("daily", daily), ("monthly", monthly),
                                ("yearly", yearly), ("days_after_joining", days_after_joining),
                                ("inactive", inactive), ("relative_to", relative_to)) if v is not None]
        if len(kinds) > 1:
            raise DefinitionError(f"{where}: choose one schedule, not {', '.join(kinds)}")
        if weekdays is not None and daily is None:
            raise DefinitionError(f"{where}: weekdays= goes with daily=\"HH:MM\"")
        if offset is not None and daily is None and relative_to is None:
            raise DefinitionError(f"{where}: offset= goes with daily=\"HH:MM\" or relative_to=\"<attribute>\"")
        if relative_to is not None and not (isinstance(relative_to, str) and relative_to):
            raise DefinitionError(f"{where}: relative_to= names the customer attribute holding a date and "
                                  "time, e.g. relative_to=\"appointment\"")
        if isinstance(daily, str):
            _hhmm(daily)
        elif daily is not None and not callable(daily):
            raise DefinitionError(f"{where}: daily= takes \"HH:MM\" or a function of the customer")
        if weekdays is not None and not callable(weekdays):
            weekdays = frozenset(_weekday(d, where) for d in weekdays)
        if isinstance(monthly, bool) or (monthly is not None and not callable(monthly)
                                         and not (isinstance(monthly, int) and 1 <= monthly <= 31)):
            raise DefinitionError(f"{where}: monthly= takes a day of the month 1-31 (got {monthly!r})")
        if yearly is not None and not (isinstance(yearly, str) and yearly):
            raise DefinitionError(f"{where}: yearly= names the customer attribute holding \"MM-DD\", "
                                  "e.g. yearly=\"birthday\"")
        if days_after_joining is not None and (not isinstance(days_after_joining, int) or days_after_joining < 0):
            raise DefinitionError(f"{where}: days_after_joining= takes a whole number of days >= 0")
        if at is not None:
            _hhmm(at)
        elif relative_to is None:
            at = "09:00"
        spec = cls(name=name, state=state, after=_duration(after, where), daily=daily,
                   offset=_duration(offset, where), weekdays=weekdays, monthly=monthly, yearly=yearly,
                   days_after_joining=days_after_joining, inactive=_duration(inactive, where),
                   relative_to=relative_to, at=at,
                   when=when, grace=_duration(grace, where) or timedelta(0), service=service)
        if spec.grace < timedelta(0):
            raise DefinitionError(f"{where}: grace= cannot be negative")
        if spec.inactive is not None and spec.inactive <= timedelta(0):
            raise DefinitionError(f"{where}: inactive= must be longer than zero, e.g. \"14d\"")
        return spec

    @cached_property
    def scheduled(self) -> bool:
        """False for a plain handler of timers set by hand with ``turn.schedule``."""
        return any(v is not None for v in (self.after, self.daily, self.monthly, self.yearly,
                                           self.days_after_joining, self.inactive, self.relative_to))

    @cached_property
    def recurring(self) -> bool:
        """True for timers that follow their schedule on every turn rather than arm once."""
        return any(v is not None for v in (self.daily, self.monthly, self.yearly, self.inactive,
                                           self.relative_to))

    @cached_property
    def _at_time(self) -> time:
        return _hhmm(self.at or "09:00")

    def next_due(self, customer: "Customer", now: float, tz: str, entered: float) -> float | None:
        """The next time this timer is due for ``customer``; None = not (any more).

        ``entered`` is when the customer entered the timer's state (or joined), for ``after``.
        Every other kind answers a time strictly after ``now``. Calendar schedules are
        remembered per input (time zone, the customer's time, weekdays, day): the runtime asks
        on every turn, and most customers share a handful of answers.
        """
        if self.after is not None:
            return entered + self.after.total_seconds()
        if self.days_after_joining is not None:
            due = self.moment(customer, tz, entered, now)
            return due if due is not None and due > now else None
        if self.inactive is not None:
            base = customer.last_inbound or customer.first_seen or now
            due = base + self.inactive.total_seconds()
            return due if due > now else None
        if self.relative_to is not None:
            return self._relative_due(customer.attrs.get(self.relative_to), now, tz)
        key = self._inputs(customer, tz)
        if key is None:
            return None
        memo = self._memo.get(key)
        if memo is not None and memo[0] <= now < memo[1]:
            return memo[1]  # the first time after memo[0] is after now: nothing lies between
        found = self._calendar_due(key, now)
        if found is not None:
            if len(self._memo) >= MEMO_SIZE:
                self._memo.clear()
            self._memo[key] = (now, found)
        return found

    def moment(self, customer: "Customer", tz: str, entered: float, now: float) -> float | None:
        """A one-shot timer's moment, passed or not (a migration's backfill asks, to tell a
        moment still ahead from one already gone); None for recurring timers."""
        if self.after is not None:
            return entered + self.after.total_seconds()
        if self.days_after_joining is not None:
            tzinfo = zone(tz)
            joined = datetime.fromtimestamp(customer.first_seen or now, tzinfo).date()
            return _at(joined + timedelta(days=self.days_after_joining), self._at_time, tzinfo)
        return None

    def _relative_due(self, raw: Any, now: float, tz: str) -> float | None:
        """The moment ``offset`` from the customer's date and time (at ``at`` when given)."""
        tzinfo = zone(tz)
        base = _moment(raw, tzinfo, self.name)
        if base is None:
            return None
        shifted = base + (self.offset or timedelta(0))  # wall-clock arithmetic: "-1d" keeps the hour
        due = _at(shifted.date(), _hhmm(self.at), tzinfo) if self.at else shifted.timestamp()
        return due if due > now else None

    def _inputs(self, customer: "Customer", tz: str) -> tuple[Any, ...] | None:
        """Everything a calendar schedule reads from the customer, hashable; None = never."""
        if self.daily is not None:
            if callable(self.daily):
                at = _customer_hhmm(self.daily(customer), self.name)
                if at is None:
                    return None
            else:
                at = _hhmm(self.daily)
            allowed: frozenset[int] | None = None
            if self.weekdays is not None:
                days = self.weekdays(customer) if callable(self.weekdays) else self.weekdays
                allowed = frozenset(d for d in map(_weekday_or_none, days or ()) if d is not None)
                if not allowed:
                    return None
            return ("daily", tz, at, allowed)
        if self.monthly is not None:
            raw = self.monthly(customer) if callable(self.monthly) else self.monthly
            try:
                dom = int(raw) if raw else 0
            except (TypeError, ValueError):
                dom = 0
            return ("monthly", tz, dom) if 1 <= dom <= 31 else None
        if self.yearly is not None:
            parsed = _month_day(customer.attrs.get(self.yearly))
            return ("yearly", tz, *parsed) if parsed else None
        return None

    def _calendar_due(self, key: tuple[Any, ...], now: float) -> float | None:
        kind, tz = key[0], key[1]
        tzinfo = zone(tz)
        local = datetime.fromtimestamp(now, tzinfo)
        if kind == "daily":
            at, allowed = key[2], key[3]
            shift = self.offset.total_seconds() if self.offset else 0.0
            # the session day lies before today when the offset is positive, after it when negative
            back = int(max(shift, 0) // 86400) + 1
            ahead = int(max(-shift, 0) // 86400) + 9
            for step in range(-back, ahead):
                day = local.date() + timedelta(days=step)
                if allowed is not None and day.isoweekday() not in allowed:
                    continue
                due = _at(day, at, tzinfo) + shift
                if due > now:
                    return due
            return None
        if kind == "monthly":
            year, month = local.year, local.month
            for _ in range(2):
                due = _at(_clamped(year, month, key[2]), self._at_time, tzinfo)
                if due > now:
                    return due
                year, month = (year + 1, 1) if month == 12 else (year, month + 1)
            return None
        month, dom = key[2], key[3]
        for year in (local.year, local.year + 1):
            due = _at(_clamped(year, month, dom), self._at_time, tzinfo)
            if due > now:
                return due
        return None


def _weekday_or_none(value: Any) -> int | None:
    """An ISO weekday 1 (Monday) .. 7 (Sunday), also from a string in customer data."""
    try:
        day = int(value)
    except (TypeError, ValueError):
        return None
    return day if 1 <= day <= 7 else None


def _weekday(value: Any, where: str) -> int:
    day = _weekday_or_none(value)
    if day is None:
        raise DefinitionError(f"{where}: weekdays are ISO numbers 1 (Monday) to 7 (Sunday), got {value!r}")
    return day


def arm_timers(turn: "Turn", specs: Mapping[str, TimerSpec], created: bool) -> None:
    """After every turn: cancel timers bound to states the customer left; arm the declared
    ``specs`` that apply now (``created``: the customer joined in this turn).

    One-shot timers arm on entering their state (unbound ones on joining). Recurring ones
    follow their schedule: armed when missing, moved when the customer data they read
    changed, left alone once due (so a due occurrence is fired, not skipped).
    """
    customer = turn.customer
    for name, timer in list(customer.timers.items()):
        if timer.state is not None and timer.state != customer.state:
            turn.cancel(name)
    for name, spec in specs.items():
        if spec.state is not None and spec.state != customer.state:
            continue
        if customer.opted_out and not spec.service:
            continue
        pending = customer.timers.get(name)
        if not spec.recurring:
            arm = turn.entered is not None if spec.state is not None else created
            if not arm or pending is not None or name in turn.timers_del:
                continue  # a one-shot timer that just fired or was cancelled stays so
            due = spec.next_due(customer, turn.now, turn.tz, turn.entered or turn.now)
            if due is not None:
                turn.schedule(name, at=due, bound=spec.state is not None)
            continue
        if name in turn.timers_set:
            continue  # set by hand in this turn
        if pending is not None and pending.due <= turn.now and not (spec.inactive and turn.input.inbound):
            continue  # due and about to fire: fire it rather than skip to the next time
        due = spec.next_due(customer, turn.now, turn.tz, turn.entered or turn.now)
        if due is None:
            if pending is not None:
                turn.cancel(name)
        elif pending is None or abs(pending.due - due) >= 1.0:
            turn.schedule(name, at=due, bound=spec.state is not None)


def _month_day(raw: Any) -> tuple[int, int] | None:
    """``"MM-DD"`` or ``"YYYY-MM-DD"`` → (month, day); None when it is not a date."""
    if not raw:
        return None
    try:
        month, dom = (int(x) for x in str(raw).split("-")[-2:])
        date(2000, month, dom)  # a leap year: 02-29 is a valid birthday
    except ValueError:
        log.warning("yearly timer: %r is not a MM-DD date; timer not armed", raw)
        return None
    return month, dom


def _moment(raw: Any, tzinfo: ZoneInfo, timer: str) -> datetime | None:
    """A date and time from customer data, in ``tzinfo``; None (and a warning) when it is not one."""
    if raw is None or raw == "":
        return None
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        return datetime.fromtimestamp(raw, tzinfo)
    try:
        moment = datetime.fromisoformat(str(raw).strip())
    except ValueError:
        log.warning("timer %s: the customer's date and time %r is not \"YYYY-MM-DD HH:MM\"; timer not armed",
                    timer, raw)
        return None
    return moment.replace(tzinfo=tzinfo) if moment.tzinfo is None else moment.astimezone(tzinfo)


def _at(day: date, at: time, tzinfo: ZoneInfo) -> float:
    return datetime.combine(day, at, tzinfo=tzinfo).timestamp()


def _clamped(year: int, month: int, dom: int) -> date:
    """The ``dom``-th of the month, or its last day (the 31st in February is the 28th/29th)."""
    for day in range(min(dom, 31), 27, -1):
        try:
            return date(year, month, day)
        except ValueError:
            continue
    return date(year, month, min(dom, 28))
