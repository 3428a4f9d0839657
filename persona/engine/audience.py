"""Who is in an audience (:mod:`persona.model.audience`), answered by the store.

The cost, from cheap to dear:

* ``state:X`` and ``tag:X`` / ``tag:X=V`` (on an indexed tag) are answered by the store's
  segment index: one ``segment()`` call each, no record read. AND, OR and NOT over such leaves
  are set operations on those answers (NOT and ``all`` also read the list of every customer).
* Every other leaf (attributes, ``<`` / ``>``, ``within``, the record's timestamps) needs the
  customer record: the index narrows the candidates first wherever it can (``tag:vip AND
  attr:spend > 500`` reads only the records of ``tag:vip``), then each candidate's record is
  loaded, :data:`CONCURRENCY` at a time, and the whole tree is evaluated on it. An audience
  with nothing the index answers reads every record.

The result is sorted, so a campaign run again walks its customers in the same order.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from ..model.audience import And, Kind, Leaf, Node, Not, Op, Or, leaves, matches
from ..model.customer import Customer
from ..store.base import Customers

#: records loaded at once when the index cannot answer alone
CONCURRENCY = 64


@dataclass(frozen=True, slots=True)
class Plan:
    """How an audience will be answered: which leaves the index takes, and whether records are read."""

    indexed: tuple[str, ...]
    reads_records: bool
    reads_everyone: bool


def indexed(leaf: Leaf) -> str | None:
    """The segment index entry that answers ``leaf`` exactly, if there is one."""
    if leaf.kind is Kind.STATE:
        return f"state:{leaf.name}"
    if leaf.kind is Kind.TAG and leaf.op is Op.HAS:
        return f"tag:{leaf.name}"
    if leaf.kind is Kind.TAG and leaf.op is Op.EQ and leaf.value:
        return f"tag:{leaf.name}={leaf.value}"
    return None


def _exact(node: Node) -> bool:
    if isinstance(node, Leaf):
        if node.kind is Kind.TAG and node.op is Op.NE and node.value:
            return True  # NOT tag:X=V
        return node.kind is Kind.ALL or indexed(node) is not None
    if isinstance(node, Not):
        return _exact(node.part)
    return all(_exact(p) for p in node.parts)


def plan(node: Node) -> Plan:
    names = tuple(dict.fromkeys(n for leaf in leaves(node) if (n := indexed(leaf) or _ne_entry(leaf))))
    exact = _exact(node)
    return Plan(names, not exact, _needs_everyone(node) if exact else _candidates_unbounded(node))


def _ne_entry(leaf: Leaf) -> str | None:
    return f"tag:{leaf.name}={leaf.value}" if leaf.kind is Kind.TAG and leaf.op is Op.NE and leaf.value else None


def _needs_everyone(node: Node) -> bool:
    if isinstance(node, Leaf):
        return node.kind is Kind.ALL or node.op is Op.NE
    if isinstance(node, Not):
        return True
    return any(_needs_everyone(p) for p in node.parts)


def _candidates_unbounded(node: Node) -> bool:
    if _exact(node):
        return False
    if isinstance(node, Leaf):
        return indexed(node) is None
    if isinstance(node, Not):
        return True
    if isinstance(node, And):
        return all(_candidates_unbounded(p) for p in node.parts)
    return any(_candidates_unbounded(p) for p in node.parts)


class Selector:
    """Answers audiences on one store; ``everyone`` and index answers are read once per selection."""

    def __init__(self, store: Customers, now: float, tz: str) -> None:
        self.store, self.now, self.tz = store, now, tz
        self._everyone: set[str] | None = None
        self._segments: dict[str, set[str]] = {}

    async def everyone(self) -> set[str]:
        if self._everyone is None:
            self._everyone = set(await self.store.users())
        return self._everyone

    async def segment(self, name: str) -> set[str]:
        if name not in self._segments:
            self._segments[name] = await self.store.segment(name)
        return self._segments[name]

    async def select(self, node: Node) -> list[str]:
        """The customers in ``node`` now, sorted."""
        if _exact(node):
            return sorted(await self._exactly(node))
        pool = await self._candidates(node)
        found = await self.matching(node, sorted(pool if pool is not None else await self.everyone()))
        return [c.id for c in found]

    async def matching(self, node: Node, users: list[str]) -> list[Customer]:
        """The records of ``users`` that are in ``node``, in the order given."""
        loaded: list[Customer | None] = [None] * len(users)
        walk = iter(enumerate(users))

        async def reader() -> None:
            for i, user in walk:
                customer = await Customer.read(self.store, user)
                if customer is not None and matches(node, customer, self.now, self.tz):
                    loaded[i] = customer

        await asyncio.gather(*(reader() for _ in range(max(1, min(CONCURRENCY, len(users))))))
        return [c for c in loaded if c is not None]

    async def _exactly(self, node: Node) -> set[str]:
        if isinstance(node, Leaf):
            if node.kind is Kind.ALL:
                return set(await self.everyone())
            entry = indexed(node)
            if entry is not None:
                return set(await self.segment(entry))
            return await self.everyone() - await self.segment(f"tag:{node.name}={node.value}")  # tag !=
        if isinstance(node, Not):
            return await self.everyone() - await self._exactly(node.part)
        sets = [await self._exactly(p) for p in node.parts]
        return set.intersection(*sets) if isinstance(node, And) else set.union(*sets)

    async def _candidates(self, node: Node) -> set[str] | None:
        """A superset of ``node``'s customers from the index, or None (it cannot narrow them)."""
        if _exact(node):
            return await self._exactly(node)
        if isinstance(node, (Leaf, Not)):
            return None
        found = [await self._candidates(p) for p in node.parts]
        if isinstance(node, Or):
            return None if any(f is None for f in found) else set.union(*[f for f in found if f is not None])
        narrowed = [f for f in found if f is not None]
        return set.intersection(*narrowed) if narrowed else None


async def select(store: Customers, node: Node, now: float, tz: str) -> list[str]:
    """The customers of ``store`` in ``node`` at ``now``, sorted (see the module for the cost)."""
    return await Selector(store, now, tz).select(node)
