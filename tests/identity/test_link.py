"""Link on first sight: the unionid comes from the platform (the local fake's ``user/info`` and
``externalcontact/get``), is kept in the store, and an outage at first sight loses nothing."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest

from persona import FakeClock, PlatformEvent, Runtime, TextMessage
from persona.engine import census
from persona.engine.identity import Identity
from persona.fakeapi import FakeWeChat
from persona.model.inputs import Platform
from persona.store import aliases
from persona.wechat.channels.router import Router
from tests.identity.salon import Salon
from tests.identity.test_merge import EXTERNAL, OPENID, add, event, follow

USER_INFO, CONTACT_GET = "/cgi-bin/user/info", "/cgi-bin/externalcontact/get"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock("2026-11-23 10:00")


@pytest.fixture
async def fake(clock):
    async with FakeWeChat(clock=clock.now) as fake:
        fake.person("uSalonPerson1", openid=OPENID, external_userid=EXTERNAL)
        yield fake


@pytest.fixture
async def runtime(store, clock, fake):
    router = Router.from_env({"WECHAT_APPID": fake.appid, "WECHAT_APPSECRET": fake.secret,
                              "WECHAT_API_BASE": fake.base_url, "WECOM_CORPID": fake.corpid,
                              "WECOM_SECRET": fake.corpsecret, "WECOM_AGENTID": str(fake.agentid),
                              "WECOM_API_BASE": fake.base_url}, store, clock=clock)
    runtime = Runtime(Salon(), store, clock)
    runtime.identity = Identity(runtime, router.unionid, platforms=frozenset(router.configured))
    yield runtime
    await router.close()


def asked(fake: FakeWeChat, path: str) -> int:
    return sum(1 for p, _ in fake.calls if p == path)


async def test_a_follower_who_is_added_in_wecom_is_one_customer(runtime, store, fake, clock):
    await runtime.handle(follow())
    clock.advance(600)
    outcome = await runtime.handle(add())
    assert outcome.customer.id == OPENID
    one = await runtime.customer(OPENID)
    assert one.state == "welcomed" and one.unionid == "uSalonPerson1"
    assert one.ids == {OPENID: "mp", EXTERNAL: "wecom"} and one.current == EXTERNAL
    assert one.attrs["first_channel"] == "oa" and one.tags["source"] == "wecom"
    assert await store.users() == [OPENID]
    assert await aliases.canonical(store, EXTERNAL) == OPENID
    assert await census.per_state(store) == {"welcomed": 1}
    assert set(await store.pending_timers(OPENID)) == {"day3"}


async def test_the_platform_is_asked_once_per_id(runtime, fake, clock):
    await runtime.handle(follow())
    await runtime.handle(add())
    for n in range(2, 5):
        await runtime.handle(TextMessage(user=OPENID, dedupe_key=f"m{n}", text="hi", platform=Platform.WECHAT))
        await runtime.handle(add(n=n))
        await runtime.handle(event(EXTERNAL, "promo", n))
    assert (asked(fake, USER_INFO), asked(fake, CONTACT_GET)) == (1, 1)
    assert (await runtime.customer(OPENID)).counters == {"hellos": 3}


async def test_ids_without_a_unionid_stay_two_customers_and_are_not_asked_again(runtime, store, fake):
    fake.person("", openid="oUnbound", external_userid="wmUnbound")
    await runtime.handle(follow("oUnbound"))
    await runtime.handle(add("wmUnbound"))
    await runtime.handle(add("wmUnbound", n=2))
    assert await store.users() == ["oUnbound", "wmUnbound"]
    assert (await runtime.customer("wmUnbound")).unionid == ""
    assert asked(fake, CONTACT_GET) == 1


async def test_an_outage_at_first_sight_is_handled_under_the_id_and_merged_at_the_next_input(
        runtime, store, fake, clock, caplog):
    await runtime.handle(follow())
    fake.fail(-1, path=CONTACT_GET)  # "system busy"
    caplog.set_level(logging.WARNING, logger="persona.engine.identity")
    first = await runtime.handle(add())
    assert first.customer.id == EXTERNAL and first.status == "done"  # nothing lost: greeted as itself
    assert "cannot ask the platform for its unionid" in caplog.text and EXTERNAL in caplog.text
    assert await store.users() == [OPENID, EXTERNAL]
    await runtime.handle(event(EXTERNAL, "order_placed", 1))
    clock.advance(60)
    later = await runtime.handle(add(n=2))
    assert later.customer.id == OPENID
    one = await runtime.customer(OPENID)
    assert one.state == "buyer" and one.counters == {"orders": 1}
    assert await store.users() == [OPENID]
    assert await census.per_state(store) == {"buyer": 1} == await census.scan(store)


async def test_each_platform_keeps_its_own_windows(runtime, store, fake, clock):
    await runtime.handle(follow())
    await runtime.handle(TextMessage(user=OPENID, dedupe_key="m1", text="hi", platform=Platform.WECHAT))
    assert "km" in (await runtime.customer(OPENID)).budget
    clock.advance(3 * 86400)  # the Official Account's 48 h customer-service window has closed
    await runtime.handle(add())
    await runtime.handle(TextMessage(user=EXTERNAL, dedupe_key="m2", text="hi", platform=Platform.WECOM))
    one = await runtime.customer(OPENID)
    assert one.current == EXTERNAL and "km" not in one.budget  # writing in WeCom opens no OA window
    promo = await runtime.handle(event(OPENID, "promo", 1))
    [(message, decision)] = promo.messages
    assert decision.action == "send"  # through WeCom, counted against WeCom's mass caps
    assert (await runtime.customer(OPENID)).budget["md"][1] == 1
    await runtime.handle(TextMessage(user=OPENID, dedupe_key="m3", text="hi", platform=Platform.WECHAT))
    assert (await runtime.customer(OPENID)).budget["km"][0] == int(clock.now())


async def test_a_linked_id_costs_one_load_like_any_other(runtime, store, monkeypatch):
    await runtime.handle(follow())
    await runtime.handle(add())
    loads: list[str] = []
    load = store.load

    async def counted(user, dedupe_key=None):
        loads.append(user)
        return await load(user, dedupe_key)

    monkeypatch.setattr(store, "load", counted)
    await runtime.handle(add(n=2))
    await runtime.handle(TextMessage(user=OPENID, dedupe_key="m2", text="hi", platform=Platform.WECHAT))
    assert loads == [OPENID, OPENID]  # the alias remembered: no read of the alias id, no table read


async def test_the_fake_refuses_an_id_of_the_other_platform(fake, runtime, store, caplog):
    caplog.set_level(logging.WARNING, logger="persona.engine.identity")
    outcome = await runtime.handle(PlatformEvent(user="wmNotAnOpenid", dedupe_key="x", name="subscribe",
                                                 platform=Platform.WECHAT))
    assert outcome.status == "done" and (await runtime.customer("wmNotAnOpenid")).unionid is None
    assert "errcode 40003" in caplog.text


async def test_both_ids_first_seen_at_once_by_two_processes_are_one_customer(runtime, store, fake, clock):
    other = Runtime(Salon(), store, clock)  # a second process on the same store
    other.identity = Identity(other, runtime.identity.lookup, platforms=runtime.identity.platforms)
    first, second = await asyncio.gather(runtime.handle(follow()), other.handle(add()))
    assert first.customer.id == second.customer.id
    [one] = await store.users()
    customer = await runtime.customer(one)
    assert set(customer.ids) == {OPENID, EXTERNAL} and customer.unionid == "uSalonPerson1"
    handled = [json.loads(line).get("handler") for line in await store.journal(one)
               if json.loads(line)["k"] == "in"]
    assert sorted(handled) == ["added", "followed"]
    assert await census.per_state(store) == {"welcomed": 1} == await census.scan(store)
