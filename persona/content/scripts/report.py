"""Did variant b work? Per variant of a script: who got it, and who reached a goal after.

Read from the customers' journals, where every message notes its script and variant. A
customer counts for the variant of their first message of the script (even if that variant
was stopped later and they moved on), and reached the goal when they entered the goal state
(``state:paid``) or sent the goal business event (``event:order_placed``) within the window
after that first message. Each variant is compared with the control (variant ``a``) by
Newcombe's score interval of the difference in rates (sound at small counts and at 0 % or
100 %, where the textbook normal interval collapses): an interval that does not hold 0 is a
win or a loss; one that does is noise.

A verdict waits for a fixed horizon the writer sets before the test (``horizon`` customers in
each arm whose window has closed, 100 by default: a customer still inside it has not had their
chance) and is read from the first ``horizon`` such customers of each arm only:
looking every day cannot turn noise into a win, and the verdict, once there, no longer moves.
Before that the comparison says "not enough data yet: n of N".

Journals are capped (``Persona.journal_cap`` lines, 90 days): a customer whose first message
of the script has left their journal is not counted.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo
from enum import StrEnum
from statistics import NormalDist

from ...errors import PersonaError
from ...store.base import Store
from ...model.templates import DEFAULT_VARIANT

#: journal lines read per customer (more than any journal keeps)
JOURNAL_LINES = 100_000


class GoalKind(StrEnum):
    STATE = "state"
    EVENT = "event"


class Verdict(StrEnum):
    BETTER = "better"
    WORSE = "worse"
    UNCLEAR = "no clear difference"
    NOT_ENOUGH = "not enough data yet"


#: customers per arm a verdict waits for, unless the writer fixes another horizon
HORIZON = 100


@dataclass(frozen=True, slots=True)
class Goal:
    """What counts as success: entering a state, or a business event from the customer."""

    kind: GoalKind
    name: str

    @classmethod
    def parse(cls, text: str) -> "Goal":
        kind, sep, name = text.partition(":")
        if not sep or not name or kind not in tuple(GoalKind):
            raise PersonaError(f"goal {text!r}: write state:NAME or event:NAME, e.g. state:paid")
        return cls(GoalKind(kind), name)

    def __str__(self) -> str:
        return f"{self.kind}:{self.name}"

    def reached_by(self, line: dict[str, object]) -> bool:
        if self.kind == GoalKind.STATE:
            return line.get("k") == "transition" and line.get("to") == self.name
        return line.get("k") == "in" and line.get("input") == f"event {self.name}"


class _Share:
    """``reached`` of ``customers``, as a rate."""

    __slots__ = ()
    customers: int
    reached: int

    @property
    def rate(self) -> float:
        return self.reached / self.customers if self.customers else 0.0


@dataclass(frozen=True, slots=True)
class VariantFigures(_Share):
    """One variant: customers assigned, messages sent, customers who reached the goal."""

    variant: str
    customers: int
    messages: int
    reached: int
    #: the interval of ``rate`` at the report's confidence (Wilson's)
    low: float
    high: float


@dataclass(frozen=True, slots=True)
class Comparison:
    """``variant``'s rate minus the control's, with its confidence interval, over the first
    ``customers`` of each arm (the horizon once both reached it, else all so far)."""

    variant: str
    control: str
    difference: float
    low: float
    high: float
    customers: int  # of the smaller arm, in the comparison
    horizon: int

    @property
    def verdict(self) -> Verdict:
        if self.customers < self.horizon:
            return Verdict.NOT_ENOUGH
        if self.low > 0:
            return Verdict.BETTER
        if self.high < 0:
            return Verdict.WORSE
        return Verdict.UNCLEAR

    @property
    def says(self) -> str:
        """The verdict as a writer reads it (with how far the test is, while it runs)."""
        if self.verdict == Verdict.NOT_ENOUGH:
            return f"{self.verdict}: {self.customers} of {self.horizon} customers per variant"
        return str(self.verdict)


@dataclass(frozen=True, slots=True)
class Point(_Share):
    """One arm up to the end of ``day`` (local): its customers so far, who reached the goal,
    and the interval of that rate."""

    day: str  # YYYY-MM-DD
    customers: int
    reached: int
    low: float
    high: float


@dataclass(frozen=True, slots=True)
class ScriptReport:
    script: str
    goal: Goal
    within: float
    confidence: float
    variants: tuple[VariantFigures, ...]
    comparisons: tuple[Comparison, ...]
    #: per variant, the rate and its interval day by day (by the day of each customer's first message;
    #: a customer whose window is still open counts as not reached yet: the chart shows the test as it runs)
    timeline: dict[str, tuple[Point, ...]] = field(default_factory=dict)


def _z(confidence: float) -> float:
    if not 0 < confidence < 1:
        raise PersonaError(f"confidence {confidence!r}: give a share between 0 and 1, e.g. 0.95")
    return NormalDist().inv_cdf(1 - (1 - confidence) / 2)


def wilson_interval(reached: int, customers: int, confidence: float = 0.95) -> tuple[float, float]:
    """The confidence interval of a rate ``reached / customers`` (Wilson score: sound near 0 and 1)."""
    if customers == 0:
        return 0.0, 1.0
    z = _z(confidence)
    p = reached / customers
    centre = (p + z * z / (2 * customers)) / (1 + z * z / customers)
    half = z * math.sqrt(p * (1 - p) / customers + z * z / (4 * customers * customers)) / (1 + z * z / customers)
    return max(0.0, centre - half), min(1.0, centre + half)


def newcombe_interval(reached: int, customers: int, control_reached: int, control_customers: int,
                      confidence: float = 0.95) -> tuple[float, float, float]:
    """``(difference, low, high)`` of ``reached/customers - control_reached/control_customers``:
    Newcombe's hybrid score interval (his method 10, built from each rate's Wilson interval)."""
    if customers == 0 or control_customers == 0:
        return 0.0, -1.0, 1.0
    p1, p2 = reached / customers, control_reached / control_customers
    l1, u1 = wilson_interval(reached, customers, confidence)
    l2, u2 = wilson_interval(control_reached, control_customers, confidence)
    d = p1 - p2
    return d, d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2), d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)


async def script_report(store: Store, script: str, goal: Goal, within: float,
                        confidence: float = 0.95, horizon: int = HORIZON, tz: str = "UTC",
                        now: float | None = None) -> ScriptReport:
    """Per variant of ``script``: customers, messages, the goal reached within ``within``
    seconds of the first message, and each variant against the control (a verdict once each
    arm has ``horizon`` customers, read from those first ``horizon``)."""
    if horizon < 1:
        raise PersonaError(f"horizon {horizon!r}: give the customers per variant a verdict waits for, e.g. 100")
    now = time.time() if now is None else now
    customers: dict[str, int] = {}
    messages: dict[str, int] = {}
    reached: dict[str, int] = {}
    arms: dict[str, list[tuple[float, bool]]] = {}  # variant -> (first message, reached): windows closed
    everyone: dict[str, list[tuple[float, bool]]] = {}  # the same with the windows still open (the timeline)
    for user in await store.users():
        lines = [json.loads(raw) for raw in await store.journal(user, JOURNAL_LINES)]
        first: dict[str, object] | None = None
        for line in lines:
            if line.get("k") != "out" or line.get("script") != script or line.get("to"):
                continue
            variant = str(line.get("variant") or DEFAULT_VARIANT)
            if first is None:
                first = line
                customers[variant] = customers.get(variant, 0) + 1
            if line.get("action") != "drop":
                messages[variant] = messages.get(variant, 0) + 1
        if first is None:
            continue
        start = float(first["t"])  # type: ignore[arg-type]
        variant = str(first.get("variant") or DEFAULT_VARIANT)
        hit = any(goal.reached_by(line) and start <= float(line["t"]) <= start + within for line in lines)
        if hit:
            reached[variant] = reached.get(variant, 0) + 1
        everyone.setdefault(variant, []).append((start, hit))
        if start + within <= now:  # a customer whose window is still open has not had their chance yet
            arms.setdefault(variant, []).append((start, hit))
    names = sorted(customers)
    figures = tuple(VariantFigures(name, customers[name], messages.get(name, 0), reached.get(name, 0),
                                   *wilson_interval(reached.get(name, 0), customers[name], confidence))
                    for name in names)
    control = DEFAULT_VARIANT if DEFAULT_VARIANT in customers else (names[0] if names else DEFAULT_VARIANT)
    comparisons = tuple(_compare(arms.get(f.variant, []), arms.get(control, []), f.variant, control, confidence, horizon)
                        for f in figures if f.variant != control)
    timeline = {name: _timeline(everyone[name], confidence, ZoneInfo(tz)) for name in names}
    return ScriptReport(script, goal, within, confidence, figures, comparisons, timeline)


def _timeline(arm: list[tuple[float, bool]], confidence: float, zone: ZoneInfo) -> tuple[Point, ...]:
    """The arm's rate so far at the end of each day a customer got their first message."""
    by_day: dict[str, list[bool]] = {}
    for start, hit in sorted(arm, key=lambda customer: customer[0]):
        by_day.setdefault(datetime.fromtimestamp(start, zone).date().isoformat(), []).append(hit)
    points: list[Point] = []
    customers = reached = 0
    for day, hits in by_day.items():  # in the order of the days
        customers, reached = customers + len(hits), reached + sum(hits)
        points.append(Point(day, customers, reached, *wilson_interval(reached, customers, confidence)))
    return tuple(points)


def _compare(arm: list[tuple[float, bool]], control_arm: list[tuple[float, bool]], variant: str, control: str,
             confidence: float, horizon: int) -> Comparison:
    n = min(len(arm), len(control_arm))
    if n >= horizon:  # the fixed horizon: the first customers of each arm, whatever came after
        arm, control_arm = _first(arm, horizon), _first(control_arm, horizon)
    interval = newcombe_interval(sum(hit for _, hit in arm), len(arm),
                                 sum(hit for _, hit in control_arm), len(control_arm), confidence)
    return Comparison(variant, control, *interval, customers=min(n, horizon), horizon=horizon)


def _first(arm: list[tuple[float, bool]], n: int) -> list[tuple[float, bool]]:
    """The ``n`` customers of an arm who got the script first (ties in the order read, never by outcome)."""
    return sorted(arm, key=lambda customer: customer[0])[:n]
