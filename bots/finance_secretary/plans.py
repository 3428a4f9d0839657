"""Fixed-investment plans: when an instalment is due, which one a payment settles, and when
the secretary should look again.

A plan lives in the customer's ``attrs["plans"]`` keyed by product code::

    {"F002": {"amount": 1000, "day": 8, "since": "2026-11-23", "paid": "2026-11", "reminded": "2026-12"}}

An instalment is named by its month (``"2026-12"``, a *cycle*). Its due date is ``day`` of that
month, or the month's last day when the month is shorter. The first instalment is the first
due date after the day the plan was set, so nobody is reminded an hour after setting a plan.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Iterable, Mapping


@dataclass(frozen=True)
class Check:
    """One reminder the secretary owes today: the first (on the due day) or the second."""

    product: str
    amount: float
    due: date
    cycle: str
    round: int


def due_date(day: int, year: int, month: int) -> date:
    """The ``day``-th of the month, or the month's last day when it has fewer days."""
    if day <= 28:
        return date(year, month, day)
    for dom in range(min(day, 31), 27, -1):
        try:
            return date(year, month, dom)
        except ValueError:
            continue
    return date(year, month, 28)


def cycle_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def _month(year: int, month: int, shift: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + shift
    return index // 12, index % 12 + 1


def _dues(plan: Mapping[str, Any], around: date, months: Iterable[int]) -> list[tuple[str, date]]:
    out = []
    for shift in months:
        year, month = _month(around.year, around.month, shift)
        out.append((f"{year:04d}-{month:02d}", due_date(int(plan["day"]), year, month)))
    return out


def _starts_before(plan: Mapping[str, Any], due: date) -> bool:
    since = plan.get("since")
    return not since or due > date.fromisoformat(since)


def settled_cycle(plan: Mapping[str, Any], paid_on: date) -> str:
    """The instalment a payment on ``paid_on`` settles: the one whose due date is nearest,
    so paying a few days early or a few days late both count."""
    candidates = _dues(plan, paid_on, (-1, 0, 1))
    return min(candidates, key=lambda c: (abs((c[1] - paid_on).days), c[1]))[0]


def is_paid(plan: Mapping[str, Any], cycle: str) -> bool:
    return str(plan.get("paid") or "") >= cycle


def checks_on(plans: Mapping[str, Mapping[str, Any]], today: date) -> list[Check]:
    """The reminders due today: round 1 for an instalment due today and not made, round 2
    for one due yesterday and still not made. Nothing after that: the secretary stops."""
    out = []
    for product, plan in sorted(plans.items()):
        for round_, day in ((1, today), (2, today - timedelta(days=1))):
            cycle = cycle_of(day)
            due = due_date(int(plan["day"]), day.year, day.month)
            if due == day and _starts_before(plan, due) and not is_paid(plan, cycle):
                out.append(Check(product, float(plan["amount"]), due, cycle, round_))
    return out


def next_check(plans: Mapping[str, Mapping[str, Any]], now: datetime, at: time) -> datetime | None:
    """When the secretary should next look at these plans (strictly after ``now``): the due day
    and the day after, at ``at``, of every instalment not yet made."""
    best: datetime | None = None
    for plan in plans.values():
        for cycle, due in _dues(plan, now.date(), (-1, 0, 1, 2)):
            if is_paid(plan, cycle) or not _starts_before(plan, due):
                continue
            for day in (due, due + timedelta(days=1)):
                moment = datetime.combine(day, at, tzinfo=now.tzinfo)
                if moment > now and (best is None or moment < best):
                    best = moment
    return best


def upcoming(plan: Mapping[str, Any], today: date) -> date:
    """The next instalment not yet made (today's counts), for "my plans" answers."""
    for cycle, due in _dues(plan, today, (-1, 0, 1, 2)):
        if due >= today and _starts_before(plan, due) and not is_paid(plan, cycle):
            return due
    return _dues(plan, today, (3,))[0][1]
