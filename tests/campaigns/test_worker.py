"""``persona worker`` runs due campaigns beside the timers: the clock's work, shared by lease
with every serve and worker on the store."""

from __future__ import annotations

import asyncio

import pytest

from persona import FakeClock
from persona.engine.campaigns import Book, Status
from persona.store import open_store
from persona.testing import Simulation
from persona.worker import run_worker
from tests.campaigns.conftest import BOT, START, seed
from tests.campaigns.test_campaigns import at, flash
from tests.conftest import drop_namespace, store_url


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
async def test_a_worker_runs_a_campaign_once_its_time_has_come(kind, tmp_path, namespace):
    url = store_url(kind, tmp_path)
    async with Simulation(BOT, start=START, store=url, namespace=namespace) as sim:
        await seed(sim)
        await Book(sim.store).create(flash("c1", at("2026-11-24 14:00")))
    committed: list = []
    stop = asyncio.Event()
    task = asyncio.create_task(run_worker(BOT, url, stop=stop, clock=FakeClock("2026-11-24 14:01"),
                                          namespace=namespace, idle=0.01, on_commit=committed.append,
                                          handle_signals=False))
    store = open_store(url, namespace)
    book = Book(store)
    try:
        for _ in range(500):
            if await book.status("c1") is Status.DONE:
                break
            await asyncio.sleep(0.02)
        stop.set()
        await asyncio.wait_for(task, 10)
        progress = await book.progress("c1")
        assert progress.status is Status.DONE and progress.tally.sent == 3
        reached = {item.user for batch in committed for item in batch if "flash_sale" in item.payload}
        assert reached == {"wm_amy", "wm_cat", "wm_dee"}  # the outbox has them; serve delivers
    finally:
        await store.close()
        if kind == "redis":
            await drop_namespace(url, namespace)
