"""Writing many customers fast, through the store's own commit (its keys, its Lua script).

A thousand commits are made at once, so the store's group commit sends them as one pipeline:
a million customers take tens of seconds, not many minutes, and land exactly as a real turn
would write them.
"""

from __future__ import annotations

import asyncio
from typing import Iterable, Iterator

from persona.model.customer import Customer, Timer
from persona.store.base import Commit
from persona.store.redis import RedisStore

TAGS = {"source": "parcel", "product": "lipstick", "discount": "coupon", "first_price": "99",
        "spend": "mid"}


def dormant(user: str, state: str, now: float, *, timer: str = "tick", due: float | None = None,
            indexed_tags: frozenset[str] | None = frozenset()) -> Commit:
    """A customer who went quiet: a state, five tags, two timestamps and one pending timer."""
    due = now + 30 * 86400 if due is None else due
    customer = Customer(user, state, tags=dict(TAGS), first_seen=now - 86400, last_seen=now,
                        timers={timer: Timer(due)})
    return Commit(user=user, expected_version=0, record=customer.dump(), timers_set={timer: due},
                  segments_add=sorted(customer.segments(indexed_tags)))


def chunks(items: Iterable[Commit], size: int) -> Iterator[list[Commit]]:
    batch: list[Commit] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


async def bulk_commit(store: RedisStore, commits: Iterable[Commit], *, chunk: int = 1000) -> int:
    """Run ``commits`` through ``store.commit``, ``chunk`` at a time; returns how many.

    The commits of one chunk are made together, so the store's group commit sends them as
    one pipeline of commit scripts.
    """
    total = 0
    for batch in chunks(commits, chunk):
        results = await asyncio.gather(*(store.commit(c) for c in batch))
        refused = [r for r in results if not r.ok]
        if refused:
            raise RuntimeError(f"bulk commit: {len(refused)} commits refused, e.g. {refused[0]!r}")
        total += len(batch)
    return total
