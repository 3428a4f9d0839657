"""A test of a live bot speaks with what the store says is live, as a served bot does."""

from __future__ import annotations

from typing import AsyncIterator

import pytest

from persona import FakeClock
from persona.content.scripts import ScriptCatalog
from persona.store import open_store
from persona.store.versions import ScriptVersionStore
from persona.testing import Simulation
from tests.conftest import STORE_KINDS, drop_namespace, store_url
from tests.migrate.salon.v1 import SalonV1
from tests.scripts.lab import Lab

FILE_TEXT = "新品只要 ¥99.00，要不要看看？"


@pytest.fixture(params=STORE_KINDS)
async def url(request, tmp_path, namespace) -> AsyncIterator[str]:
    yield store_url(request.param, tmp_path)
    if request.param == "redis":
        await drop_namespace(store_url("redis", tmp_path), namespace)


# a memory store is the simulation's own: nothing can be published in it beforehand
@pytest.mark.parametrize("url", ["sqlite", "redis"], indirect=True)
async def test_a_simulation_starts_with_the_versions_published_in_its_store(url, namespace):
    store = open_store(url, namespace)
    assert isinstance(store, ScriptVersionStore)
    writer = ScriptCatalog(Lab, store, clock=FakeClock("2026-11-20 15:00").now)
    await writer.publish("pitch", "今天 {{ price|money }}，只给你。", author="amy", note="shorter")
    await store.close()

    async with Simulation(Lab, start="2026-11-23 09:00", store=url, namespace=namespace) as sim:
        [sent] = await sim.text("u1", "hi")
        assert sent.text == "今天 ¥99.00，只给你。"
        [line] = [entry for entry in await sim.journal("u1") if '"k":"out"' in entry]
        assert '"v":1' in line


async def test_a_publish_or_rollback_during_a_simulation_is_live_from_the_next_input(url, namespace):
    async with Simulation(Lab, start="2026-11-23 09:00", store=url, namespace=namespace) as sim:
        assert isinstance(sim.store, ScriptVersionStore)
        writer = ScriptCatalog(Lab, sim.store, clock=sim.clock.now)
        [before] = await sim.text("u1", "hi")
        assert before.text == FILE_TEXT

        await sim.advance("1h")
        await writer.publish("pitch", "今天 {{ price|money }}，只给你。", author="amy")
        [after] = await sim.text("u1", "again")
        assert after.text == "今天 ¥99.00，只给你。"

        await sim.advance("1h")
        await writer.rollback("pitch", to=0, author="amy")
        [back] = await sim.text("u2", "hi")
        assert back.text == FILE_TEXT


async def test_a_timer_after_a_publish_says_the_new_version(url, namespace):
    async with Simulation(SalonV1, start="2026-11-23 09:00", store=url, namespace=namespace) as sim:
        assert isinstance(sim.store, ScriptVersionStore)
        await sim.wechat("amy", "subscribe")
        await sim.text("amy", "喜欢 美甲")  # she wrote: the 48-hour window is open for the nudge
        await sim.advance("2h")
        await ScriptCatalog(SalonV1, sim.store, clock=sim.clock.now).publish(
            "nudge", "昨天见过你，今天有空来坐坐吗？", author="amy")
        [nudge] = await sim.advance("1d")
        assert (nudge.script, nudge.text) == ("nudge", "昨天见过你，今天有空来坐坐吗？")
