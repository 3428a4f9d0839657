"""The example shop persona driven through the runtime on every store."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest

from persona import BusinessEvent, FakeClock, MediaMessage, PlatformEvent, ReplySlot, Runtime, TextMessage, TimerFired
from persona.model.customer import Customer
from tests.core.shop import Shop


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock("2026-11-23 10:00")


@pytest.fixture
def runtime(store, clock) -> Runtime:
    return Runtime(Shop(), store, clock)


async def outbox(store) -> list[dict]:
    items = await store.claim_outbox(10**12, 1000, lease=60)
    return [json.loads(i.payload) for i in items]


async def test_a_transition_logs_nothing_at_info_from_the_state_machine_library(runtime, caplog):
    caplog.set_level(logging.INFO)
    outcome = await runtime.handle(PlatformEvent(user="alice", dedupe_key="e:1:subscribe", name="subscribe"))
    assert outcome.transitions == [("welcome", "new", "welcomed")]
    chatter = [r.getMessage() for r in caplog.records if r.name.startswith("transitions")]
    assert chatter == []


async def test_unknown_customer_is_created_in_the_initial_state(runtime):
    outcome = await runtime.handle(TextMessage(user="alice", dedupe_key="m:1", text="随便聊聊"))
    assert outcome.status == "done"
    alice = await runtime.customer("alice")
    assert alice.state == "new" and alice.counters == {"chats": 1}
    assert alice.first_seen == alice.last_inbound == runtime.clock.now()


async def test_subscribe_moves_state_tags_and_queues_the_welcome(runtime, store):
    outcome = await runtime.handle(PlatformEvent(user="alice", dedupe_key="e:1:subscribe", name="subscribe",
                                                 key="qrscene_parcel"))
    assert outcome.transitions == [("welcome", "new", "welcomed")]
    alice = await runtime.customer("alice")
    assert alice.state == "welcomed" and alice.tags["source"] == "qrscene_parcel"
    [item] = await outbox(store)
    assert item["user"] == "alice" and item["message"]["text"].startswith("欢迎来到小店")
    assert await store.segment("state:welcomed", "tag:source=qrscene_parcel") == {"alice"}


async def test_exact_keyword_and_fallback_routes(runtime):
    out = await runtime.handle(TextMessage(user="a", dedupe_key="m:1", text=" 多少钱 "))
    assert [m.text for m, _ in out.messages] == ["这款现在¥1,299.00"]
    out = await runtime.handle(TextMessage(user="a", dedupe_key="m:2", text="我的订单到哪了"))
    assert [m.text for m, _ in out.messages] == ["你有 0 个订单。"]
    out = await runtime.handle(TextMessage(user="a", dedupe_key="m:3", text="hello"))
    assert out.messages == [] and (await runtime.customer("a")).counters["chats"] == 1


async def test_one_reply_within_the_deadline_is_passive_and_not_queued(runtime, store):
    slot = ReplySlot()
    out = await runtime.handle(TextMessage(user="a", dedupe_key="m:1", text="价格"), slot)
    assert out.passive is not None and out.passive.text == "这款现在¥1,299.00"
    assert await outbox(store) == []
    # the slot was abandoned (deadline passed): the reply goes through the send API instead
    late = ReplySlot()
    late.abandon()
    out = await runtime.handle(TextMessage(user="a", dedupe_key="m:2", text="价格"), late)
    assert out.passive is None and len(await outbox(store)) == 1


async def test_a_retried_message_moves_the_machine_once_and_answers_the_same(runtime, store):
    first = await runtime.handle(TextMessage(user="a", dedupe_key="m:7", text="价格"), ReplySlot())
    again = [await runtime.handle(TextMessage(user="a", dedupe_key="m:7", text="价格"), ReplySlot())
             for _ in range(3)]
    assert all(o.status == "duplicate" and o.passive.text == first.passive.text for o in again)
    concurrent = await asyncio.gather(*(runtime.handle(TextMessage(user="b", dedupe_key="m:7", text="hi"))
                                        for _ in range(4)))
    assert sorted(o.status for o in concurrent) == ["done", "duplicate", "duplicate", "duplicate"]
    assert (await runtime.customer("b")).counters["chats"] == 1
    assert (await store.load("a")).version == 1


async def test_a_handler_that_raises_changes_nothing_and_is_journaled(runtime, store):
    await runtime.handle(TextMessage(user="a", dedupe_key="m:1", text="hello"))
    out = await runtime.handle(TextMessage(user="a", dedupe_key="m:2", text="boom now"))
    assert out.status == "error" and "the handler broke" in out.error
    a = await runtime.customer("a")
    assert "half_written" not in a.tags and a.counters == {"chats": 1}
    journal = [json.loads(line) for line in await store.journal("a")]
    assert journal[-1]["k"] == "error" and "the handler broke" in journal[-1]["error"]
    assert runtime.metrics.value("handler_errors", persona="shop", kind="text") == 1
    # other customers are unaffected
    assert (await runtime.handle(TextMessage(user="b", dedupe_key="m:2", text="hello"))).status == "done"


async def test_events_conditions_entry_callbacks_rules_effects_and_staff_messages(runtime, store, clock):
    await runtime.handle(PlatformEvent(user="a", dedupe_key="e:1", name="subscribe"))
    await outbox(store)
    # a follow alone allows 3 messages within a minute; a message opens the 48 h window
    await runtime.handle(TextMessage(user="a", dedupe_key="m:1", text="hello"))
    clock.advance(120)
    out = await runtime.handle(BusinessEvent(user="a", dedupe_key="o1", name="order_placed", data={"amount": 600}))
    assert out.transitions == [("buy", "welcomed", "buyer")]  # promote's guard said no
    a = await runtime.customer("a")
    assert a.tags["spend"] == "high" and "vip" not in a.tags
    out = await runtime.handle(BusinessEvent(user="a", dedupe_key="o2", name="order_placed", data={"amount": 600}))
    assert out.transitions == [("promote", "buyer", "vip")]  # buyer -> buyer is no change
    a = await runtime.customer("a")
    assert a.state == "vip" and "vip" in a.tags
    items = await outbox(store)
    kinds = [(i["type"], i.get("message", {}).get("to")) for i in items]
    assert ("message", "staff:sales01") in kinds and ("zincr", None) in kinds
    to_customer = [i["message"]["text"] for i in items if i["type"] == "message" and "to" not in i["message"]]
    assert sorted(to_customer) == sorted(["谢谢惠顾，¥600.00 已收到。", "谢谢惠顾，¥600.00 已收到。", "恭喜升级 VIP！"])
    board = [i for i in items if i["type"] == "zincr"]
    assert [(b["key"], b["member"], b["amount"]) for b in board] == [("spend", "a", 600.0)] * 2


async def test_timers_are_set_fired_once_and_bound_to_their_state(runtime, store, clock):
    await runtime.handle(PlatformEvent(user="a", dedupe_key="e:1", name="subscribe"))
    await runtime.handle(BusinessEvent(user="a", dedupe_key="o1", name="order_placed", data={"amount": 10}))
    timers = await store.pending_timers("a")
    assert set(timers) == {"review", "day3"}
    a = await runtime.customer("a")
    assert a.timers["review"].due == clock.now() + 3 * 3600
    assert a.timers["day3"].due == clock.now() + 3 * 86400  # 10:00 three days after joining
    clock.advance(3 * 3600)
    claimed = await store.claim_timers(clock.now(), 10, lease=60)
    assert [(u, n) for u, n, _ in claimed] == [("a", "review")]
    await outbox(store)
    out = await runtime.handle(TimerFired(user="a", name="review"))
    assert [m.script for m, _ in out.messages] == ["review"]
    again = await runtime.handle(TimerFired(user="a", name="review"))
    assert again.messages == [] and "review" not in await store.pending_timers("a")


async def test_bad_definitions_fail_at_import():
    from persona import DefinitionError, Persona, on

    with pytest.raises(DefinitionError, match="unknown state 'nowhere'"):
        class Broken(Persona):
            states = ["a", "b"]
            transitions = [["go", "a", "nowhere"]]

    with pytest.raises(DefinitionError, match="unknown state 'zzz'"):
        class Broken2(Persona):
            states = ["a"]

            @on.text("hi", states=["zzz"])
            def hi(self, turn):
                pass

    with pytest.raises(DefinitionError, match="unknown state .b."):
        class Broken3(Persona):
            states = ["a"]

            @on.timer("t", after="1h", state="b")
            def t(self, turn):
                pass


def test_a_timer_takes_state_one_name_for_one_state_or_a_list():
    from persona import DefinitionError, Persona, on

    with pytest.raises(DefinitionError, match=r"@on.timer\('t'\): write state= .*not states="):
        on.timer("t", after="1h", states=["a"])
    with pytest.raises(DefinitionError, match="a scheduled timer is bound to one state"):
        on.timer("t", after="1h", state=["a", "b"])
    with pytest.raises(DefinitionError, match="Broken.t: state= names unknown state 'c'"):
        class Broken(Persona):
            states = ["a", "b"]

            @on.timer("t", state=["a", "c"])
            def t(self, turn):
                pass

    class Fine(Persona):
        states = ["a", "b", "c"]

        @on.timer("bound", after="1h", state="b")
        @on.timer("one", after="1h", state=["c"])
        @on.timer("by_hand", state=["a", "b"])
        def t(self, turn):
            pass

    bound, _ = Fine.routes.timer["bound"]
    assert bound.states == {"b"} and bound.timer.state == "b"
    one, _ = Fine.routes.timer["one"]
    assert one.states == {"c"} and one.timer.state == "c"
    by_hand, _ = Fine.routes.timer["by_hand"]
    assert by_hand.states == {"a", "b"} and by_hand.timer.state is None
    assert set(Fine.timer_specs) == {"bound", "one"}


async def test_unknown_trigger_in_a_handler_is_an_error_naming_the_known_ones(runtime):
    from persona import Persona, on

    class Typo(Persona):
        states = ["a", "b"]
        transitions = [["go", "a", "b"]]
        scripts_dir = "none"

        @on.text()
        async def t(self, turn):
            await turn.trigger("goo")

    rt = Runtime(Typo(), runtime.store, runtime.clock)
    out = await rt.handle(TextMessage(user="x", dedupe_key="m:1", text="hi"))
    assert out.status == "error" and "no trigger 'goo'" in out.error and "go" in out.error


async def test_customer_record_is_compact():
    c = Customer("oAbCdEfGhIjKlMnOpQrStUvWxYz12", "welcomed",
                 tags={"source": "parcel", "product": "lipstick", "discount": "high", "in_group": "", "price": "mid"},
                 first_seen=1_764_000_000, last_seen=1_764_100_000)
    assert len(c.dump()) <= 140
    back = Customer.load(c.id, c.dump(), 3)
    assert (back.state, back.tags, back.first_seen, back.last_seen, back.version) == \
        (c.state, c.tags, c.first_seen, c.last_seen, 3)


async def test_a_reply_the_callback_cannot_carry_is_not_claimed_but_queued(runtime, store):
    slot = ReplySlot(accepts=lambda message: message.kind == "image")
    out = await runtime.handle(TextMessage(user="a", dedupe_key="m:1", text="价格"), slot)
    assert out.passive is None and slot.state == "open"
    assert [i["message"]["text"] for i in await outbox(store)] == ["这款现在¥1,299.00"]


async def test_an_input_only_a_rule_acted_on_is_handled(runtime):
    photo = await runtime.handle(MediaMessage(user="a", dedupe_key="m:1", media_type="image"))
    assert photo.status == "done" and (await runtime.customer("a")).tags["sends_photos"] == ""
    place = await runtime.handle(MediaMessage(user="a", dedupe_key="m:2", media_type="location"))
    assert place.status == "unhandled"  # no handler, and no rule did anything with it
