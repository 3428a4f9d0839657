"""Two records of one person merged into one, on every store: state, tags, attrs, counters,
the gate's budgets, timers (once), journals, segments and the census."""

from __future__ import annotations

import asyncio
import json

import pytest

from persona import BusinessEvent, FakeClock, PlatformEvent, Runtime, TextMessage
from persona.engine import census
from persona.engine.identity import Identity
from persona.engine.merge import journal, merge
from persona.engine.scheduler import Scheduler
from persona.errors import MergeError
from persona.model.inputs import Platform
from persona.store import aliases
from persona.store.base import Commit
from tests.identity.salon import Salon

OPENID = "oSalonFollower000000000000001"
EXTERNAL = "wmSalonContact0000000000000001"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock("2026-11-23 10:00")


@pytest.fixture
def runtime(store, clock) -> Runtime:
    return Runtime(Salon(), store, clock)


def follow(user: str = OPENID, n: int = 1) -> PlatformEvent:
    return PlatformEvent(user=user, dedupe_key=f"f{n}", name="subscribe", platform=Platform.WECHAT)


def add(user: str = EXTERNAL, n: int = 1) -> PlatformEvent:
    return PlatformEvent(user=user, dedupe_key=f"a{n}", name="add_external_contact", platform=Platform.WECOM,
                         data={"staff": "zhangsan", "welcome_code": f"W{n}"})


def event(user: str, name: str, n: int, **data: object) -> BusinessEvent:
    return BusinessEvent(user=user, dedupe_key=f"{name}{n}", name=name, data=dict(data))


async def two_records(runtime: Runtime, clock: FakeClock) -> None:
    """The follower and the contact are two customers: nobody knew they were one person."""
    await runtime.handle(follow())
    await runtime.handle(TextMessage(user=OPENID, dedupe_key="m1", text="hi", platform=Platform.WECHAT))
    await runtime.handle(event(OPENID, "promo", 1))
    clock.advance(3600)
    await runtime.handle(add())
    await runtime.handle(event(EXTERNAL, "order_placed", 1))
    await runtime.handle(event(EXTERNAL, "promo", 2))


async def outbox(store) -> list[dict]:
    return [json.loads(i.payload) for i in await store.claim_outbox(10**12, 1000, lease=60)]


async def test_the_merged_customer_is_the_sum_of_both_records(runtime, store, clock):
    await two_records(runtime, clock)
    assert await census.per_state(store) == {"welcomed": 1, "buyer": 1}

    merged = await merge(runtime, OPENID, EXTERNAL, why="same person")

    assert merged is not None and merged.absorbed == EXTERNAL
    one = await runtime.customer(OPENID)
    assert one.state == "buyer"  # the further along of the two
    assert one.tags == {"source": "wecom", "bought": ""}  # united; the more recent record's value wins
    assert one.attrs["first_channel"] == "oa"  # first touch keeps the credit
    assert one.attrs["follow_user"] == "zhangsan"
    assert one.counters == {"hellos": 1, "orders": 1}
    assert one.ids == {OPENID: "mp", EXTERNAL: "wecom"}
    assert await runtime.customer(EXTERNAL) is None
    assert await aliases.canonical(store, EXTERNAL) == OPENID
    assert await store.users() == [OPENID]
    assert await census.per_state(store) == {"buyer": 1} == await census.scan(store)
    assert await store.segment("state:buyer") == {OPENID}
    assert await store.segment("state:welcomed") == set()
    assert await store.segment("tag:bought") == {OPENID}
    assert set(await store.pending_timers(OPENID)) == {"day3", "review"}  # one of each, not two day3
    assert await store.pending_timers(EXTERNAL) == {}
    assert await store.count_timers() == 2


async def test_both_journals_are_read_under_the_kept_id(runtime, store, clock):
    await two_records(runtime, clock)
    await merge(runtime, OPENID, EXTERNAL, why="same person")
    one = await runtime.customer(OPENID)
    lines = [json.loads(line) for line in await journal(store, one)]
    handled = [line.get("handler") for line in lines if line["k"] == "in"]
    assert handled == ["followed", "hello", "promo", "added", "ordered", "promo"]
    assert [line["k"] for line in lines if line["k"].startswith("merged")] == ["merged", "merged_into"]
    assert [line["t"] for line in lines] == sorted(line["t"] for line in lines)


async def test_the_caps_both_records_spent_today_are_spent_once_merged(runtime, store, clock):
    await two_records(runtime, clock)  # one promo each today; the daily cap is two
    await merge(runtime, OPENID, EXTERNAL, why="same person")
    await store.claim_outbox(10**12, 1000, lease=60)
    outcome = await runtime.handle(event(OPENID, "promo", 3))
    [(_, decision)] = outcome.messages
    assert decision.action == "drop" and decision.reason == "daily_cap"


async def test_after_the_merge_the_absorbed_id_reaches_the_kept_customer(runtime, store, clock):
    await two_records(runtime, clock)
    await merge(runtime, OPENID, EXTERNAL, why="same person")
    runtime.identity = Identity(runtime)  # no platform to ask: the alias table alone
    await store.claim_outbox(10**12, 1000, lease=60)
    await runtime.handle(add(n=2))
    one = await runtime.customer(OPENID)
    assert one.current == EXTERNAL and await store.users() == [OPENID]
    [item] = await outbox(store)
    assert (item["user"], item["platform"], item["welcome_code"]) == (EXTERNAL, "wecom", "W2")


async def test_merged_timers_fire_once(runtime, store, clock):
    await two_records(runtime, clock)
    await merge(runtime, OPENID, EXTERNAL, why="same person")
    await store.claim_outbox(10**12, 1000, lease=60)
    scheduler = Scheduler(runtime)
    while (due := await store.next_timer_due()) is not None:
        clock.set(max(due, clock.now()))
        assert await scheduler.run_once() == 1
    scripts = sorted(item["message"]["script"] for item in await outbox(store))
    assert scripts == ["promo", "review"]  # day3 once (both records had one), review once


async def test_merging_again_or_into_itself_changes_nothing_or_is_refused(runtime, store, clock):
    await two_records(runtime, clock)
    await merge(runtime, OPENID, EXTERNAL, why="same person")
    before = await runtime.customer(OPENID)
    assert await merge(runtime, OPENID, EXTERNAL, why="again") is None
    assert (await runtime.customer(OPENID)).version == before.version
    with pytest.raises(MergeError, match="one customer already"):
        await merge(runtime, OPENID, OPENID, why="self")


async def test_a_merge_into_an_id_never_seen_moves_the_record_there(runtime, store, clock):
    await runtime.handle(add())
    await merge(runtime, OPENID, EXTERNAL, why="linked by hand")
    one = await runtime.customer(OPENID)
    assert one.state == "welcomed" and one.tags == {"source": "wecom"}
    assert set(await store.pending_timers(OPENID)) == {"day3"}
    assert await census.per_state(store) == {"welcomed": 1} == await census.scan(store)


async def test_a_merge_cut_short_between_its_two_writes_is_finished_by_the_next(runtime, store, clock, monkeypatch):
    from persona.engine import merge as merging

    await two_records(runtime, clock)
    absorb = merging._absorb

    async def dies(*args, **kwargs):
        raise RuntimeError("the process died")

    monkeypatch.setattr(merging, "_absorb", dies)
    with pytest.raises(RuntimeError):
        await merge(runtime, OPENID, EXTERNAL, why="same person")
    assert await runtime.customer(EXTERNAL) is None  # retired, but kept in the stash
    monkeypatch.setattr(merging, "_absorb", absorb)
    done = await merge(runtime, OPENID, EXTERNAL, why="same person")
    assert done is not None and done.customer.state == "buyer"
    assert (await runtime.customer(OPENID)).counters == {"hellos": 1, "orders": 1}
    assert await census.per_state(store) == {"buyer": 1} == await census.scan(store)
    assert await merge(runtime, OPENID, EXTERNAL, why="again") is None  # nothing left to do


async def test_a_stash_left_behind_by_a_finished_merge_is_not_absorbed_twice(runtime, store, clock):
    from persona.engine.merge import STASH

    await two_records(runtime, clock)
    raw = (await store.load(EXTERNAL)).record
    version = (await store.load(EXTERNAL)).version
    await merge(runtime, OPENID, EXTERNAL, why="same person")
    await store.put(f"{STASH}{OPENID}|{EXTERNAL}", json.dumps({"v": version, "r": raw.decode()}))
    assert await merge(runtime, OPENID, EXTERNAL, why="again") is None
    assert (await runtime.customer(OPENID)).counters == {"hellos": 1, "orders": 1}
    assert await store.get(f"{STASH}{OPENID}|{EXTERNAL}") is None


async def test_two_people_to_the_platform_are_not_merged(runtime, store, clock):
    await two_records(runtime, clock)
    for user, unionid in ((OPENID, "uOne"), (EXTERNAL, "uTwo")):
        customer = await runtime.customer(user)
        customer.unionid = unionid
        await store.commit(Commit(user=user, expected_version=customer.version, record=customer.dump()))
    with pytest.raises(MergeError, match="two people"):
        await merge(runtime, OPENID, EXTERNAL, why="by hand")
    assert sorted(await store.users()) == sorted([OPENID, EXTERNAL])
    assert await aliases.canonical(store, EXTERNAL) is None


async def test_an_id_merged_into_a_customer_merged_further_reaches_the_last(runtime, store, clock):
    await runtime.handle(follow("oFirst"))
    await runtime.handle(follow("oSecond", n=2))
    await runtime.handle(add())
    runtime.identity = Identity(runtime)
    await runtime.handle(add(n=2))  # the identity remembers EXTERNAL as its own customer
    await merge(runtime, "oSecond", EXTERNAL, why="by hand")
    await merge(runtime, "oFirst", "oSecond", why="by hand")
    outcome = await runtime.handle(add(n=3))
    assert outcome.customer.id == "oFirst" and await store.users() == ["oFirst"]
    assert set((await runtime.customer("oFirst")).ids) == {"oFirst", "oSecond", EXTERNAL}


async def test_two_merges_of_one_pair_at_once_absorb_it_once(runtime, store, clock, monkeypatch):
    """Two processes (or `persona customers link` beside a serve) merge the same pair: the
    second finds the absorbed record retired and finishes from the stash while the first is
    still on its way to the kept record; the first must then see it done, not add it again."""
    from persona.engine import merge as merging

    await two_records(runtime, clock)
    other = Runtime(Salon(), store, clock)  # the second process
    absorb, paused, go = merging._absorb, asyncio.Event(), asyncio.Event()
    calls = 0

    async def slow_first(*args, **kwargs):
        nonlocal calls
        calls += 1
        if calls == 1:
            paused.set()
            await go.wait()
        return await absorb(*args, **kwargs)

    monkeypatch.setattr(merging, "_absorb", slow_first)
    first = asyncio.create_task(merge(runtime, OPENID, EXTERNAL, why="unionid"))
    await paused.wait()  # the first has retired the record and not yet written the kept one
    second = await merge(other, OPENID, EXTERNAL, why="linked by hand")
    assert second is not None and second.customer.counters == {"hellos": 1, "orders": 1}
    go.set()
    done = await first
    assert done is not None and done.customer.counters == {"hellos": 1, "orders": 1}
    kept = await runtime.customer(OPENID)
    assert kept.counters == {"hellos": 1, "orders": 1} and kept.state == "buyer"
    assert await census.per_state(store) == {"buyer": 1} == await census.scan(store)
    merged_lines = [json.loads(line) for line in await store.journal(OPENID, 100)]
    assert [line["from"] for line in merged_lines if line["k"] == "merged"] == [EXTERNAL]
    assert await store.get(f"{merging.STASH}{OPENID}|{EXTERNAL}") is None


async def test_the_desk_opens_a_merged_customer_by_either_id_and_sends_to_the_one(runtime, store, clock):
    from persona.engine.desk import Desk

    await two_records(runtime, clock)
    await runtime.handle(TextMessage(user=EXTERNAL, dedupe_key="m2", text="还在吗", platform=Platform.WECOM))
    await merge(runtime, OPENID, EXTERNAL, why="same person")
    desk = Desk(runtime)
    assert (await desk.customer(EXTERNAL)).id == OPENID
    said = [line.text for line in await desk.conversation(EXTERNAL) if line.who == "customer"]
    assert said == ["hi", "还在吗"]  # both journals, in time order
    await desk.send(EXTERNAL, "小李", "在的，您说", request_id="r1")
    assert sorted(await store.users()) == [OPENID]
    agent = [json.loads(line) for line in await store.journal(OPENID, 100) if '"k":"agent"' in line.replace(" ", "")]
    assert [line["text"] for line in agent] == ["在的，您说"]
    await desk.close(EXTERNAL, "小李")
    assert sorted(await store.users()) == [OPENID]
