"""Customers in flight on version 1 of the salon bot, in a real store, ready to be migrated."""

from __future__ import annotations

import random
from dataclasses import dataclass

import pytest

from persona import BusinessEvent, FakeClock, PlatformEvent, Runtime, TextMessage
from persona.model.customer import Customer
from persona.engine.scheduler import Scheduler
from persona.store import Store
from tests.migrate.salon.v1 import SalonV1
from tests.migrate.salon.v2 import SalonV2


@dataclass
class Fleet:
    store: Store
    clock: FakeClock
    users: list[str]

    def v2(self) -> Runtime:
        return Runtime(SalonV2(), self.store, self.clock)

    async def records(self) -> dict[str, Customer]:
        out = {}
        for user in self.users:
            loaded = await self.store.load(user)
            out[user] = Customer.load(user, loaded.record, loaded.version)
        return out


async def populate(store: Store, clock: FakeClock, n: int = 40, seed: int = 7) -> list[str]:
    """``n`` customers who subscribed every 6 hours over the last days; some said what they
    like, some became members; the v1 scheduler fired whatever came due on the way."""
    rng = random.Random(seed)
    v1 = Runtime(SalonV1(), store, clock)
    scheduler = Scheduler(v1)
    users = [f"c{i:03d}" for i in range(n)]
    for i, user in enumerate(users):
        clock.advance(6 * 3600)
        await scheduler.run_once()
        await v1.handle(PlatformEvent(user=user, dedupe_key=f"e:{i}", name="subscribe"))
        if rng.random() < 0.5:
            await v1.handle(TextMessage(user=user, dedupe_key=f"m:{i}", text=f"喜欢 {rng.choice(['修眉', '美甲'])}"))
        if rng.random() < 0.3:
            await v1.handle(BusinessEvent(user=user, dedupe_key=f"b:{i}", name="joined"))
    clock.advance(3600)
    await scheduler.run_once()
    return users


@pytest.fixture
async def fleet(store) -> Fleet:
    clock = FakeClock("2026-11-01 09:00")
    users = await populate(store, clock)
    return Fleet(store, clock, users)
