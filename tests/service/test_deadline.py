"""The deadline: one reply in time rides in the answer; otherwise the answer is ``success``
and delivery sends everything. Never both, never neither."""

from __future__ import annotations

import asyncio
import time

import pytest

from persona.store.memory import MemoryStore
from tests.service.conftest import CUSTOMER, customer, environ, outbox, plain, reply_fields, text_xml
from tests.service.desk import Desk

HELLO = "你好呀，有什么可以帮你？"


@pytest.fixture
def slow_desk():
    Desk.slow_seconds = 0.5
    yield Desk
    Desk.slow_seconds = 0.6


async def until(predicate, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not await predicate():
        assert time.monotonic() < deadline, "timed out waiting"
        await asyncio.sleep(0.02)


async def post(client, query, body):
    resp = await client.post("/wechat/desk", params=query, data=body)
    return resp.status, await resp.text()


async def test_a_slow_turn_is_answered_success_and_its_reply_queued(make_bot, serve, slow_desk):
    bot = make_bot()
    client = await serve([bot], deadline=0.1)
    started = time.monotonic()
    assert await post(client, *plain(text_xml("slow"))) == (200, "success")
    assert time.monotonic() - started < 0.45
    await until(lambda: _counter(bot, "slow"))
    [item] = await outbox(bot)
    assert item["message"]["text"] == HELLO


async def test_a_turn_that_claimed_the_reply_is_waited_for(make_bot, serve):
    class SlowCommit(MemoryStore):
        async def commit(self, commit):
            await asyncio.sleep(0.3)  # the reply was claimed just before this
            return await super().commit(commit)

    bot = make_bot()
    bot.store = bot.runtime.store = SlowCommit("memory://", "slowcommit")
    client = await serve([bot], deadline=0.1)
    started = time.monotonic()
    status, body = await post(client, *plain(text_xml("hi")))
    assert status == 200 and reply_fields(body)["Content"] == HELLO
    assert time.monotonic() - started >= 0.3
    assert await outbox(bot) == []


async def test_a_retry_while_the_first_attempt_still_runs_moves_nothing_twice(make_bot, serve, slow_desk):
    bot = make_bot()
    client = await serve([bot], deadline=0.1)
    xml = text_xml("slow", msg_id="424242")
    first = asyncio.create_task(post(client, *plain(xml, nonce="1")))
    await asyncio.sleep(0.15)  # WeChat retries while the turn is still thinking
    second = await post(client, *plain(xml, nonce="2"))
    assert await first == (200, "success") and second == (200, "success")
    await until(lambda: _counter(bot, "slow"))
    await asyncio.sleep(0.6)  # the retry's own attempt finishes and is thrown away
    assert (await customer(bot)).counters == {"slow": 1}
    assert len(await outbox(bot)) == 1


async def test_the_deferred_reply_reaches_the_customer_through_the_send_api(make_bot, serve, slow_desk):
    pytest.importorskip("persona.engine.delivery")
    from persona.fakeapi import FakeWeChat

    async with FakeWeChat(appid="wx2c2769f8efd9abc2", secret="appsecret") as fake:
        bot = make_bot(environ(WECHAT_API_BASE=fake.base_url))
        client = await serve([bot], deadline=0.1, run_bots=True)
        assert await post(client, *plain(text_xml("slow"))) == (200, "success")

        async def delivered() -> bool:
            return bool(fake.messages(to=CUSTOMER))

        await until(delivered)
        await asyncio.sleep(0.3)
        assert [m.text for m in fake.messages(to=CUSTOMER)] == [HELLO]  # once, not twice


async def test_a_fast_reply_is_never_also_sent(make_bot, serve):
    pytest.importorskip("persona.engine.delivery")
    from persona.fakeapi import FakeWeChat

    async with FakeWeChat(appid="wx2c2769f8efd9abc2", secret="appsecret") as fake:
        bot = make_bot(environ(WECHAT_API_BASE=fake.base_url))
        client = await serve([bot], run_bots=True)
        status, body = await post(client, *plain(text_xml("hi")))
        assert reply_fields(body)["Content"] == HELLO
        await asyncio.sleep(0.5)
        assert fake.messages(to=CUSTOMER) == []


async def _counter(bot, name: str) -> bool:
    found = await customer(bot)
    return bool(found and found.counters.get(name))


async def test_a_claimed_reply_the_callback_cannot_carry_goes_to_delivery_once(make_bot, serve):
    bot = make_bot()
    client = await serve([bot])
    xml = text_xml("picture", msg_id="5151")
    for nonce in ("1", "2"):  # the retry is answered the same and queues nothing more
        assert await post(client, *plain(xml, nonce=nonce)) == (200, "success")
    [item] = await outbox(bot)
    assert item["message"]["kind"] == "image" and item["user"] == CUSTOMER
