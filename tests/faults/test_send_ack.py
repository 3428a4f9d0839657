"""A store that fails between a send and its ack: the message is not sent again.

The platform took the message; the store must then forget the outbox item. When the ack fails
(Redis killed, hung, full) the item stays claimed, and once its lease runs out it is claimed
again. Delivery's sent log (the spool file) remembers the accepted send on local disk, so the
next claim finds nothing to send: the log's acks go in first.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from collections import Counter

import pytest

from persona import FakeClock, Message
from persona.wechat.channels import HttpSession, Router
from persona.clock import Clock
from persona.engine.delivery import Deliverer
from persona.errors import StoreUnavailable
from persona.fakeapi import FakeWeChat
from persona.engine.spool import Spool, SpoolError
from persona.store import open_store
from tests.channels.conftest import enqueue, env_for
from tests.faults.servers import DurableRedis

LEASE = 60.0


class AckFails:
    """A real store whose next ``times`` acks fail as an unreachable store's do."""

    def __init__(self, store, times: int) -> None:
        self._store, self.times = store, times

    def __getattr__(self, name: str):
        return getattr(self._store, name)

    async def ack_outbox(self, item) -> None:
        if self.times > 0:
            self.times -= 1
            raise StoreUnavailable("the store went away (injected)")
        await self._store.ack_outbox(item)

    async def ack_all(self, items) -> None:
        for item in items:
            await self.ack_outbox(item)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock("2026-11-23 10:00")


@pytest.fixture
async def fake(clock):
    async with FakeWeChat(clock=clock.now) as api:
        yield api


async def test_an_ack_the_store_refused_is_settled_from_the_log_and_nothing_is_sent_twice(store, fake, clock,
                                                                                          tmp_path):
    flaky = AckFails(store, times=1_000)
    spool = Spool(tmp_path / "spool.db")
    deliverer = Deliverer(flaky, Router.from_env(env_for(fake), store), clock, lease=LEASE, sent_log=spool)
    try:
        for i in range(5):
            await enqueue(store, clock, Message("text", f"订单{i}已收到"), user=f"u{i}")
        with pytest.raises(StoreUnavailable):
            await deliverer.run_once()
        sent_first = sorted(s.to for s in fake.sent)
        assert sent_first and len(spool.sent(store.namespace)) == len(sent_first)

        clock.advance(LEASE + 1)  # every claimed item is claimable again; the store still refuses
        with pytest.raises(StoreUnavailable):
            await deliverer.run_once()
        assert sorted(s.to for s in fake.sent) == sent_first  # nothing claimed while the log waits

        flaky.times = 0  # the store is back
        clock.advance(LEASE + 1)
        await deliverer.run_once()
    finally:
        await deliverer.close()
        spool.close()
    received = Counter(s.to for s in fake.sent)
    assert received == {f"u{i}": 1 for i in range(5)}
    assert deliverer.settled == len(sent_first)
    assert spool.sent(store.namespace) == [] and await store.outbox_size() == 0


async def test_acks_the_store_took_in_a_batch_that_failed_are_not_settled_again(store, fake, clock, tmp_path):
    spool = Spool(tmp_path / "spool.db")
    deliverer = Deliverer(AckFails(store, times=1), Router.from_env(env_for(fake), store), clock, sent_log=spool)
    try:
        for i in range(3):
            await enqueue(store, clock, Message("text", "欢迎"), user=f"u{i}")
        with pytest.raises(StoreUnavailable):
            await deliverer.run_once()  # one ack of three refused; the other two went in
        await deliverer.run_once()
    finally:
        await deliverer.close()
        spool.close()
    assert deliverer.settled == 1 and len(fake.sent) == 3 and await store.outbox_size() == 0


async def test_a_process_killed_between_send_and_ack_does_not_send_again_when_started_anew(store, fake, clock,
                                                                                           tmp_path):
    """The same file, a new deliverer (a restarted process): it acks what the log holds first."""
    path = tmp_path / "spool.db"
    first = Deliverer(AckFails(store, times=1), Router.from_env(env_for(fake), store), clock, sent_log=Spool(path))
    try:
        await enqueue(store, clock, Message("text", "欢迎"), user="amy")
        with pytest.raises(StoreUnavailable):
            await first.run_once()
    finally:
        await first.close()
    clock.advance(LEASE + 1)
    spool = Spool(path)
    second = Deliverer(store, Router.from_env(env_for(fake), store), clock, sent_log=spool)
    try:
        assert await second.run_once() == 0
    finally:
        await second.close()
        spool.close()
    assert [s.to for s in fake.sent] == ["amy"] and second.settled == 1
    assert await store.outbox_size() == 0


async def test_a_sibling_that_claims_an_item_another_worker_sent_acks_it_instead(store, fake, clock, tmp_path):
    """``--workers N``: worker 1 sent and could not ack; its lease runs out and worker 2 claims the
    item first. Worker 2 reads worker 1's file at the claim: it acks the item, sends nothing, and
    worker 1 has nothing left to settle."""
    first_log, second_log = Spool(tmp_path / "spool.db"), Spool(tmp_path / "spool-2.db")
    first = Deliverer(AckFails(store, times=1), Router.from_env(env_for(fake), store), clock, lease=LEASE,
                      sent_log=first_log)
    second = Deliverer(store, Router.from_env(env_for(fake), store), clock, lease=LEASE, sent_log=second_log)
    second.peers = [Spool(first_log.path)]
    try:
        await enqueue(store, clock, Message("text", "订单已收到"), user="amy")
        with pytest.raises(StoreUnavailable):
            await first.run_once()
        clock.advance(LEASE + 1)
        assert await second.run_once() == 1  # claimed, and found in the sibling's log
        assert await first.run_once() == 0
    finally:
        await first.close()
        await second.close()
        first_log.close()
        second_log.close()
    assert [s.to for s in fake.sent] == ["amy"] and await store.outbox_size() == 0
    assert (second.settled, first.settled) == (1, 0) and first_log.sent(store.namespace) == []


class ForgetFails:
    """A sent log whose deletes fail (a full disk under the spool), reads and writes working."""

    def __init__(self, spool: Spool) -> None:
        self.spool, self.deletes = spool, 0

    def __getattr__(self, name: str):
        return getattr(self.spool, name)

    def acked(self, bot, ids) -> None:
        self.deletes += 1
        raise SpoolError("cannot write to the spool (injected)")


async def test_a_log_that_cannot_forget_is_not_settled_again_on_every_poll(store, fake, clock, tmp_path, caplog):
    spool = Spool(tmp_path / "spool.db")
    sent_log = ForgetFails(spool)
    deliverer = Deliverer(AckFails(store, times=1), Router.from_env(env_for(fake), store), clock, sent_log=sent_log)
    try:
        await enqueue(store, clock, Message("text", "欢迎"), user="amy")
        with pytest.raises(StoreUnavailable):
            await deliverer.run_once()
        for _ in range(3):
            await deliverer.run_once()
    finally:
        await deliverer.close()
        spool.close()
    assert deliverer.settled == 1 and [s.to for s in fake.sent] == ["amy"]
    assert sent_log.deletes >= 4  # tried at each poll, and at close
    lines = [r.getMessage() for r in caplog.records if "cannot forget" in r.getMessage()]
    assert len(lines) == 1, lines  # said once


async def test_a_mass_message_follow_up_the_store_refused_is_followed_up_at_the_next_settle(store, fake, clock,
                                                                                             tmp_path):
    spool = Spool(tmp_path / "spool.db")
    told: list[str] = []
    refusals = [StoreUnavailable("the store went away (injected)")]

    async def on_pending(item, result) -> None:
        if refusals:
            raise refusals.pop()
        told.append(f"{item.id} {result.msgid}")

    spool.record_sent(store.namespace, [("wm:1:0", "wmAmy")], '{"api":"mass","msgid":"msg1","pending":true}')
    deliverer = Deliverer(store, Router.from_env(env_for(fake), store), clock, sent_log=spool, on_pending=on_pending)
    try:
        assert await deliverer.settle() == 1
        assert told == [] and len(spool.sent(store.namespace)) == 1  # kept for the follow-up
        assert await deliverer.settle() == 1
        assert await deliverer.settle() == 0
    finally:
        await deliverer.close()
        spool.close()
    assert told == ["wm:1:0 msg1"] and spool.sent(store.namespace) == []


async def test_without_a_sent_log_the_same_fault_sends_twice(store, fake, clock):
    """The control: the fault above is real, and the log is what stops the second copy."""
    deliverer = Deliverer(AckFails(store, times=1), Router.from_env(env_for(fake), store), clock, lease=LEASE)
    try:
        await enqueue(store, clock, Message("text", "欢迎"), user="amy")
        with pytest.raises(StoreUnavailable):
            await deliverer.run_once()
        clock.advance(LEASE + 1)
        await deliverer.run_once()
    finally:
        await deliverer.close()
    assert [s.to for s in fake.sent] == ["amy", "amy"]


async def test_without_a_sent_log_a_template_message_is_still_sent_once_by_its_client_msg_id(store, fake, clock):
    """The platform's own idempotency key covers what no local file can: the item id goes out
    as the template message's client_msg_id, and WeChat sends one message per key."""
    deliverer = Deliverer(AckFails(store, times=1), Router.from_env(env_for(fake), store), clock, lease=LEASE)
    notice = Message("text", "预约已确认", via="template", fields={"template_id": "BOOKED"}, category="service")
    try:
        await enqueue(store, clock, notice, user="amy")
        with pytest.raises(StoreUnavailable):
            await deliverer.run_once()
        clock.advance(LEASE + 1)
        await deliverer.run_once()
    finally:
        await deliverer.close()
    assert [s.to for s in fake.sent] == ["amy"] and await store.outbox_size() == 0
    assert [path for path, _ in fake.calls].count("/cgi-bin/message/template/send") == 2


async def test_a_send_the_log_cannot_record_is_still_acked_and_logged(store, fake, clock, tmp_path, caplog):
    spool = Spool(tmp_path)  # a folder where the file should be: nothing can be written
    deliverer = Deliverer(store, Router.from_env(env_for(fake), store), clock, sent_log=spool)
    try:
        await enqueue(store, clock, Message("text", "欢迎"), user="amy")
        await deliverer.run_once()
    finally:
        await deliverer.close()
    assert [s.to for s in fake.sent] == ["amy"] and await store.outbox_size() == 0
    [line] = [r.getMessage() for r in caplog.records if "cannot record the send" in r.getMessage()]
    assert "amy:1:0" in line and "sent again" in line


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server is not installed")
async def test_redis_killed_while_sends_are_in_flight_sends_each_message_once(tmp_path):
    """100 customers, each sends stalled 0.4 s at the fake API; Redis is SIGKILLed while they are
    in flight and restarted a second later. Every customer gets exactly one copy."""
    redis = DurableRedis(tmp_path)
    redis.start()
    store = open_store(redis.url, "orders")
    clock = Clock()
    spool = Spool(tmp_path / "spool.db")
    customers = [f"oOrder{i:03d}" for i in range(100)]
    async with FakeWeChat() as fake:
        router = Router.from_env(env_for(fake), store, http=HttpSession(timeout=5.0))
        deliverer = Deliverer(store, router, clock, lease=3.0, concurrency=100, sent_log=spool, idle=0.05)
        stop = asyncio.Event()
        task = None
        try:
            await router.official.tokens.get()  # fetched and cached before the fault, as in a running bot
            for user in customers:
                await enqueue(store, clock, Message("text", "谢谢你的订单"), user=user)
            fake.stall(0.4, times=len(customers), path="/cgi-bin/message/custom/send")
            task = asyncio.create_task(deliverer.run(stop))
            deadline = time.monotonic() + 10
            while not any(path == "/cgi-bin/token" or path.endswith("custom/send") for path, _ in fake.calls):
                assert time.monotonic() < deadline, "no send started"
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.1)
            redis.kill()  # the sends still stall at the API: their acks meet a dead Redis
            await asyncio.sleep(1.0)
            redis.start()
            deadline = time.monotonic() + 30
            while len(fake.sent) < len(customers) or await _outbox(store):
                assert time.monotonic() < deadline, f"{len(fake.sent)} of {len(customers)} sent"
                await asyncio.sleep(0.1)
            await asyncio.sleep(3.5)  # one more lease: a lost ack would come back now
        finally:
            stop.set()
            if task is not None:
                await asyncio.wait_for(task, 10)
            await deliverer.close()
            await store.close()
            spool.close()
            redis.close()
        received = Counter(s.to for s in fake.sent)
    assert received == {user: 1 for user in customers}
    assert deliverer.settled > 0  # the kill did land between sends and their acks


async def _outbox(store) -> int:
    try:
        return await store.outbox_size()
    except StoreUnavailable:
        return -1
