"""A Clockwork persona on a fake clock (Monday 2026-11-23 09:00, Shanghai) on every store."""

from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from persona import FakeClock, Runtime
from persona.clock import parse_duration
from persona.engine.scheduler import Scheduler
from tests.timers.clockwork import Clockwork


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock("2026-11-23 09:00")


@pytest.fixture
def runtime(store, clock) -> Runtime:
    return Runtime(Clockwork(), store, clock)


@pytest.fixture
def scheduler(runtime) -> Scheduler:
    return Scheduler(runtime, batch=50, lease=60)


async def advance(scheduler: Scheduler, duration: str) -> int:
    """Move the fake clock forward, firing everything due on the way, in order."""
    clock = scheduler.runtime.clock
    return await scheduler.run_until(clock.now() + parse_duration(duration).total_seconds())


async def advance_to(scheduler: Scheduler, when: str, tz: str = "Asia/Shanghai") -> int:
    target = datetime.fromisoformat(when).replace(tzinfo=ZoneInfo(tz)).timestamp()
    return await scheduler.run_until(target)


async def journal(store, user: str) -> list[dict]:
    return [json.loads(line) for line in await store.journal(user, 1000)]


def local(epoch: float, tz: str = "Asia/Shanghai") -> str:
    return datetime.fromtimestamp(epoch, ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M %a")


async def fired(store, user: str, name: str, tz: str = "Asia/Shanghai") -> list[str]:
    """When timer ``name`` ran its handler for ``user``, as local "YYYY-MM-DD HH:MM Ddd"."""
    return [local(line["t"], tz) for line in await journal(store, user)
            if line["k"] == "in" and line.get("input") == f"timer {name}"]
