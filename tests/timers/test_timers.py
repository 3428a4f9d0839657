"""Every kind of timer, on a fake clock, on every store: the clock as a customer lives it."""

from __future__ import annotations

import asyncio

import pytest

from persona import BusinessEvent, DefinitionError, FakeClock, Runtime, TextMessage, TimerFired
from persona.clock import parse_time
from persona.model.customer import Customer
from persona.engine.scheduler import Scheduler
from persona.model.timers import TimerSpec
from tests.timers.clockwork import Clockwork
from tests.timers.conftest import advance, advance_to, fired, journal, local

EVERY_DAY = [1, 2, 3, 4, 5, 6, 7]


async def event(runtime: Runtime, user: str, name: str, **data) -> None:
    key = f"{name}:{runtime.clock.now()}:{sorted(data.items())}"
    outcome = await runtime.handle(BusinessEvent(user=user, dedupe_key=key, name=name, data=data))
    assert outcome.status == "done", outcome.error


async def member(runtime: Runtime, user: str, **profile) -> Customer:
    await event(runtime, user, "join")
    if profile:
        await event(runtime, user, "profile", **profile)
    return await runtime.customer(user)


# -- relative: after entering a state -------------------------------------------------------
async def test_after_entering_a_state_fires_once_three_hours_later(runtime, scheduler, store):
    await event(runtime, "a", "signup")
    assert (await runtime.customer("a")).timers["coupon_nudge"].due == parse_time("2026-11-23 12:00")
    await advance(scheduler, "179m")
    assert await fired(store, "a", "coupon_nudge") == []
    await advance(scheduler, "1m")
    assert await fired(store, "a", "coupon_nudge") == ["2026-11-23 12:00 Mon"]
    await advance(scheduler, "3d")
    assert await fired(store, "a", "coupon_nudge") == ["2026-11-23 12:00 Mon"]
    a = await runtime.customer("a")
    assert a.counters["coupon_nudge"] == 1 and "coupon_nudge" not in await store.pending_timers("a")


async def test_the_guard_is_evaluated_when_the_timer_fires(runtime, scheduler, store):
    await event(runtime, "a", "signup")
    await event(runtime, "b", "signup")
    await advance(scheduler, "1h")
    await event(runtime, "a", "coupon_claimed")  # after the timer was set, before it fires
    await advance(scheduler, "3h")
    assert await fired(store, "a", "coupon_nudge") == []
    assert await fired(store, "b", "coupon_nudge") == ["2026-11-23 12:00 Mon"]
    guarded = [line for line in await journal(store, "a") if line["k"] == "timer_guard"]
    assert guarded == [{"t": int(parse_time("2026-11-23 12:00")), "k": "timer_guard", "timer": "coupon_nudge",
                        "allowed": False}]
    assert "coupon_nudge" not in await store.pending_timers("a")


async def test_leaving_the_bound_state_cancels_its_timers(runtime, scheduler, store):
    await event(runtime, "a", "signup")
    await event(runtime, "a", "remind_me", after=7200)  # a hand-set timer, bound to "trial"
    assert {"coupon_nudge", "manual"} <= set(await store.pending_timers("a"))
    await advance(scheduler, "1h")
    await event(runtime, "a", "join")
    pending = await store.pending_timers("a")
    assert "coupon_nudge" not in pending and "manual" not in pending
    assert {"payday", "statement", "flaky"} <= set(pending)  # the member's own timers
    await advance(scheduler, "5h")
    assert await fired(store, "a", "coupon_nudge") == [] and await fired(store, "a", "manual") == []


async def test_an_unbound_timer_survives_state_changes_but_fires_only_where_its_handler_listens(
        runtime, scheduler, store):
    await event(runtime, "a", "signup")
    await event(runtime, "a", "remind_me", after=3600, bound=False)
    await event(runtime, "b", "signup")
    await event(runtime, "b", "remind_me", after=3600, bound=False)
    await event(runtime, "a", "join")
    await event(runtime, "b", "leave")  # the handler listens in trial and member only
    await advance(scheduler, "2h")
    assert await fired(store, "a", "manual") == ["2026-11-23 10:00 Mon"]
    assert await fired(store, "b", "manual") == []
    assert any(line["k"] == "timer_skipped" and line["timer"] == "manual" for line in await journal(store, "b"))
    assert "manual" not in await store.pending_timers("b")


# -- daily, on the customer's weekdays, with an offset from the customer's session time ------
async def test_daily_on_training_days_with_an_offset_from_the_session_time(runtime, scheduler, store):
    await member(runtime, "a", session="20:00", training_days=[1, 3, 5])
    await advance(scheduler, "7d")
    assert await fired(store, "a", "brief") == ["2026-11-23 10:00 Mon", "2026-11-25 10:00 Wed",
                                                "2026-11-27 10:00 Fri"]
    assert await fired(store, "a", "prep") == ["2026-11-23 17:00 Mon", "2026-11-25 17:00 Wed",
                                               "2026-11-27 17:00 Fri"]
    # recurring: already armed for the next training day
    assert local((await runtime.customer("a")).timers["brief"].due) == "2026-11-30 10:00 Mon"


async def test_the_offset_counts_from_the_session_day_not_the_day_it_lands_on(runtime, scheduler, store):
    # a 01:00 session on Mondays: "3 h before" is 22:00 on Sunday
    await member(runtime, "a", session="01:00", training_days=[1])
    assert local((await runtime.customer("a")).timers["prep"].due) == "2026-11-29 22:00 Sun"
    await advance(scheduler, "14d")
    assert await fired(store, "a", "prep") == ["2026-11-29 22:00 Sun", "2026-12-06 22:00 Sun"]


async def test_daily_timers_follow_the_customer_changing_their_schedule(runtime, scheduler, store):
    await member(runtime, "a", session="20:00", training_days=EVERY_DAY)
    assert local((await runtime.customer("a")).timers["prep"].due) == "2026-11-23 17:00 Mon"
    await advance(scheduler, "3h")
    await event(runtime, "a", "profile", session="21:00")
    assert local((await runtime.customer("a")).timers["prep"].due) == "2026-11-23 18:00 Mon"
    await advance(scheduler, "8h")
    assert await fired(store, "a", "prep") == ["2026-11-23 18:00 Mon"]
    # no training days any more: the daily timers are cancelled, not left to fire
    await event(runtime, "a", "profile", training_days=[])
    pending = await store.pending_timers("a")
    assert "prep" not in pending and "brief" not in pending
    await advance(scheduler, "3d")
    assert await fired(store, "a", "prep") == ["2026-11-23 18:00 Mon"]


async def test_a_session_time_that_is_not_a_time_skips_the_timer_not_the_customer(runtime, store):
    await member(runtime, "a", session="8pm", training_days=EVERY_DAY)
    a = await runtime.customer("a")
    assert "prep" not in a.timers and "brief" in a.timers


# -- monthly, yearly, days after joining -----------------------------------------------------
async def test_monthly_on_the_8th_and_the_31st_clamped_to_short_months(runtime, scheduler, store):
    await member(runtime, "a")
    await advance_to(scheduler, "2027-03-01 00:00")
    assert await fired(store, "a", "payday") == ["2026-12-08 09:00 Tue", "2027-01-08 09:00 Fri",
                                                 "2027-02-08 09:00 Mon"]
    assert await fired(store, "a", "statement") == ["2026-11-30 18:00 Mon", "2026-12-31 18:00 Thu",
                                                    "2027-01-31 18:00 Sun", "2027-02-28 18:00 Sun"]
    a = await runtime.customer("a")
    assert local(a.timers["statement"].due) == "2027-03-31 18:00 Wed"


async def test_yearly_birthday_at_nine(runtime, scheduler, store):
    await event(runtime, "a", "profile", birthday="1990-03-15")
    await event(runtime, "leap", "profile", birthday="02-29")
    assert local((await runtime.customer("a")).timers["birthday"].due) == "2027-03-15 09:00 Mon"
    assert local((await runtime.customer("leap")).timers["birthday"].due) == "2027-02-28 09:00 Sun"
    await advance_to(scheduler, "2027-03-16 00:00")
    assert await fired(store, "a", "birthday") == ["2027-03-15 09:00 Mon"]
    assert await fired(store, "leap", "birthday") == ["2027-02-28 09:00 Sun"]
    assert local((await runtime.customer("a")).timers["birthday"].due) == "2028-03-15 09:00 Wed"
    assert local((await runtime.customer("leap")).timers["birthday"].due) == "2028-02-29 09:00 Tue"


async def test_days_7_15_and_30_after_joining(runtime, scheduler, store):
    await runtime.handle(TextMessage(user="a", dedupe_key="m:1", text="hi"))
    await advance(scheduler, "40d")
    assert await fired(store, "a", "day7") == ["2026-11-30 10:00 Mon"]
    assert await fired(store, "a", "day15") == ["2026-12-08 10:00 Tue"]
    assert await fired(store, "a", "day30") == ["2026-12-23 10:00 Wed"]


# -- relative to a date and time in the customer's data --------------------------------------
async def test_a_day_before_the_appointment_at_nine_and_two_hours_before_it(runtime, scheduler, store):
    await event(runtime, "a", "profile", appointment="2026-11-27 10:30")  # a Friday
    pending = await store.pending_timers("a")
    assert pending["appointment_eve"] == parse_time("2026-11-26 09:00")
    assert pending["chair_ready"] == parse_time("2026-11-27 08:30")
    await advance(scheduler, "7d")
    assert await fired(store, "a", "appointment_eve") == ["2026-11-26 09:00 Thu"]
    assert await fired(store, "a", "chair_ready") == ["2026-11-27 08:30 Fri"]  # once each, not again
    assert {"appointment_eve", "chair_ready"}.isdisjoint(await store.pending_timers("a"))


async def test_a_moved_appointment_moves_the_reminder_and_a_cleared_one_cancels_it(runtime, scheduler, store):
    await event(runtime, "a", "profile", appointment="2026-11-27 10:30")
    await event(runtime, "b", "profile", appointment="2026-11-27 10:30")
    await advance(scheduler, "1d")
    await event(runtime, "a", "profile", appointment="2026-12-02T15:00:00+08:00")  # moved to next week
    await event(runtime, "b", "profile", appointment=None)  # cancelled
    assert (await store.pending_timers("a"))["appointment_eve"] == parse_time("2026-12-01 09:00")
    assert {"appointment_eve", "chair_ready"}.isdisjoint(await store.pending_timers("b"))
    await advance(scheduler, "14d")
    assert await fired(store, "a", "appointment_eve") == ["2026-12-01 09:00 Tue"]
    assert await fired(store, "a", "chair_ready") == ["2026-12-02 13:00 Wed"]
    assert await fired(store, "b", "appointment_eve") == [] and await fired(store, "b", "chair_ready") == []
    # the next appointment after one that was reminded of is reminded of too
    await event(runtime, "a", "profile", appointment="2026-12-20")
    await advance(scheduler, "14d")
    assert await fired(store, "a", "appointment_eve") == ["2026-12-01 09:00 Tue", "2026-12-19 09:00 Sat"]


async def test_a_reminder_whose_moment_has_passed_or_a_date_that_is_not_one_is_not_armed(
        runtime, scheduler, store, caplog):
    await event(runtime, "a", "profile", appointment="2026-11-24 08:00")  # "a day before, 09:00" is now
    pending = await store.pending_timers("a")
    assert "appointment_eve" not in pending and pending["chair_ready"] == parse_time("2026-11-24 06:00")
    await event(runtime, "b", "profile", appointment="next Friday")
    assert {"appointment_eve", "chair_ready"}.isdisjoint(await store.pending_timers("b"))
    assert "'next Friday' is not \"YYYY-MM-DD HH:MM\"" in caplog.text
    await event(runtime, "c", "profile", appointment=parse_time("2026-11-25 18:00"), tz="Europe/Paris")
    assert (await store.pending_timers("c"))["appointment_eve"] == parse_time("2026-11-24 09:00", "Europe/Paris")


# -- inactivity ------------------------------------------------------------------------------
async def test_inactivity_is_rearmed_by_the_customer_not_by_business_events(runtime, scheduler, store):
    await runtime.handle(TextMessage(user="a", dedupe_key="m:1", text="hi"))
    assert local((await runtime.customer("a")).timers["recall"].due) == "2026-12-07 09:00 Mon"
    await advance(scheduler, "10d")
    await runtime.handle(TextMessage(user="a", dedupe_key="m:2", text="still here"))
    assert local((await runtime.customer("a")).timers["recall"].due) == "2026-12-17 09:00 Thu"
    await advance(scheduler, "2d")
    await event(runtime, "a", "profile", likes="running")  # the brand's system, not the customer
    assert local((await runtime.customer("a")).timers["recall"].due) == "2026-12-17 09:00 Thu"
    await advance(scheduler, "40d")
    assert await fired(store, "a", "recall") == ["2026-12-17 09:00 Thu"]  # once per silence
    assert "recall" not in await store.pending_timers("a")
    await runtime.handle(TextMessage(user="a", dedupe_key="m:3", text="back"))
    assert local((await runtime.customer("a")).timers["recall"].due) == "2027-01-28 09:00 Thu"


async def test_a_message_at_the_moment_inactivity_is_due_rearms_it(runtime, scheduler, store, clock):
    await runtime.handle(TextMessage(user="a", dedupe_key="m:1", text="hi"))
    clock.set(parse_time("2026-12-07 09:00"))  # due, not yet fired
    await runtime.handle(TextMessage(user="a", dedupe_key="m:2", text="hi again"))
    await scheduler.run_once()
    assert await fired(store, "a", "recall") == []
    assert local((await runtime.customer("a")).timers["recall"].due) == "2026-12-21 09:00 Mon"


# -- time zones ------------------------------------------------------------------------------
async def test_ten_oclock_is_ten_oclock_where_the_customer_lives(runtime, scheduler, store):
    await member(runtime, "ny", tz="America/New_York", training_days=EVERY_DAY)
    await member(runtime, "sh", training_days=EVERY_DAY)
    await advance(scheduler, "2d")
    assert await fired(store, "ny", "brief", tz="America/New_York") == ["2026-11-23 10:00 Mon",
                                                                        "2026-11-24 10:00 Tue"]
    assert await fired(store, "ny", "brief") == ["2026-11-23 23:00 Mon", "2026-11-24 23:00 Tue"]
    assert await fired(store, "sh", "brief") == ["2026-11-23 10:00 Mon", "2026-11-24 10:00 Tue"]


async def test_daylight_saving_time_keeps_local_time(store):
    clock = FakeClock("2027-03-12 09:00")
    runtime = Runtime(Clockwork(), store, clock)
    scheduler = Scheduler(runtime)
    await member(runtime, "ny", tz="America/New_York", training_days=EVERY_DAY)
    await advance(scheduler, "4d")  # clocks in New York spring forward on 14 March 2027
    assert await fired(store, "ny", "brief", tz="America/New_York") == [
        "2027-03-12 10:00 Fri", "2027-03-13 10:00 Sat", "2027-03-14 10:00 Sun", "2027-03-15 10:00 Mon"]


async def test_an_unknown_time_zone_falls_back_instead_of_breaking_the_customer(runtime, scheduler, store):
    await member(runtime, "a", tz="Mars/Olympus_Mons", training_days=EVERY_DAY)
    await advance(scheduler, "1d")
    assert await fired(store, "a", "brief") == ["2026-11-23 10:00 Mon"]


# -- downtime: grace, lateness, recurring re-arm ---------------------------------------------
async def test_after_downtime_late_within_grace_fires_and_beyond_is_skipped_and_counted(
        runtime, scheduler, store, clock):
    await member(runtime, "a", training_days=EVERY_DAY)
    clock.set(parse_time("2026-11-23 10:30"))  # the scheduler was down at 10:00
    await scheduler.run_once()
    assert await fired(store, "a", "brief") == ["2026-11-23 10:30 Mon"]
    clock.set(parse_time("2026-11-24 11:30"))  # down again, longer than the 1 h grace
    await scheduler.run_once()
    assert await fired(store, "a", "brief") == ["2026-11-23 10:30 Mon"]
    assert runtime.metrics.value("timers_late", persona="clockwork", timer="brief") == 1
    late = [line for line in await journal(store, "a") if line["k"] == "timer_late" and line["timer"] == "brief"]
    assert [line["late"] for line in late] == [5400]
    a = await runtime.customer("a")
    assert a.counters["brief"] == 1 and local(a.timers["brief"].due) == "2026-11-25 10:00 Wed"


async def test_a_late_one_shot_timer_is_skipped_for_good(runtime, scheduler, store, clock):
    await event(runtime, "a", "signup")
    clock.set(parse_time("2026-11-23 13:30"))  # 90 min after coupon_nudge was due
    await scheduler.run_once()
    assert await fired(store, "a", "coupon_nudge") == []
    assert "coupon_nudge" not in await store.pending_timers("a")
    assert runtime.metrics.value("timers_late", persona="clockwork", timer="coupon_nudge") == 1


async def test_a_timer_handler_that_raises_is_journaled_and_comes_back_next_time(runtime, scheduler, store):
    await member(runtime, "a", break_flaky=True)
    await advance(scheduler, "4h")
    a = await runtime.customer("a")
    assert "flaky" not in a.counters  # the turn's changes were rolled back
    errors = [line for line in await journal(store, "a") if line["k"] == "error"]
    assert len(errors) == 1 and "the flaky timer broke" in errors[0]["error"]
    assert local(a.timers["flaky"].due) == "2026-11-24 12:00 Tue"
    await event(runtime, "a", "profile", break_flaky=None)
    await advance(scheduler, "1d")
    assert (await runtime.customer("a")).counters["flaky"] == 1


# -- many schedulers -------------------------------------------------------------------------
async def reminders(runtime: Runtime, users: list[str]) -> None:
    for user in users:
        await event(runtime, user, "signup")
        await event(runtime, user, "remind_me", after=60)


async def test_two_schedulers_fire_each_timer_once(runtime, store, clock):
    users = [f"u{i}" for i in range(30)]
    await reminders(runtime, users)
    clock.advance(60)
    other = Runtime(Clockwork(), store, clock)  # another process on the same store
    claimed = await asyncio.gather(Scheduler(runtime, batch=7).run_once(), Scheduler(other, batch=7).run_once())
    assert sum(claimed) == len(users)
    for user in users:
        assert (await runtime.customer(user)).counters["manual"] == 1


async def test_a_timer_claimed_twice_fires_once(runtime, store, clock):
    users = [f"u{i}" for i in range(5)]
    await reminders(runtime, users)
    clock.advance(60)
    stalled = await store.claim_timers(clock.now(), 100, lease=30)  # a scheduler claims, then stalls
    assert {u for u, n, _ in stalled if n == "manual"} == set(users)
    clock.advance(31)  # its lease runs out: another scheduler takes over
    assert await Scheduler(runtime, lease=30).run_once() == len(users)
    late = [await runtime.handle(TimerFired(user=u, name=n)) for u, n, _ in stalled]  # the stalled one wakes
    assert all(outcome.status == "unhandled" for outcome in late)
    for user in users:
        assert (await runtime.customer(user)).counters["manual"] == 1
        assert "manual" not in await store.pending_timers(user)


async def test_a_claimer_that_died_leaves_its_timers_claimable_after_the_lease(runtime, store, clock):
    await reminders(runtime, ["a"])
    clock.advance(60)
    assert len(await store.claim_timers(clock.now(), 100, lease=30)) == 1  # and then it died
    survivor = Scheduler(runtime, lease=30)
    assert await survivor.run_once() == 0
    clock.advance(29)
    assert await survivor.run_once() == 0
    clock.advance(1)
    assert await survivor.run_once() == 1
    assert (await runtime.customer("a")).counters["manual"] == 1


async def test_a_recurring_timer_fired_twice_at_once_fires_and_rearms_once(runtime, store, clock):
    await member(runtime, "a", training_days=EVERY_DAY)
    clock.set(parse_time("2026-11-23 10:00"))
    outcomes = await asyncio.gather(*(runtime.handle(TimerFired(user="a", name="brief")) for _ in range(4)))
    assert sorted(o.status for o in outcomes) == ["done", "unhandled", "unhandled", "unhandled"]
    a = await runtime.customer("a")
    assert a.counters["brief"] == 1 and local(a.timers["brief"].due) == "2026-11-24 10:00 Tue"
    assert (await store.pending_timers("a")).get("brief") == a.timers["brief"].due


async def test_run_until_needs_a_fake_clock(store):
    from persona import Clock, PersonaError

    scheduler = Scheduler(Runtime(Clockwork(), store, Clock()))
    with pytest.raises(PersonaError, match="FakeClock"):
        await scheduler.run_until(0)


# -- definitions and pure schedules ----------------------------------------------------------
@pytest.mark.parametrize("kwargs, message", [
    ({"after": "1h", "daily": "10:00"}, "choose one schedule"),
    ({"weekdays": [1]}, "goes with daily"),
    ({"offset": "-1d"}, "offset= goes with daily=.* or relative_to="),
    ({"relative_to": ""}, "names the customer attribute holding a date and time"),
    ({"relative_to": "appointment", "after": "1h"}, "choose one schedule"),
    ({"relative_to": "appointment", "at": "9am"}, "HH:MM"),
    ({"daily": "10h"}, "HH:MM"),
    ({"daily": "10:00", "weekdays": [0, 8]}, "ISO numbers"),
    ({"monthly": 32}, "1-31"),
    ({"after": "3x"}, "unknown unit 'x'"),
    ({"days_after_joining": -1}, ">= 0"),
    ({"inactive": "0s"}, "longer than zero"),
    ({"yearly": ""}, "names the customer attribute"),
])
def test_schedules_are_checked_when_the_bot_is_imported(kwargs, message):
    with pytest.raises(DefinitionError, match=message):
        TimerSpec.build("t", **kwargs)


def test_next_due_is_strictly_after_now():
    spec = TimerSpec.build("t", daily="10:00")
    c = Customer("a", "new")
    at_ten = parse_time("2026-11-23 10:00")
    assert spec.next_due(c, at_ten, "Asia/Shanghai", at_ten) == parse_time("2026-11-24 10:00")
    assert spec.next_due(c, at_ten - 1, "Asia/Shanghai", at_ten) == at_ten
    monthly = TimerSpec.build("m", monthly=31, at="09:00")
    assert monthly.next_due(c, parse_time("2028-02-01 00:00"), "Asia/Shanghai", 0) == parse_time("2028-02-29 09:00")
