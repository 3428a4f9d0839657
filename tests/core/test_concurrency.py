"""No lost and no doubled update: many tasks in one process, and two OS processes on Redis."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from persona import BusinessEvent, FakeClock, Runtime, TextMessage
from persona.store import open_store
from tests.conftest import drop_namespace
from tests.core.shop import Shop

ROOT = Path(__file__).resolve().parents[2]


async def totals(runtime: Runtime, users: list[str]) -> tuple[int, int]:
    chats = orders = 0
    for user in users:
        c = await runtime.customer(user)
        if c:
            chats += c.counters.get("chats", 0)
            orders += c.counters.get("orders", 0)
    return chats, orders


async def test_many_tasks_on_one_customer_lose_nothing(store):
    runtime = Runtime(Shop(), store, FakeClock("2026-11-23 10:00"))
    inputs = [TextMessage(user="a", dedupe_key=f"m:{i}", text="hi") for i in range(40)]
    await asyncio.gather(*(runtime.handle(i) for i in inputs + inputs))
    assert (await runtime.customer("a")).counters["chats"] == 40
    assert (await store.load("a")).version == 40


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(plan=st.lists(st.tuples(st.integers(0, 3), st.booleans(), st.integers(0, 2)), min_size=1, max_size=30))
def test_any_interleaving_counts_each_input_exactly_once(tmp_path_factory, plan):
    """Random inputs, random duplicates, all at once, on a SQLite file: the counters add up."""

    async def run() -> None:
        path = tmp_path_factory.mktemp("h")
        store = open_store(f"sqlite:///{path}/p.db", "h")
        runtime = Runtime(Shop(), store, FakeClock("2026-11-23 10:00"))
        jobs = []
        for n, (user, is_order, copies) in enumerate(plan):
            inp = (BusinessEvent(user=f"u{user}", dedupe_key=f"o{n}", name="order_placed", data={"amount": 1})
                   if is_order else TextMessage(user=f"u{user}", dedupe_key=f"m:{n}", text="hi"))
            jobs += [runtime.handle(inp) for _ in range(copies + 1)]
        await asyncio.gather(*jobs)
        chats, orders = await totals(runtime, [f"u{i}" for i in range(4)])
        assert chats == sum(1 for _, o, _ in plan if not o)
        assert orders == sum(1 for _, o, _ in plan if o)
        await store.close()

    asyncio.run(run())


async def test_two_processes_on_redis_lose_no_update(redis_url, namespace):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    count = 60
    procs = [subprocess.Popen([sys.executable, "-m", "tests.core.concurrent_client", redis_url, namespace,
                               tag, str(count)], cwd=ROOT, env=env) for tag in ("p", "q")]
    try:
        assert [p.wait(timeout=120) for p in procs] == [0, 0]
        store = open_store(redis_url, namespace)
        runtime = Runtime(Shop(), store, FakeClock("2026-11-23 10:00"))
        chats, orders = await totals(runtime, [f"u{i}" for i in range(5)])
        assert (chats, orders) == (count, count)  # each process: half texts, half orders
        versions = sum([(await store.load(f"u{i}")).version for i in range(5)])
        assert versions == 2 * count
        await store.close()
    finally:
        for p in procs:
            p.kill()
        await drop_namespace(redis_url, namespace)
