"""The customer-respect gate, driven through the runtime on a fake clock, on every store."""

from __future__ import annotations

import asyncio

import pytest

from persona import MediaMessage, PlatformEvent, TextMessage
from persona.clock import parse_time
from persona.engine.scheduler import Scheduler
from tests.gate.conftest import (NO_MASS_CAPS, decided, journal, make_runtime, outbox, say, text,
                                 wecom_customer)

SENT = ("send", "")


def actions(decisions: list[tuple[str, str, str]]) -> list[tuple[str, str]]:
    return [(action, reason) for _, action, reason in decisions]


# -- frequency caps --------------------------------------------------------------------------
async def test_proactive_marketing_is_capped_per_day_and_per_week(own_caps, clock):
    runtime = own_caps
    await wecom_customer(runtime, "a")
    assert actions(await say(runtime, "a", "promo", "promo", "promo")) == [SENT, SENT, ("drop", "daily_cap")]
    clock.advance(86400)
    assert actions(await say(runtime, "a", "promo", "promo")) == [SENT, SENT]
    clock.advance(86400)
    assert actions(await say(runtime, "a", "promo", "promo")) == [SENT, ("drop", "weekly_cap")]
    clock.set(parse_time("2026-11-30 10:00"))  # a new week
    assert actions(await say(runtime, "a", "promo")) == [SENT]


async def test_caps_are_configured_per_persona(store, clock):
    runtime = make_runtime(store, clock, daily_cap=1, weekly_cap=1, **NO_MASS_CAPS)
    await wecom_customer(runtime, "a")
    assert actions(await say(runtime, "a", "promo", "promo")) == [SENT, ("drop", "daily_cap")]
    clock.advance(86400)
    assert actions(await say(runtime, "a", "promo")) == [("drop", "weekly_cap")]


async def test_replies_and_service_messages_spend_no_cap(own_caps):
    runtime = own_caps
    await wecom_customer(runtime, "a")
    for _ in range(4):
        assert actions(await text(runtime, "a", "hi")) == [SENT]  # answering is not proactive
    assert actions(await say(runtime, "a", "notice", "notice", "notice")) == [SENT] * 3
    assert actions(await say(runtime, "a", "promo", "promo", "promo")) == [SENT, SENT, ("drop", "daily_cap")]


async def test_two_processes_never_both_spend_the_last_slot(own_caps, store):
    runtime = own_caps
    await wecom_customer(runtime, "a")
    results = await asyncio.gather(*(say(runtime, "a", "promo") for _ in range(8)))
    assert sorted(r[0][1] for r in results) == ["drop"] * 6 + ["send"] * 2
    assert len(await outbox(store)) == 2


# -- quiet hours ---------------------------------------------------------------------------
async def test_quiet_hours_defer_proactive_marketing_to_their_end(runtime, store, clock):
    await wecom_customer(runtime, "a")
    await outbox(store)
    clock.set(parse_time("2026-11-23 23:00"))
    assert actions(await say(runtime, "a", "promo", "notice")) == [("defer", "quiet_hours"), SENT]
    assert actions(await text(runtime, "a", "hi")) == [SENT]  # the customer is awake and asked
    items = {i["message"]["script"]: i["due"] for i in await outbox(store)}
    assert items == {"promo": parse_time("2026-11-24 08:00"), "notice": clock.now(), "answer": clock.now()}
    [deferred] = [line for line in await journal(store, "a") if line["action"] == "defer"]
    assert deferred["reason"] == "quiet_hours" and deferred["due"] == parse_time("2026-11-24 08:00")


async def test_quiet_hours_are_the_customers_own(runtime, store, clock):
    await wecom_customer(runtime, "ny", tz="America/New_York")
    clock.set(parse_time("2026-11-23 23:00"))  # 10:00 in New York
    assert actions(await say(runtime, "ny", "promo")) == [SENT]
    clock.set(parse_time("2026-11-24 11:30"))  # 22:30 in New York
    assert actions(await say(runtime, "ny", "promo")) == [("defer", "quiet_hours")]
    dues = sorted(i["due"] for i in await outbox(store) if i["message"].get("script") == "promo")
    assert dues[-1] == parse_time("2026-11-24 08:00", "America/New_York")


async def test_a_message_stale_by_the_end_of_quiet_hours_is_dropped(store, clock):
    runtime = make_runtime(store, clock, stale_after=3 * 3600)
    await wecom_customer(runtime, "a")
    clock.set(parse_time("2026-11-23 23:00"))
    assert actions(await say(runtime, "a", "promo")) == [("drop", "stale_after_quiet_hours")]
    clock.set(parse_time("2026-11-24 06:00"))
    assert actions(await say(runtime, "a", "promo")) == [("defer", "quiet_hours")]


async def test_deferred_messages_spend_the_cap_of_the_day_they_go_out(own_caps, clock):
    runtime = own_caps
    await wecom_customer(runtime, "a")
    clock.set(parse_time("2026-11-23 23:00"))
    assert actions(await say(runtime, "a", "promo", "promo")) == [("defer", "quiet_hours")] * 2
    clock.set(parse_time("2026-11-24 10:00"))
    assert actions(await say(runtime, "a", "promo")) == [("drop", "daily_cap")]


async def test_quiet_hours_are_configurable(store, clock):
    runtime = make_runtime(store, clock, quiet_start="09:00", quiet_end="11:00")
    await wecom_customer(runtime, "a")
    assert actions(await say(runtime, "a", "promo")) == [("defer", "quiet_hours")]


async def test_answering_a_photo_at_night_is_a_reply_not_marketing(runtime, clock):
    await wecom_customer(runtime, "a")
    clock.set(parse_time("2026-11-23 23:30"))
    out = await runtime.handle(MediaMessage(user="a", dedupe_key="m:photo", media_type="image"))
    assert actions(decided(out)) == [SENT]


# -- opt-out -------------------------------------------------------------------------------
@pytest.mark.parametrize("word", ["退订", "TD", "td", "取消", "unsubscribe"])
async def test_opt_out_words_stop_marketing_at_once_and_service_still_answers(runtime, store, word):
    await text(runtime, "a", "hello")  # an Official Account follower: the 48 h window is open
    await text(runtime, "a", word)
    a = await runtime.customer("a")
    assert a.opted_out
    assert "promo_daily" not in a.timers and "instalment" in a.timers  # marketing timers end
    assert "promo_daily" not in await store.pending_timers("a")
    assert actions(await say(runtime, "a", "promo", "notice")) == [("drop", "opted_out"), SENT]
    assert actions(await text(runtime, "a", "hi")) == [("drop", "opted_out")]
    assert actions(await text(runtime, "a", "订单")) == [SENT]
    assert [line["k"] for line in await journal(store, "a", "opt_out")] == ["opt_out"]


async def test_opting_back_in_with_a_keyword_resumes_marketing(runtime, store):
    await text(runtime, "a", "退订")
    await text(runtime, "a", "订阅")
    a = await runtime.customer("a")
    assert not a.opted_out and "promo_daily" in a.timers
    assert actions(await say(runtime, "a", "promo")) == [SENT]
    assert len(await journal(store, "a", "opt_in")) == 1


@pytest.mark.parametrize("event, back", [("unsubscribe", "subscribe"), ("del_follow_user", "add_external_contact")])
async def test_platform_events_opt_out_and_back_in(runtime, event, back):
    await runtime.handle(PlatformEvent(user="a", dedupe_key="e:1", name=event))
    assert (await runtime.customer("a")).opted_out
    assert actions(await say(runtime, "a", "promo")) == [("drop", "opted_out")]
    await runtime.handle(PlatformEvent(user="a", dedupe_key="e:2", name=back))
    assert not (await runtime.customer("a")).opted_out


async def test_an_opted_out_customer_keeps_service_timers_only(runtime, store, clock):
    await text(runtime, "a", "退订")
    scheduler = Scheduler(runtime)
    await scheduler.run_until(parse_time("2026-12-09 00:00"))
    a = await runtime.customer("a")
    outs = await journal(store, "a")
    assert [line["script"] for line in outs if line["action"] != "drop"] == ["fallback"]  # the instalment notice
    assert not any(line["script"] == "promo" for line in outs)
    assert "promo_daily" not in a.timers


# -- the Official Account's customer-service window --------------------------------------
async def test_customer_service_messages_only_within_48h_of_the_last_message(store, clock):
    runtime = make_runtime(store, clock, fallback_template=None)
    assert actions(await say(runtime, "a", "notice")) == [("drop", "kf_window_closed")]
    await text(runtime, "a", "hello")
    clock.advance(47 * 3600)
    assert actions(await say(runtime, "a", "notice")) == [SENT]
    clock.advance(2 * 3600)
    assert actions(await say(runtime, "a", "notice")) == [("drop", "kf_window_closed")]


async def test_at_most_five_in_the_window_and_a_new_message_opens_a_new_one(store, clock):
    runtime = make_runtime(store, clock, fallback_template=None)
    await text(runtime, "a", "hello")
    assert actions(await say(runtime, "a", *["notice"] * 6)) == [SENT] * 5 + [("drop", "kf_window_spent")]
    await text(runtime, "a", "hello again")
    assert actions(await say(runtime, "a", "notice")) == [SENT]


@pytest.mark.parametrize("event", ["subscribe", "click", "scan"])
async def test_three_within_a_minute_after_a_click_follow_or_scan(store, clock, event):
    runtime = make_runtime(store, clock, fallback_template=None)
    await runtime.handle(PlatformEvent(user="a", dedupe_key="e:1", name=event, key="MENU_1"))
    clock.advance(30)
    assert actions(await say(runtime, "a", *["notice"] * 4)) == [SENT] * 3 + [("drop", "kf_window_spent")]
    await runtime.handle(PlatformEvent(user="b", dedupe_key="e:1", name=event, key="MENU_1"))
    clock.advance(61)
    assert actions(await say(runtime, "b", "notice")) == [("drop", "kf_window_closed")]  # no 48 h window


async def test_the_budget_lives_on_the_customers_record(runtime):
    await text(runtime, "a", "hello")
    await say(runtime, "a", "notice", "notice")
    a = await runtime.customer("a")
    assert a.budget["km"] == [int(parse_time("2026-11-23 10:00")), 2]


# -- WeCom ---------------------------------------------------------------------------------
async def test_wecom_mass_messages_are_capped_per_day_and_per_month(store, clock):
    runtime = make_runtime(store, clock, daily_cap=10, weekly_cap=50)
    await wecom_customer(runtime, "a")
    assert actions(await say(runtime, "a", "mass", "mass")) == [SENT, ("drop", "mass_daily_cap")]
    for _ in range(3):
        clock.advance(86400)
        assert actions(await say(runtime, "a", "mass")) == [SENT]
    clock.advance(86400)
    assert actions(await say(runtime, "a", "mass")) == [("drop", "mass_monthly_cap")]  # 4 this month
    clock.set(parse_time("2026-12-01 10:00"))
    assert actions(await say(runtime, "a", "mass")) == [SENT]


async def test_both_mass_caps_apply_the_stricter_wins(store, clock):
    runtime = make_runtime(store, clock, daily_cap=10, wecom_mass_per_day=3, wecom_mass_per_month=2)
    await wecom_customer(runtime, "a")
    assert actions(await say(runtime, "a", "mass", "mass", "mass")) == [SENT, SENT, ("drop", "mass_monthly_cap")]


@pytest.mark.parametrize("user, profiled", [("a", True), ("wmAbCdEf", False)])  # platform=wecom, or the id
async def test_proactive_marketing_to_a_wecom_customer_with_no_door_named_spends_the_mass_caps(
        store, clock, user, profiled):
    # the router sends it as a WeCom mass message: the platform's caps bind, not only the persona's
    runtime = make_runtime(store, clock, daily_cap=10, weekly_cap=50)
    if profiled:
        await wecom_customer(runtime, user)
    assert actions(await say(runtime, user, "promo", "promo")) == [SENT, ("drop", "mass_daily_cap")]
    assert actions(await say(runtime, user, "mass")) == [("drop", "mass_daily_cap")]  # one budget for both
    for _ in range(3):
        clock.advance(86400)
        assert actions(await say(runtime, user, "promo")) == [SENT]
    clock.advance(86400)
    assert actions(await say(runtime, user, "promo")) == [("drop", "mass_monthly_cap")]  # 4 this month
    # replies and service messages are not mass messages: they spend no cap, even a spent one
    for _ in range(3):
        assert actions(await text(runtime, user, "hi")) == [SENT]
    assert actions(await say(runtime, user, "notice", "notice", "notice")) == [SENT] * 3
    customer = await runtime.customer(user)
    assert customer.budget["md"] == ["20261126", 1] and customer.budget["mm"] == ["202611", 4]
    clock.set(parse_time("2026-12-01 10:00"))
    assert actions(await say(runtime, user, "promo")) == [SENT]


async def test_welcome_message_within_20s_of_the_add_event_and_only_once(runtime, store, clock):
    clock.set(parse_time("2026-11-23 23:30"))  # late at night: the customer just added us
    added = PlatformEvent(user="w", dedupe_key="e:1", name="add_external_contact", key="parcel",
                          data={"staff": "zhang", "welcome_code": "WELCOME-1"})
    out = await runtime.handle(added)
    assert actions(decided(out)) == [SENT]
    [item] = await outbox(store)
    assert item["welcome_code"] == "WELCOME-1" and item["message"]["via"] == "welcome"
    clock.advance(5)
    assert actions(await say(runtime, "w", "welcome")) == [("drop", "welcome_code_used")]
    await runtime.handle(PlatformEvent(user="v", dedupe_key="e:1", name="add_external_contact",
                                       data={"welcome_code": "WELCOME-2"}))
    clock.advance(21)
    assert actions(await say(runtime, "v", "welcome")) == [("drop", "welcome_window_closed")]


async def test_no_welcome_code_no_welcome_message(runtime):
    out = await runtime.handle(PlatformEvent(user="w", dedupe_key="e:1", name="add_external_contact", data={}))
    assert actions(decided(out)) == [("drop", "welcome_window_closed")]


# -- template messages ---------------------------------------------------------------------
async def test_template_messages_are_for_service_never_marketing(runtime):
    assert actions(await say(runtime, "a", "tpl_promo")) == [("drop", "template_is_for_service")]
    assert actions(await say(runtime, "a", "tpl_notice")) == [SENT]  # no 48 h window needed
    await text(runtime, "a", "退订")
    assert actions(await say(runtime, "a", "tpl_notice", "tpl_promo")) == [SENT, ("drop", "opted_out")]


async def test_outside_the_window_a_service_message_becomes_the_fallback_template(runtime, store):
    out = await say(runtime, "a", "notice", "promo")
    assert out == [("fallback", "send", "fallback_template"), ("promo", "drop", "kf_window_closed")]
    [item] = await outbox(store)
    message = item["message"]
    assert message["via"] == "template" and message["category"] == "service"
    assert message["fields"] == {"template_id": "SERVICE_NOTICE"}
    assert message["text"] == "你有一条新的服务通知：你的订单已发货。"


async def test_a_broken_fallback_template_drops_with_the_original_reason(store, clock):
    runtime = make_runtime(store, clock, fallback_template="no_such_script")
    assert actions(await say(runtime, "a", "notice")) == [("drop", "kf_window_closed")]


# -- every decision is a metric and a journal line -----------------------------------------
async def test_every_decision_is_counted_and_journaled(own_caps, store):
    runtime = own_caps
    await wecom_customer(runtime, "a")
    await say(runtime, "a", "promo", "promo", "promo", "tpl_promo")
    m = runtime.metrics
    assert m.value("gate_decisions", persona="polite", action="send", reason="ok") == 2
    assert m.value("gate_decisions", persona="polite", action="drop", reason="daily_cap") == 1
    assert m.value("gate_decisions", persona="polite", action="drop", reason="template_is_for_service") == 1
    lines = [(line["script"], line["action"], line.get("reason")) for line in await journal(store, "a")]
    assert lines == [("promo", "send", None), ("promo", "send", None), ("promo", "drop", "daily_cap"),
                     ("tpl_promo", "drop", "template_is_for_service")]


async def test_staff_messages_pass_the_gate(runtime):
    from persona import Message

    out = await runtime.handle(TextMessage(user="a", dedupe_key="m:1", text="退订"))
    assert out.status == "done"
    decision = runtime.gate.decide(Message("text", "客户 a 退订了", to="staff:zhang"), out.customer,
                                   runtime.persona.policy, runtime.clock.now(), "Asia/Shanghai")
    assert (decision.action, decision.reason) == ("send", "other_recipient")


async def test_a_wecom_id_is_a_wecom_customer_before_any_add_event(runtime):
    # members registered in the brand's system: no Official Account window for the WeCom one
    assert actions(await say(runtime, "wmAbCdEf", "notice")) == [SENT]
    assert actions(await say(runtime, "oAbCdEf", "notice")) == [("send", "fallback_template")]


async def test_in_the_add_turn_an_unnamed_door_is_the_single_use_welcome(runtime):
    # the turn's messages travel as one welcome (delivery merges them into one call)
    out = await runtime.handle(PlatformEvent(user="wmNew", dedupe_key="e:1", name="add_external_contact",
                                             data={"welcome_code": "W", "say": ["promo", "promo"]}))
    assert actions(decided(out)) == [SENT, ("send", "welcome_attachment")]
    # the code is spent: a later turn of the same add window cannot welcome again
    from persona.model.messages import Message

    later = runtime.gate.decide(Message("text", "再欢迎一次", via="welcome"), out.customer,
                                runtime.persona.policy, runtime.clock.now(), "Asia/Shanghai")
    assert (later.action, later.reason) == ("drop", "welcome_code_used")


async def test_a_simulation_prints_what_the_gate_dropped_and_why(capsys):
    from persona.testing import Simulation

    async with Simulation("tests.core.shop", start="2026-11-23 09:00") as sim:
        await sim.wechat("o_follower", "subscribe")  # follows, never writes
        assert [s.script for s in await sim.advance("4d")] == []  # day 3's message never arrives
    [dropped] = sim.dropped
    assert (dropped.to, dropped.script, dropped.reason) == ("o_follower", "day3", "kf_window_closed")
    out = capsys.readouterr().out
    assert "persona: [2026-11-26 10:00] (o_follower) day3 not sent: kf_window_closed" in out
    assert "Policy(fallback_template=...)" in out
