"""``persona migrate``'s engine: a dry run or an apply over every customer of a store.

Both walk the customers in id order and ask :meth:`Runtime.amend` for each (the dry run with
``write=False``), so the dry run counts exactly what the apply will do. The apply works in
batches and records after each batch the last customer id it finished: an interrupted apply
started again skips what is done (and re-checking a migrated customer is a no-op anyway, since
each record carries its generation). When every customer is covered the store's shape is
recorded, which is what lets ``persona serve`` start without a migration list next time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

from ..engine.runtime import Runtime
from .shape import record
from ..model.migrations import Late
from ..engine.upgrade import Change

EXAMPLES = 5
DEFAULT_BATCH = 200
DEFAULT_CONCURRENCY = 16


@dataclass
class Tally:
    """How many customers something happens to, and the first few of them."""

    count: int = 0
    examples: list[str] = field(default_factory=list)

    def add(self, user: str) -> None:
        self.count += 1
        if len(self.examples) < EXAMPLES:
            self.examples.append(user)


@dataclass
class Report:
    """What a migration does to a store's customers (``persona migrate`` prints it)."""

    generation: int
    customers: int = 0
    current: int = 0  # already at the persona's generation
    resumed_after: str | None = None  # an apply that picked up where an earlier one stopped
    skipped: int = 0  # customers that earlier run had already done
    states: dict[tuple[str, str], Tally] = field(default_factory=dict)
    renamed: dict[tuple[str, str], Tally] = field(default_factory=dict)
    cancelled: dict[str, Tally] = field(default_factory=dict)
    armed: dict[str, Tally] = field(default_factory=dict)
    late_skipped: dict[str, Tally] = field(default_factory=dict)  # backfills past their moment
    late_fired: dict[str, Tally] = field(default_factory=dict)
    attrs: dict[tuple[str, str], Tally] = field(default_factory=dict)
    uncovered: dict[str, Tally] = field(default_factory=dict)

    @property
    def migrated(self) -> int:
        return sum(t.count for t in self.states.values())

    def add(self, change: Change) -> None:
        user = change.user
        if change.uncovered:
            for what in change.uncovered:
                self.uncovered.setdefault(what, Tally()).add(user)
            return
        self.states.setdefault(change.state, Tally()).add(user)
        for pair in change.renamed:
            self.renamed.setdefault(pair, Tally()).add(user)
        for name in change.cancelled:
            self.cancelled.setdefault(name, Tally()).add(user)
        for name in change.armed:
            self.armed.setdefault(name, Tally()).add(user)
        for name in change.late_skipped:
            self.late_skipped.setdefault(name, Tally()).add(user)
        for name in change.late_fired:
            self.late_fired.setdefault(name, Tally()).add(user)
        for pair in change.attrs:
            self.attrs.setdefault(pair, Tally()).add(user)


Progress = Callable[[int, int], None]


def cursor_key(generation: int) -> str:
    return f"persona:migrate:{generation}:done_through"


async def run(runtime: Runtime, *, apply: bool, batch: int = DEFAULT_BATCH,
              concurrency: int = DEFAULT_CONCURRENCY, progress: Progress | None = None,
              late: Late | None = None) -> Report:
    """Dry-run (``apply=False``) or apply the persona's migrations to every stored customer.

    ``progress(done, total)`` is called after each batch; ``late`` overrides what the migrations
    say of backfilled timers whose moment has passed.
    """
    store = runtime.store
    generation = len(type(runtime.persona).migrations)
    report = Report(generation)
    users = sorted(await store.users())  # the resume point is an id: the order must hold
    report.customers = len(users)
    key = cursor_key(generation)
    if apply and (done_through := await store.get(key)):
        report.resumed_after = done_through
        report.skipped = sum(1 for u in users if u <= done_through)
        users = [u for u in users if u > done_through]
    gate = asyncio.Semaphore(concurrency)

    async def one(user: str) -> Change | None:
        async with gate:
            return await runtime.amend(user, write=apply, late=late)

    done = report.skipped
    for start in range(0, len(users), batch):
        chunk = users[start:start + batch]
        for change in await asyncio.gather(*(one(u) for u in chunk)):
            if change is None:
                report.current += 1
            else:
                report.add(change)
        done += len(chunk)
        if apply and not report.uncovered:  # a customer left behind must be seen again next time
            await store.put(key, chunk[-1])
        if progress is not None:
            progress(done, report.customers)
    if apply:
        await store.delete(key)
        if not report.uncovered:
            await record(store, type(runtime.persona))
    return report
