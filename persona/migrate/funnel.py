"""The funnel: how many customers entered each of a persona's states, in the persona's order.

Read from the per-day entry tallies the commits keep (``persona.engine.census``), so it costs one
read however many customers there are, and it covers all of them (the journal keeps only each
customer's recent lines). Entries under a state's old name count under the name a migration
gave it. A customer who enters a state twice counts twice: it is a count of entries.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..engine import census
from ..model.migrations import follow
from ..store.base import Store

if TYPE_CHECKING:
    from ..model.persona import Persona


@dataclass(frozen=True)
class Step:
    """One state of the funnel."""

    state: str
    entered: int  # entries into the state within the window
    now: int  # customers in the state now
    conversion: float | None  # entered / the previous state's entered (None: first, or nobody)


def current_name(persona: type["Persona"], state: str) -> str:
    """The name an old state has in the persona today (itself when it was never renamed)."""
    if state in persona.states:
        return state
    return follow(persona.migrations, "states", state) or state


async def funnel(persona: type["Persona"], store: Store, *, since: float | None = None,
                 now: float | None = None) -> list[Step]:
    """The funnel over the last ``since`` seconds (None: everything counted), as of ``now``."""
    now = time.time() if now is None else now
    first_day = census.day_of(now - since, persona.timezone) if since is not None else ""
    entered: dict[str, int] = {}
    for name, count in (await store.tallies(census.ENTERED)).items():
        state, _, day = name[len(census.ENTERED):].rpartition(":")
        if day >= first_day:
            key = current_name(persona, state)
            entered[key] = entered.get(key, 0) + count
    current: dict[str, int] = {}
    for state, count in (await census.per_state(store)).items():
        key = current_name(persona, state)
        current[key] = current.get(key, 0) + count
    steps: list[Step] = []
    previous: int | None = None
    for state in persona.states:
        n = entered.get(state, 0)
        steps.append(Step(state, n, current.get(state, 0), n / previous if previous else None))
        previous = n
    return steps
