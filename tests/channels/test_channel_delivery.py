"""The delivery loop against the fake: every item ends delivered, retried or dead-lettered with a
reason, and every outcome is counted."""

from __future__ import annotations

import asyncio

import pytest

from persona import FakeClock, Message
from persona.wechat.channels import HttpSession, Router
from persona.engine.delivery import Deliverer
from persona.metrics import Metrics
from tests.channels.conftest import enqueue, env_for


async def test_a_committed_message_is_sent_and_acked(deliverer, fake, memstore, clock):
    await enqueue(memstore, clock, Message("text", "欢迎"), Message("news", "券", fields={
        "title": "新人券", "url": "https://shop.example.com/c"}))
    assert await deliverer.run_once() == 2
    assert [(s.to, s.kind) for s in fake.messages("custom")] == [("alice", "text"), ("alice", "news")]
    assert await memstore.outbox_size() == 0 and deliverer.sent == 2
    assert deliverer.metrics.value("deliveries", persona="bot", api="mp_custom", outcome="sent") == 2


async def test_one_customers_messages_keep_their_commit_order(deliverer, fake, memstore, clock):
    await enqueue(memstore, clock, *(Message("text", str(i)) for i in range(12)))
    await deliverer.run_once()
    assert [s.text for s in fake.messages()] == [str(i) for i in range(12)]


@pytest.mark.parametrize("errcode", [45009, -1])
async def test_rate_limit_and_system_busy_are_retried_then_delivered(deliverer, fake, memstore, clock, errcode):
    await enqueue(memstore, clock, Message("text", "训练提醒"))
    fake.fail(errcode, times=2)
    await deliverer.run_once()
    assert not fake.messages() and deliverer.retried == 1
    assert await deliverer.run_once() == 0, "not due again before the backoff"
    clock.advance(2)
    await deliverer.run_once()
    assert deliverer.retried == 2
    clock.advance(4)
    await deliverer.run_once()
    assert [s.text for s in fake.messages()] == ["训练提醒"] and deliverer.sent == 1
    assert await memstore.outbox_size() == 0 and not await memstore.dead_letters()


@pytest.mark.parametrize("fault", ["http_500", "disconnect", "timeout"])
async def test_transport_failures_are_retried(deliverer, fake, memstore, clock, fault):
    await enqueue(memstore, clock, Message("text", "hi"))
    if fault == "http_500":
        fake.http_error(500)
    elif fault == "disconnect":
        fake.disconnect()
    else:
        fake.stall(1.0)  # the deliverer's session times out after 0.5 s
    await deliverer.run_once()
    assert deliverer.retried == 1
    clock.advance(2)
    await deliverer.run_once()
    assert deliverer.sent == 1 and len(fake.messages()) == 1


async def test_outage_then_recovery_delivers_everything(deliverer, fake, memstore, clock):
    await enqueue(memstore, clock, Message("text", "a"), user="alice")
    await enqueue(memstore, clock, Message("text", "b", to="staff:zhangsan"), user="bob")
    await fake.down()
    await deliverer.run_once()
    clock.advance(2)
    await deliverer.run_once()
    assert deliverer.retried == 4 and not fake.sent
    await fake.up()
    clock.advance(4)
    await deliverer.run_once()
    assert sorted(s.text for s in fake.sent) == ["a", "b"] and await memstore.outbox_size() == 0


@pytest.mark.parametrize("errcode,words", [(45015, "48-hour window"), (45047, "budget")])
async def test_spent_window_or_budget_is_dead_lettered_not_retried(deliverer, fake, memstore, clock, errcode, words):
    await enqueue(memstore, clock, Message("text", "还在吗"))
    fake.fail(errcode, times=5)
    await deliverer.run_once()
    [(item, reason)] = await memstore.dead_letters()
    assert item.id == "alice:1:0" and reason.startswith(f"errcode_{errcode}:") and words in reason
    assert await memstore.outbox_size() == 0 and deliverer.retried == 0
    assert deliverer.dead == {f"errcode_{errcode}": 1}
    assert sum(1 for path, _ in fake.calls if path == "/cgi-bin/message/custom/send") == 1
    assert deliverer.metrics.value("dead_letters", persona="bot", reason=f"errcode_{errcode}") == 1


async def test_retries_are_bounded_then_dead_lettered(deliverer, fake, memstore, clock):
    await enqueue(memstore, clock, Message("text", "hi"))
    fake.fail(-1, times=100)
    for _ in range(6):
        await deliverer.run_once()
        clock.advance(600)
    [(item, reason)] = await memstore.dead_letters()
    assert reason.startswith("retries_exhausted: gave up after 4 attempts") and "errcode -1" in reason
    assert deliverer.retried == 3 and await memstore.outbox_size() == 0


async def test_welcome_turn_goes_as_one_welcome_message(deliverer, fake, memstore, clock):
    fake.register_welcome_code("WC-1", user="wmAlice")
    await enqueue(memstore, clock, Message("text", "欢迎来到小完子玩美研究所"),
                  Message("link", "领券", fields={"title": "20 元券", "url": "https://shop.example.com/c"}),
                  Message("text", "新客户 wmAlice 来自门店", to="staff:zhangsan"),
                  user="wmAlice", welcome_code="WC-1")
    await deliverer.run_once()
    text, link = fake.messages("welcome")
    assert text.to == link.to == "wmAlice" and text.msgid == link.msgid
    assert text.text == "欢迎来到小完子玩美研究所" and link.fields["title"] == "20 元券"
    assert [s.text for s in fake.messages("app")] == ["新客户 wmAlice 来自门店"]
    assert deliverer.sent == 3


async def test_welcome_code_reuse_is_not_a_failure(deliverer, fake, memstore, clock):
    fake.register_welcome_code("WC-2", user="wmBob")
    await enqueue(memstore, clock, Message("text", "你好"), user="wmBob", welcome_code="WC-2")
    await deliverer.run_once()
    await enqueue(memstore, clock, Message("text", "再来一条"), user="wmBob", welcome_code="WC-2")
    await deliverer.run_once()
    assert [s.text for s in fake.messages("welcome")] == ["你好"]
    assert deliverer.skipped == {"welcome_code_used": 1} and deliverer.retried == 0
    assert not await memstore.dead_letters() and await memstore.outbox_size() == 0


async def test_expired_welcome_code_is_dead_lettered_with_the_reason(deliverer, fake, memstore, clock):
    fake.register_welcome_code("WC-3", user="wmCarol")
    await enqueue(memstore, clock, Message("text", "你好"), user="wmCarol", welcome_code="WC-3")
    clock.advance(21)
    await deliverer.run_once()
    [(_, reason)] = await memstore.dead_letters()
    assert reason.startswith("errcode_41096") and "20 s" in reason


async def test_mass_message_is_counted_as_pending_confirmation(deliverer, fake, memstore, clock):
    await enqueue(memstore, clock, Message("text", "双十一", via="mass", fields={"sender": "zhangsan"}),
                  user="wmDan")
    await deliverer.run_once()
    [sent] = fake.messages("mass")
    assert sent.pending and sent.body["external_userid"] == ["wmDan"]
    assert deliverer.pending == 1 and deliverer.sent == 0 and await memstore.outbox_size() == 0


async def test_customer_groups_get_a_mass_message_from_their_owner_and_staff_groups_appchat(
        deliverer, fake, memstore, clock):
    fake.add_group("chatA", "coach_ajie")
    await enqueue(memstore, clock, Message("text", "本周排行", to="group:chatA"),
                  Message("text", "今日销冠", to="staff_group:chatB"))
    await deliverer.run_once()
    [board] = fake.messages("mass")
    assert (board.to, board.text, board.pending) == ("group:chatA", "本周排行", True)
    assert {k: board.body[k] for k in ("chat_type", "sender", "chat_id_list")} == {
        "chat_type": "group", "sender": "coach_ajie", "chat_id_list": ["chatA"]}
    assert [(s.to, s.target, s.text) for s in fake.messages("appchat")] == [("staff_group:chatB", "chatB", "今日销冠")]
    assert await deliverer.router.wecom.mass_result(board.msgid) == [
        {"chat_id": "chatA", "userid": "coach_ajie", "status": 0}]
    fake.confirm(board.msgid)  # the owner taps send in the WeCom app
    [row] = await deliverer.router.wecom.mass_result(board.msgid)
    assert row["status"] == 1 and row["send_time"] > 0


async def test_official_account_only_bot_dead_letters_wecom_messages_with_what_to_set(fake, memstore, clock):
    router = Router.from_env(env_for(fake, wecom=False), memstore)
    deliverer = Deliverer(memstore, router, clock)
    try:
        await enqueue(memstore, clock, Message("text", "客户未跟进", to="staff:zhangsan", script="staff_alert"),
                      Message("text", "你好"))
        await deliverer.run_once()
    finally:
        await deliverer.close()
    [(item, reason)] = await memstore.dead_letters()
    assert item.id == "alice:1:0" and reason.startswith("unroutable:")
    assert "staff_alert" in reason and "WECOM_CORPID" in reason
    assert [s.text for s in fake.messages("custom")] == ["你好"]


async def test_unknown_payload_type_and_bad_payload_are_dead_lettered(deliverer, memstore, clock):
    await enqueue(memstore, clock, payloads=[{"type": "carrier_pigeon", "to": "x"}, {"no": "type"}])
    await deliverer.run_once()
    reasons = sorted(r for _, r in await memstore.dead_letters())
    assert reasons[0].startswith("bad_payload:")
    assert reasons[1].startswith("unknown_type: no handler for outbox type 'carrier_pigeon'")
    assert deliverer.dead == {"bad_payload": 1, "unknown_type": 1}


async def test_other_payload_types_go_to_their_handlers(fake, memstore, clock):
    seen = []

    async def zincr(payload, item):
        seen.append((payload["member"], item.id))

    router = Router.from_env(env_for(fake), memstore)
    deliverer = Deliverer(memstore, router, clock, handlers={"zincr": zincr})
    try:
        await enqueue(memstore, clock, payloads=[{"type": "zincr", "key": "board", "member": "alice", "amount": 1}])
        await deliverer.run_once()
    finally:
        await deliverer.close()
    assert seen == [("alice", "alice:1:e0")] and deliverer.handled == {"zincr": 1}


async def test_run_loop_delivers_on_wake_and_stops(fake, memstore):
    clock = FakeClock("2026-11-23 10:00")
    router = Router.from_env(env_for(fake), memstore, http=HttpSession(timeout=2.0))
    deliverer = Deliverer(memstore, router, clock, idle=30.0, metrics=Metrics())
    stop = asyncio.Event()
    task = asyncio.create_task(deliverer.run(stop))
    try:
        await asyncio.sleep(0.05)
        await enqueue(memstore, clock, Message("text", "woken"))
        deliverer.wake()
        for _ in range(100):
            if fake.sent:
                break
            await asyncio.sleep(0.01)
        assert [s.text for s in fake.sent] == ["woken"]
    finally:
        stop.set()
        await asyncio.wait_for(task, 2.0)
        await deliverer.close()


async def test_deliverers_sharing_a_store_send_each_item_once(fake, store, clock):
    env = env_for(fake)
    a = Deliverer(store, Router.from_env(env, store), clock)
    b = Deliverer(store, Router.from_env(env, store), clock)
    try:
        for i in range(10):
            await enqueue(store, clock, Message("text", f"m{i}"), user=f"u{i}")
        await asyncio.gather(a.run_once(), b.run_once())
    finally:
        await a.close()
        await b.close()
    assert sorted(s.text for s in fake.sent) == [f"m{i}" for i in range(10)]
    assert fake.token_requests() == 1 and await store.outbox_size() == 0
