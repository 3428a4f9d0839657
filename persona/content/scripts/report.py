"""Did variant b work? Per variant of a script: who got it, and who reached a goal after.

Read from the customers' journals, where every message notes its script and variant. A
customer counts for the variant of their first message of the script (even if that variant
was stopped later and they moved on), and reached the goal when they entered the goal state
(``state:paid``) or sent the goal business event (``event:order_placed``) within the window
after that first message. Each variant is compared with the control (variant ``a``) by a
two-proportion confidence interval of the difference in rates: an interval that does not
hold 0 is a win or a loss; one that does is noise, so far.

Journals are capped (``Persona.journal_cap`` lines, 90 days): a customer whose first message
of the script has left their journal is not counted.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
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


@dataclass(frozen=True, slots=True)
class VariantFigures:
    """One variant: customers assigned, messages sent, customers who reached the goal."""

    variant: str
    customers: int
    messages: int
    reached: int
    #: the interval of ``rate`` at the report's confidence (Wilson's)
    low: float
    high: float

    @property
    def rate(self) -> float:
        return self.reached / self.customers if self.customers else 0.0


@dataclass(frozen=True, slots=True)
class Comparison:
    """``variant``'s rate minus the control's, with its confidence interval."""

    variant: str
    control: str
    difference: float
    low: float
    high: float

    @property
    def verdict(self) -> Verdict:
        if self.low > 0:
            return Verdict.BETTER
        if self.high < 0:
            return Verdict.WORSE
        return Verdict.UNCLEAR


@dataclass(frozen=True, slots=True)
class ScriptReport:
    script: str
    goal: Goal
    within: float
    confidence: float
    variants: tuple[VariantFigures, ...]
    comparisons: tuple[Comparison, ...]


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


def two_proportion_interval(reached: int, customers: int, control_reached: int, control_customers: int,
                            confidence: float = 0.95) -> tuple[float, float, float]:
    """``(difference, low, high)`` of ``reached/customers - control_reached/control_customers``
    (the normal approximation with unpooled variances)."""
    if customers == 0 or control_customers == 0:
        return 0.0, -1.0, 1.0
    p1, p2 = reached / customers, control_reached / control_customers
    spread = _z(confidence) * math.sqrt(p1 * (1 - p1) / customers + p2 * (1 - p2) / control_customers)
    return p1 - p2, p1 - p2 - spread, p1 - p2 + spread


async def script_report(store: Store, script: str, goal: Goal, within: float,
                        confidence: float = 0.95) -> ScriptReport:
    """Per variant of ``script``: customers, messages, the goal reached within ``within``
    seconds of the first message, and each variant against the control."""
    customers: dict[str, int] = {}
    messages: dict[str, int] = {}
    reached: dict[str, int] = {}
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
        if any(goal.reached_by(line) and start <= float(line["t"]) <= start + within for line in lines):
            variant = str(first.get("variant") or DEFAULT_VARIANT)
            reached[variant] = reached.get(variant, 0) + 1
    names = sorted(customers)
    figures = tuple(VariantFigures(name, customers[name], messages.get(name, 0), reached.get(name, 0),
                                   *wilson_interval(reached.get(name, 0), customers[name], confidence))
                    for name in names)
    control = DEFAULT_VARIANT if DEFAULT_VARIANT in customers else (names[0] if names else DEFAULT_VARIANT)
    comparisons = tuple(
        Comparison(f.variant, control, *two_proportion_interval(f.reached, f.customers, reached.get(control, 0),
                                                                customers.get(control, 0), confidence))
        for f in figures if f.variant != control)
    return ScriptReport(script, goal, within, confidence, figures, comparisons)
