"""The WeChat API misbehaving, end to end: a persona's turns commit messages, delivery meets
HTTP 5xx, "system busy" (-1), rate limits (45009), dropped connections and a full outage.

Every message a turn committed ends delivered exactly once or dead-lettered with a reason a
person can act on, and a dead letter put back after the outage is delivered: none vanish.
(The delivery loop's own unit tests are in tests/channels/test_channel_delivery.py; here the
messages come from real turns, through a Bot, on the fake clock of a Simulation.)
"""

from __future__ import annotations

import time
from collections import Counter
from typing import AsyncIterator

import pytest

from persona.engine.dead_letters import requeue
from persona.testing import Simulation
from tests.conftest import drop_namespace

BOT = "tests.scale.relay"
CUSTOMERS = 12
NUDGE = "别忘了今天的打卡。"


def welcome(i: int) -> str:
    return f"欢迎入会，积分 {i}。"


def user(i: int) -> str:
    return f"oFault{i:022d}"


@pytest.fixture(params=["memory", "sqlite", "redis"])
async def sim(request, redis_url, namespace, tmp_path) -> AsyncIterator[Simulation]:
    url = {"memory": "memory://", "sqlite": f"sqlite:///{tmp_path}/persona.db", "redis": redis_url}[request.param]
    async with Simulation(BOT, store=url, namespace=namespace) as s:
        yield s
    if request.param == "redis":
        await drop_namespace(redis_url, namespace)


async def customers_join(sim: Simulation) -> None:
    """Each customer says hi (a passive reply, a timer a second away) and joins (a welcome)."""
    for i in range(CUSTOMERS):
        await sim.text(user(i), "hi")
        await sim.event(user(i), "joined", {"points": i}, id=f"join-{i}")


def delivered(sim: Simulation) -> Counter:
    return Counter((s.to, s.text) for s in sim.api.messages)


def expected() -> Counter:
    return Counter({**{(user(i), welcome(i)): 1 for i in range(CUSTOMERS)},
                    **{(user(i), NUDGE): 1 for i in range(CUSTOMERS)}})


async def test_transient_errors_are_retried_until_every_message_is_delivered_once(sim):
    api = sim.api
    api.fail(-1, times=4)
    api.http_error(502, times=3)
    api.fail(45009, times=4)
    api.disconnect(times=2)
    api.http_error(500, times=2)
    await customers_join(sim)
    await sim.advance("15m")
    assert delivered(sim) == expected()
    assert sim.bot.deliverer.dead == {}
    assert await sim.store.dead_letters() == [] and await sim.store.outbox_size() == 0
    failures = Counter(code for path, code in api.calls if path == "/cgi-bin/message/custom/send" and code)
    assert failures == {-1: 4, 502: 3, 45009: 4, 500: 2}  # and two dropped connections
    assert sim.bot.deliverer.retried == 4 + 3 + 4 + 2 + 2


async def test_a_refusal_is_dead_lettered_with_its_reason_and_the_rest_still_arrive(sim):
    await customers_join(sim)  # the welcomes go out at once
    sim.api.fail(45015, times=1)  # the 48-hour window is closed for the first nudge sent
    await sim.advance("5m")
    [(item, reason)] = await sim.store.dead_letters()
    assert reason.startswith("errcode_45015:") and "48-hour window" in reason
    lost = (item.user, NUDGE)
    assert delivered(sim) + Counter([lost]) == expected()
    assert await sim.store.outbox_size() == 0


async def test_an_outage_longer_than_the_retries_dead_letters_everything_then_requeue_delivers(sim):
    api = sim.api
    await api.down()
    await customers_join(sim)
    await sim.advance("2h")  # eight attempts with backoff, then delivery gives up
    dead = await sim.store.dead_letters()
    assert len(dead) == 2 * CUSTOMERS and not api.messages
    assert all(reason.startswith("retries_exhausted: gave up after 8 attempts") for _, reason in dead), dead[0]
    assert await sim.store.outbox_size() == 0
    await api.up()
    for item, _ in dead:
        ok, _ = await requeue(sim.store, item.id)
        assert ok
    assert await sim.store.dead_letters() == []
    # requeued items are due at the wall clock's now (the command runs beside a live service)
    await sim.advance_to(max(sim.clock.now(), time.time()) + 60)
    assert delivered(sim) == expected()
    assert await sim.store.outbox_size() == 0


async def test_an_outage_shorter_than_the_retries_loses_nothing(sim):
    api = sim.api
    await api.down()
    await customers_join(sim)
    await sim.advance("40s")  # attempts at +0, +2, +6, +14, +30 s all fail
    assert not api.messages and sim.bot.deliverer.retried >= 2 * CUSTOMERS * 4
    await api.up()
    await sim.advance("2m")
    assert delivered(sim) == expected()
    assert await sim.store.dead_letters() == [] and await sim.store.outbox_size() == 0
