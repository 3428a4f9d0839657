"""Campaigns on a fake clock: scheduled, run once at their time across workers, cancelled, split,
in each customer's own time zone, and held to the platform's budgets by the gate.

小完子 says something to its WeCom customers on Monday (the coupon reminder, the day they
arrive) and Wednesday (the second pitch): the campaigns here are on Tuesday and Thursday, the
days their one mass message of the day is still free."""

from __future__ import annotations

import asyncio

from persona.clock import parse_time
from persona.engine.broadcast import broadcast
from persona.engine.campaigns import Book, Campaign, CampaignRunner, Moment, Split, Status, When
from persona.engine.runtime import Runtime
from persona.testing import Simulation
from tests.campaigns.conftest import START

HOUR = 3600.0
#: an OR / NOT audience: everyone who came for eyeshadow or lipstick, but not bea's kind
AUDIENCE = "(tag:product=eyeshadow OR tag:product=lipstick) AND NOT tag:opted_out"


def at(text: str) -> When:
    return When(Moment.AT, parse_time(text))


def flash(cid: str, when: When, audience: str = AUDIENCE, split: Split | None = None) -> Campaign:
    return Campaign(cid, audience, split or Split.one("flash_sale"), when, created=parse_time(START))


def second_worker(sim: Simulation) -> CampaignRunner:
    """Another process's runner on the same store (its own runtime, its own worker id)."""
    runtime = sim.bot.campaigns.runtime
    return CampaignRunner(Runtime(runtime.persona, sim.store, sim.clock), worker="worker-2")


async def test_a_scheduled_campaign_runs_once_at_its_time(sim):
    book = Book(sim.store)
    await book.create(flash("c1", at("2026-11-24 14:00")))
    assert await book.status("c1") is Status.SCHEDULED

    early = await sim.advance_to("2026-11-24 13:59")
    assert not [s for s in early if s.script == "flash_sale"]
    assert await book.status("c1") is Status.SCHEDULED

    sent = await sim.advance_to("2026-11-24 14:01")
    assert sorted(s.to for s in sent if s.script == "flash_sale") == ["wm_amy", "wm_cat", "wm_dee"]
    progress = await book.progress("c1")
    assert progress.status is Status.DONE
    assert (progress.tally.sent, progress.tally.silent) == (3, 1)  # eve never added 小完子: nothing to say
    assert progress.scripts == {"flash_sale": 4}

    # a second worker, and the first again, find nothing to do; forced, nobody gets it twice
    assert await second_worker(sim).run_once() == 0
    assert await sim.bot.campaigns.run_once() == 0
    assert await second_worker(sim).run_campaign(progress.campaign) is None
    later = await sim.advance("1d")
    assert not [s for s in later if s.script == "flash_sale"]
    assert (await book.progress("c1")).tally.sent == 3


async def test_a_worker_killed_mid_run_leaves_it_to_another_and_nobody_gets_it_twice(sim):
    book = Book(sim.store)
    campaign = await book.create(flash("c1", at("2026-11-24 14:00")))
    await sim.advance_to("2026-11-24 13:59")
    sim.clock.set(parse_time("2026-11-24 14:00"))
    # the dead worker took the lease and reached amy and cat before it died
    assert await book.claim("c1", "dead-worker", lease=1.0)
    runtime = sim.bot.campaigns.runtime
    await broadcast(runtime, ["wm_amy", "wm_cat"], "flash_sale", "c1", {})
    assert await second_worker(sim).run_once() == 0  # the lease still holds
    await asyncio.sleep(1.2)
    assert await second_worker(sim).run_campaign(campaign) is not None
    await sim.advance("1m")
    assert sorted(s.to for s in sim.sent if s.script == "flash_sale") == ["wm_amy", "wm_cat", "wm_dee"]
    progress = await book.progress("c1")
    assert progress.status is Status.DONE
    assert (progress.tally.sent, progress.tally.done_before) == (1, 2)


async def test_cancel_before_its_time_and_between_customers(sim):
    book = Book(sim.store)
    await book.create(flash("early", at("2026-11-24 14:00")))
    await book.cancel("early", "ops")
    assert await book.status("early") is Status.CANCELLED
    assert not [s for s in await sim.advance_to("2026-11-24 15:00") if s.script == "flash_sale"]
    assert (await book.progress("early")).cancelled_by == "ops"
    assert "early" not in await book.active()

    # while it runs: the walk stops at the next customer once the cancel is seen
    campaign = await book.create(flash("mid", at("2026-11-24 15:00"), audience="all"))
    runner = CampaignRunner(sim.bot.campaigns.runtime, beat=0.05, concurrency=1)
    walked: list[str] = []
    real_handle = runner.runtime.handle

    async def slow_handle(inp, slot=None):
        walked.append(inp.user)
        if len(walked) == 2:
            await book.cancel("mid", "ops")
            await asyncio.sleep(0.3)  # the lease keeper sees the cancel meanwhile
        return await real_handle(inp, slot)

    runner.runtime.handle = slow_handle  # type: ignore[method-assign]
    await runner.run_campaign(campaign)
    assert walked == ["wm_amy", "wm_bea"]
    assert await book.status("mid") is Status.CANCELLED


async def test_the_gate_holds_campaigns_to_the_platform_budgets(sim):
    """WeCom: one mass message per customer per day; the second campaign that day is dropped."""
    book = Book(sim.store)
    await book.create(flash("first", at("2026-11-24 14:00")))
    await book.create(flash("second", at("2026-11-24 16:00")))
    await sim.advance_to("2026-11-24 17:00")
    assert sorted(s.to for s in sim.sent if s.script == "flash_sale") == ["wm_amy", "wm_cat", "wm_dee"]
    second = await book.progress("second")
    assert second.status is Status.DONE
    assert second.tally.sent == 0 and second.tally.dropped == {"mass_daily_cap": 3}
    capped = sorted(d.to for d in sim.dropped if d.script == "flash_sale" and d.reason == "mass_daily_cap")
    assert capped == ["wm_amy", "wm_cat", "wm_dee"]
    await book.create(flash("thursday", at("2026-11-26 14:00")))
    await sim.advance_to("2026-11-26 15:00")
    assert (await book.progress("thursday")).tally.sent == 3


async def test_an_ab_split_gives_each_customer_one_script_stably(sim):
    book = Book(sim.store)
    split = Split.parse("flash_sale=50,group_invite=50")
    await book.create(flash("ab", at("2026-11-24 14:00"), audience="NOT tag:opted_out AND tag:source", split=split))
    await sim.advance_to("2026-11-24 14:30")
    got = {s.to: s.script for s in sim.sent if s.script in ("flash_sale", "group_invite")}
    assert got == {u: split.pick("ab", u) for u in ("wm_amy", "wm_cat", "wm_dee")}
    progress = await book.progress("ab")
    assert sum(progress.scripts.values()) == 3
    assert progress.scripts == {name: list(got.values()).count(name) for name in set(got.values())}


async def test_each_customer_gets_it_at_ten_in_their_own_time_zone(sim):
    for user, tz in (("wm_amy", "Europe/London"), ("wm_cat", "Asia/Tokyo")):
        await sim.store.commit(await _with_tz(sim, user, tz))
    book = Book(sim.store)
    await book.create(flash("ten", When(Moment.LOCAL, day="2026-11-24", clock="10:00:00")))
    arrivals: dict[str, float] = {}
    for hour in range(0, 24 * 2):  # step an hour at a time through Tuesday in every zone
        for s in await sim.advance(HOUR):
            if s.script == "flash_sale":
                arrivals[s.to] = s.at
    assert arrivals == {"wm_cat": parse_time("2026-11-24 10:00", "Asia/Tokyo"),
                        "wm_dee": parse_time("2026-11-24 10:00", "Asia/Shanghai"),
                        "wm_amy": parse_time("2026-11-24 10:00", "Europe/London")}
    progress = await book.progress("ten")
    assert progress.status is Status.DONE and progress.tally.sent == 3 and progress.tally.done_before == 0


async def _with_tz(sim: Simulation, user: str, tz: str):
    from persona.model.customer import Customer
    from persona.store.base import Commit

    loaded = await sim.store.load(user)
    customer = Customer.load(user, loaded.record, loaded.version)
    customer.attrs["tz"] = tz
    return Commit(user, loaded.version, customer.dump())


async def test_an_audience_the_bot_no_longer_has_is_refused_when_it_runs(sim, caplog):
    book = Book(sim.store)
    await book.create(flash("old", at("2026-11-24 14:00"), audience="state:vip OR tag:in_group"))
    await sim.advance_to("2026-11-24 15:00")
    await sim.bot.campaigns.run_once()
    assert await book.status("old") is Status.SCHEDULED
    assert not [s for s in sim.sent if s.script == "flash_sale"]
    refusals = [r.getMessage() for r in caplog.records if "campaign old" in r.getMessage()]
    assert len(refusals) == 1 and "'vip' is not a state of xiaowanzi" in refusals[0], refusals


async def test_official_account_followers_get_it_only_inside_their_48_hour_window(sim):
    """The customer-service API reaches a follower only within 48 h of their last message."""
    await sim.wechat("oAnn", "subscribe", key="qrscene_parcel_eyeshadow")
    await sim.text("oAnn", "眼影有什么色号")
    await sim.wechat("oBen", "subscribe", key="qrscene_parcel_eyeshadow")  # follows, never writes
    book = Book(sim.store)
    await book.create(flash("oa", at("2026-11-24 14:00"), audience="tag:source=parcel"))
    await sim.advance_to("2026-11-24 14:30")
    assert [s.to for s in sim.sent if s.script == "flash_sale"] == ["oAnn"]
    progress = await book.progress("oa")
    assert progress.tally.sent == 1 and progress.tally.dropped == {"kf_window_closed": 1}
