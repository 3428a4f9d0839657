"""One customer's record: state, tags, attributes, counters, timestamps and timers.

The record is serialised as compact JSON with one-letter keys and empty parts left out, so a
dormant customer costs around a hundred bytes in the store.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .. import jsonwire

if TYPE_CHECKING:
    from ..store.base import Customers


#: The segment of customers a human agent holds: the agents' queue.
HELD_SEGMENT = "handoff"


@dataclass(slots=True)
class Timer:
    """A pending timer: when it is due, the state it belongs to (cancelled on leaving it,
    ``None`` = survives state changes) and a little data for the handler."""

    due: float
    state: str | None = None
    data: dict[str, Any] | None = None

    def dump(self) -> list[Any]:
        out: list[Any] = [round(self.due, 3), self.state]
        if self.data:
            out.append(self.data)
        return out

    @classmethod
    def load(cls, raw: list[Any]) -> "Timer":
        return cls(raw[0], raw[1], raw[2] if len(raw) > 2 else None)


@dataclass(slots=True)
class Handoff:
    """A human agent holds this customer's conversation (see :mod:`persona.model.handoff`).

    ``last`` is the last message either way (the idle clock), ``waiting`` when the customer's
    oldest unanswered message arrived (None once an agent answered), ``agent`` who answered last
    (or was assigned), ``answered`` whether an agent has written yet (the first reply's wait is
    the first-response time).
    """

    since: float
    reason: str
    last: float
    waiting: float | None = None
    agent: str | None = None
    answered: bool = False

    def dump(self) -> dict[str, Any]:
        out: dict[str, Any] = {"s": int(self.since), "r": self.reason, "l": int(self.last)}
        if self.waiting is not None:
            out["w"] = int(self.waiting)
        if self.agent:
            out["a"] = self.agent
        if self.answered:
            out["n"] = 1
        return out

    @classmethod
    def load(cls, raw: dict[str, Any]) -> "Handoff":
        return cls(raw["s"], raw["r"], raw["l"], raw.get("w"), raw.get("a"), bool(raw.get("n")))


@dataclass(slots=True)
class Customer:
    """What persona knows about one customer of one bot."""

    id: str
    state: str
    tags: dict[str, str] = field(default_factory=dict)
    attrs: dict[str, Any] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=dict)
    first_seen: float = 0.0
    last_seen: float = 0.0
    last_inbound: float = 0.0
    last_outbound: float = 0.0
    timers: dict[str, Timer] = field(default_factory=dict)
    budget: dict[str, Any] = field(default_factory=dict)  # the gate's bookkeeping
    handoff: Handoff | None = None  # a human agent holds the conversation
    variants: dict[str, str] = field(default_factory=dict)  # script -> the A/B variant assigned
    version: int = 0
    generation: int = 0  # how many of the persona's migrations the record has been through
    #: every platform id this customer is known by (``id -> "mp" | "wecom"``), when linked
    ids: dict[str, str] = field(default_factory=dict)
    #: the id the current conversation came through (replies and proactive messages go there)
    current: str | None = None
    #: the platform's unionid ("" once the platform said it has none), see persona.engine.identity
    unionid: str | None = None

    # -- tags ------------------------------------------------------------------------------
    def has(self, tag: str, value: str | None = None) -> bool:
        """``has("in_group")``; ``has("source", "parcel")``."""
        if value is None:
            return tag in self.tags
        return self.tags.get(tag) == value

    @property
    def opted_out(self) -> bool:
        return "opted_out" in self.tags

    # -- ids -------------------------------------------------------------------------------
    def address(self) -> tuple[str, str | None]:
        """Where a message to this customer goes: the id of the current conversation and its
        platform (``mp`` / ``wecom``; None when the customer was never linked)."""
        current = self.current or self.id
        return current, self.ids.get(current)

    # -- serialisation ---------------------------------------------------------------------
    def dump(self) -> bytes:
        raw: dict[str, Any] = {"s": self.state}
        if self.tags:
            raw["t"] = self.tags
        if self.attrs:
            raw["a"] = self.attrs
        if self.counters:
            raw["n"] = self.counters
        for key, value in (("f", self.first_seen), ("l", self.last_seen),
                           ("i", self.last_inbound), ("o", self.last_outbound)):
            if value:
                raw[key] = int(value)
        if self.timers:
            raw["m"] = {name: timer.dump() for name, timer in self.timers.items()}
        if self.budget:
            raw["b"] = self.budget
        if self.handoff is not None:
            raw["h"] = self.handoff.dump()
        if self.variants:
            raw["v"] = self.variants
        if self.generation:
            raw["g"] = self.generation
        if self.ids:
            raw["p"] = self.ids
        if self.current:
            raw["c"] = self.current
        if self.unionid is not None:
            raw["u"] = self.unionid
        return jsonwire.dump_bytes(raw)

    @classmethod
    async def read(cls, store: "Customers", user: str) -> "Customer | None":
        """The customer as stored now (None if never seen): a snapshot, outside any turn."""
        loaded = await store.load(user)
        return cls.load(user, loaded.record, loaded.version) if loaded.record is not None else None

    @classmethod
    def load(cls, user: str, data: bytes, version: int) -> "Customer":
        raw = jsonwire.load(data)
        return cls(
            id=user,
            state=raw["s"],
            tags=raw.get("t", {}),
            attrs=raw.get("a", {}),
            counters=raw.get("n", {}),
            first_seen=raw.get("f", 0),
            last_seen=raw.get("l", 0),
            last_inbound=raw.get("i", 0),
            last_outbound=raw.get("o", 0),
            timers={name: Timer.load(t) for name, t in raw.get("m", {}).items()},
            budget=raw.get("b", {}),
            handoff=Handoff.load(raw["h"]) if "h" in raw else None,
            variants=raw.get("v", {}),
            version=version,
            generation=raw.get("g", 0),
            ids=raw.get("p", {}),
            current=raw.get("c"),
            unionid=raw.get("u"),
        )

    def segments(self, indexed_tags: frozenset[str] | None = None) -> set[str]:
        """The segment index entries this customer belongs to."""
        out = {f"state:{self.state}"}
        if self.handoff is not None:
            out.add(HELD_SEGMENT)
        for tag, value in self.tags.items():
            if indexed_tags is None or tag in indexed_tags:
                out.add(f"tag:{tag}")
                if value:
                    out.add(f"tag:{tag}={value}")
        return out
