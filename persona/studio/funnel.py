"""The funnel: how many customers are in each state now, and who moved where over a window.

Counts now come from the segment index (one query per state). Movements come from the
customers' journals (each keeps its last ``journal_cap`` lines for 90 days), so a window longer
than that, or a customer with a very busy journal, undercounts; the page says so.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field

from ..model.persona import Persona
from ..store import Store


@dataclass(frozen=True, slots=True)
class Step:
    source: str
    dest: str
    customers: int     # distinct customers who made this move in the window
    rate: float        # of the customers who were in ``source`` during the window


@dataclass
class Funnel:
    now: dict[str, int]                       # state -> customers in it now
    entered: dict[str, int]                   # state -> customers who entered it in the window
    steps: list[Step] = field(default_factory=list)
    total: int = 0


async def funnel(store: Store, persona: type[Persona], since: float, *, concurrency: int = 16) -> Funnel:
    """Counts for ``persona`` from ``since`` (epoch seconds) until now."""
    now = {s: len(await store.segment(f"state:{s}")) for s in persona.states}
    moves: dict[tuple[str, str], set[str]] = {}
    entered: dict[str, set[str]] = {s: set() for s in persona.states}
    was_in: dict[str, set[str]] = {s: set() for s in persona.states}
    users = await store.users()
    gate = asyncio.Semaphore(concurrency)

    async def scan(user: str) -> None:
        async with gate:
            lines = await store.journal(user, persona.journal_cap)
        for raw in lines:
            try:
                entry = json.loads(raw)
            except ValueError:
                continue
            if not isinstance(entry, dict) or entry.get("k") != "transition" or entry.get("t", 0) < since:
                continue
            source, dest = str(entry.get("from")), str(entry.get("to"))
            if source == dest:
                continue
            moves.setdefault((source, dest), set()).add(user)
            entered.setdefault(dest, set()).add(user)
            was_in.setdefault(source, set()).add(user)
            was_in.setdefault(dest, set()).add(user)

    await asyncio.gather(*(scan(u) for u in users))
    for state in persona.states:
        was_in[state] |= await store.segment(f"state:{state}")
    order = {s: i for i, s in enumerate(persona.states)}
    steps = [Step(a, b, len(who), len(who) / max(len(was_in.get(a, ())), 1))
             for (a, b), who in sorted(moves.items(), key=lambda kv: (order.get(kv[0][0], 99), order.get(kv[0][1], 99)))]
    return Funnel(now, {s: len(who) for s, who in entered.items()}, steps, len(users))
