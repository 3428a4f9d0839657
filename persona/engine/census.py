"""How many customers are in each state, and how many entered each state on each day.

The numbers are tallies (``persona.store.tallies``) moved by the commit that moves the
customer, so ``persona_customers{state}`` and the funnel need no scan and stay right with any
number of processes. A customer created counts as entering the initial state; a transition
counts as leaving one state and entering another; a migration moves the customer between
states without counting an entry (nobody *entered* a renamed state).
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from functools import lru_cache

from ..model.customer import Customer
from ..store.base import Store
from ..model.timers import zone

STATE = "state:"
ENTERED = "entered:"


def day_of(epoch: float, tz: str) -> str:
    """The day an entry is counted under: ``YYYYMMDD`` in the persona's time zone."""
    return _day(int(epoch // 60), tz)


@lru_cache(maxsize=1024)
def _day(minute: int, tz: str) -> str:
    # a local midnight always falls on a minute boundary, so every second of a minute shares
    # its day: one calendar computation per minute instead of one per transition
    return datetime.fromtimestamp(minute * 60, zone(tz)).strftime("%Y%m%d")


def moves(before: str | None, after: str, entered: list[str], now: float, tz: str) -> dict[str, int]:
    """The tallies a commit moves when a customer goes from ``before`` (None: new) to ``after``,
    entering the states ``entered`` on the way (a new customer enters the initial state first)."""
    out: dict[str, int] = {}
    if before != after:
        out[STATE + after] = 1
        if before is not None:
            out[STATE + before] = -1
    day = day_of(now, tz) if entered else ""
    for state in entered:
        key = f"{ENTERED}{state}:{day}"
        out[key] = out.get(key, 0) + 1
    return out


async def per_state(store: Store) -> dict[str, int]:
    """Customers per state, from the tallies (states nobody is in are left out)."""
    return {name[len(STATE):]: n for name, n in (await store.tallies(STATE)).items() if n}


async def scan(store: Store, *, concurrency: int = 64) -> dict[str, int]:
    """Customers per state by reading every record: slow, for checks and a first recount."""
    counts: dict[str, int] = {}
    users = await store.users()
    for start in range(0, len(users), concurrency):
        batch = users[start:start + concurrency]
        for user, loaded in zip(batch, await asyncio.gather(*(store.load(u) for u in batch))):
            if loaded.record is not None:
                state = Customer.load(user, loaded.record, loaded.version).state
                counts[state] = counts.get(state, 0) + 1
    return counts


async def recount(store: Store) -> dict[str, int]:
    """Set the per-state tallies from a full scan (a store written before they were kept)."""
    counts = await scan(store)
    await store.reset_tallies(STATE, {STATE + state: n for state, n in counts.items()})
    return counts
