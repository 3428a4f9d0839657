"""质检: the desk's figures, per bot and per agent, kept as tallies the commits move.

A turn's journal notes say what the desk did (``handoff``, ``agent``, ``agent_blocked``,
``handback``); the same commit adds them, per local day, to the store's tallies
(:func:`moves`), so the figures need no scan, hold for any number of processes and survive a
restart. :func:`figures` reads them back for a window of days: handoffs by reason, handbacks by
why, and per agent the replies, the conversations handled (given back while they held them),
the first-response time (the wait before an agent's first reply to a handoff), the average
wait of every reply, and the messages 风控 blocked or flagged. The handoff rate is handoffs per
new customer (customers who entered the initial state) in the same window.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from ..store.base import Store
from . import census

DESK = "desk:"
#: handovers each agent took from the duty list, per day: ``<ROTATION><day>:<agent>``
ROTATION = f"{DESK}rotation:"


def moves(notes: Iterable[Mapping[str, Any]], now: float, tz: str) -> dict[str, int]:
    """The desk tallies one committed turn moves."""
    out: Counter[str] = Counter()
    day = census.day_of(now, tz)
    for note in notes:
        kind = note.get("k")
        if kind == "handoff":
            out[f"{DESK}handoff:{note['reason']}:{day}"] += 1
            if note.get("rotated"):  # the duty list's round-robin (persona.engine.handover)
                out[f"{ROTATION}{day}:{note['assigned']}"] += 1
        elif kind == "handback":
            out[f"{DESK}handback:{note['why']}:{day}"] += 1
            if note.get("holder"):
                out[f"{DESK}agent:{note['holder']}:handled:{day}"] += 1
        elif kind == "agent":
            agent = note["agent"]
            out[f"{DESK}agent:{agent}:reply:{day}"] += 1
            if note.get("wait") is not None:
                out[f"{DESK}agent:{agent}:wait:{day}"] += int(note["wait"])
                out[f"{DESK}agent:{agent}:waited:{day}"] += 1
                if note.get("first"):
                    out[f"{DESK}agent:{agent}:first_wait:{day}"] += int(note["wait"])
                    out[f"{DESK}agent:{agent}:firsts:{day}"] += 1
            if note.get("flagged"):
                out[f"{DESK}agent:{agent}:flagged:{day}"] += 1
        elif kind == "agent_blocked":
            out[f"{DESK}agent:{note['agent']}:blocked:{day}"] += 1
    return dict(out)


@dataclass(frozen=True, slots=True)
class AgentFigures:
    agent: str
    replies: int = 0
    handled: int = 0
    first_response: float | None = None  # seconds, on average
    response: float | None = None  # seconds, on average over every reply
    blocked: int = 0
    flagged: int = 0


@dataclass(frozen=True)
class DeskFigures:
    """The desk over a window of days (``since``: YYYYMMDD, inclusive; None: all)."""

    since: str | None
    handoffs: dict[str, int] = field(default_factory=dict)  # by reason
    handbacks: dict[str, int] = field(default_factory=dict)  # by why
    agents: tuple[AgentFigures, ...] = ()
    new_customers: int = 0
    by_day: dict[str, int] = field(default_factory=dict)  # handoffs per day

    @property
    def handoff_rate(self) -> float | None:
        """Handoffs per new customer in the window (None: no new customer)."""
        return sum(self.handoffs.values()) / self.new_customers if self.new_customers else None

    def to_dict(self) -> dict[str, Any]:
        return {"since": self.since, "handoffs": self.handoffs, "handbacks": self.handbacks,
                "new_customers": self.new_customers, "handoff_rate": self.handoff_rate, "by_day": self.by_day,
                "agents": [vars_of(a) for a in self.agents]}


def vars_of(figures: AgentFigures) -> dict[str, Any]:
    return {name: getattr(figures, name) for name in AgentFigures.__slots__}


async def figures(store: Store, initial: str, since: str | None = None) -> DeskFigures:
    """The desk's figures from the tallies (one read), for days from ``since`` on."""
    handoffs: Counter[str] = Counter()
    handbacks: Counter[str] = Counter()
    by_day: Counter[str] = Counter()
    per_agent: dict[str, Counter[str]] = {}
    for name, value in (await store.tallies(DESK)).items():
        head, _, day = name[len(DESK):].rpartition(":")
        if since is not None and day < since:
            continue
        kind, _, rest = head.partition(":")
        if kind == "handoff":
            handoffs[rest] += value
            by_day[day] += value
        elif kind == "handback":
            handbacks[rest] += value
        elif kind == "agent":
            agent, _, what = rest.rpartition(":")
            per_agent.setdefault(agent, Counter())[what] += value
    entered = sum(n for name, n in (await store.tallies(f"{census.ENTERED}{initial}:")).items()
                  if since is None or name.rsplit(":", 1)[-1] >= since)
    agents = tuple(AgentFigures(agent, counts["reply"], counts["handled"], _mean(counts["first_wait"], counts["firsts"]),
                                _mean(counts["wait"], counts["waited"]), counts["blocked"], counts["flagged"])
                   for agent, counts in sorted(per_agent.items()))
    return DeskFigures(since, dict(handoffs), dict(handbacks), agents, entered, dict(sorted(by_day.items())))


def _mean(total: int, n: int) -> float | None:
    return total / n if n else None
