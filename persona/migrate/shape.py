"""The shape a store's customers are in, and whether a persona may run on it.

The store keeps the persona's shape (states, timers, generation) as of the last time every
customer was known to fit it: written on the first start, and again when ``persona migrate
--apply`` has moved everyone. ``persona serve`` and ``persona worker`` compare it with the
persona they are about to run: a state or timer that disappeared, with customers still in it
and no migration saying where they go, would leave those customers stuck (or their timers
silently skipped), so the process refuses to start and says what is uncovered.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from ..engine import census
from ..model.customer import Customer
from ..errors import ShapeError
from ..store.base import Store
from ..model.migrations import follow

if TYPE_CHECKING:
    from ..model.persona import Persona

log = logging.getLogger(__name__)

KEY = "persona:shape"


@dataclass(frozen=True)
class Shape:
    states: tuple[str, ...]
    timers: tuple[str, ...]
    generation: int

    @classmethod
    def of(cls, persona: type["Persona"]) -> "Shape":
        return cls(tuple(persona.states), tuple(sorted(persona.routes.timer)), len(persona.migrations))

    def dumps(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)

    @classmethod
    def loads(cls, raw: str) -> "Shape":
        data = json.loads(raw)
        return cls(tuple(data["states"]), tuple(data["timers"]), int(data.get("generation", 0)))


@dataclass(frozen=True)
class Uncovered:
    """A state or timer of the stored shape the persona lost, with nothing saying where it went."""

    kind: str  # "state" | "timer"
    name: str
    count: int  # customers in the state / pending timers of that name

    def __str__(self) -> str:
        what = "customer" if self.kind == "state" else "pending timer"
        return f"{self.kind} {self.name!r} with {self.count} {what}{'' if self.count == 1 else 's'}"


async def recorded(store: Store) -> Shape | None:
    raw = await store.get(KEY)
    return Shape.loads(raw) if raw else None


async def record(store: Store, persona: type["Persona"]) -> None:
    await store.put(KEY, Shape.of(persona).dumps())


async def uncovered(persona: type["Persona"], store: Store, stored: Shape) -> list[Uncovered]:
    """What of ``stored`` the persona dropped without a migration, and how many it strands."""
    steps = list(persona.migrations)[stored.generation:]
    states = [s for s in stored.states if s not in persona.states and follow(steps, "states", s) not in persona.states]
    timers = []
    for name in stored.timers:
        moved = follow(steps, "timers", name)
        if name not in persona.routes.timer and moved is not None and moved not in persona.routes.timer:
            timers.append(name)
    found: list[Uncovered] = []
    if states:
        # a store written before customers per state were counted has no tallies: read them
        counts = await census.per_state(store) or await census.scan(store)
        found += [Uncovered("state", s, counts.get(s, 0)) for s in states]
    if timers:
        pending = await timer_counts(store, set(timers))
        found += [Uncovered("timer", t, pending.get(t, 0)) for t in timers]
    return [u for u in found if u.count]


async def timer_counts(store: Store, names: set[str]) -> dict[str, int]:
    """Pending timers per name, by reading every record (only when a check found a gap)."""
    counts: dict[str, int] = {}
    for user in await store.users():
        loaded = await store.load(user)
        if loaded.record is None:
            continue
        for name in Customer.load(user, loaded.record, loaded.version).timers:
            if name in names:
                counts[name] = counts.get(name, 0) + 1
    return counts


async def ensure_compatible(persona: type["Persona"], store: Store) -> None:
    """Raise :class:`ShapeError` when customers in the store would be stranded by ``persona``.

    The first time a store meets this check the shape is recorded. A store written before
    customers per state were counted gets a log line saying how to count them once (``persona
    funnel --recount``): reading every record here would hold up the start of a big bot.
    """
    stored = await recorded(store)
    current = Shape.of(persona)
    if stored is None:
        if not await store.tallies(census.STATE) and await store.users():
            log.warning("persona=%s: customers per state are not counted in this store yet; run "
                        "`persona funnel BOT --store URL --recount` once", persona.name)
        await record(store, persona)
        return
    if stored == current:
        return
    gaps = await uncovered(persona, store, stored)
    if gaps:
        raise ShapeError(
            f"{persona.__name__} no longer has " + "; ".join(map(str, gaps)) + ". Add a Migration(...) to "
            f"{persona.__name__}.migrations saying where they go (states={{old: new}}, timers={{old: new or "
            "None}}), or deploy the previous version; `persona migrate BOT --dry-run` shows the plan")
    if stored.generation == current.generation:  # no record is behind: the new shape is theirs
        await record(store, persona)
