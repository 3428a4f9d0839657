"""理财秘书 scenarios on a fake clock, on every store: what customers, groups and staff receive."""

from __future__ import annotations

import json
from typing import AsyncIterator, Callable

import pytest

from bots.finance_secretary.catalogue import CATALOGUE
from bots.finance_secretary.persona import DAILY_BOARD_TTL
from persona import EventDataError
from persona.testing import Sent, Simulation
from tests.conftest import STORE_KINDS, drop_namespace, store_url

BOT = "bots.finance_secretary"
DESK = "staff_group:wr_sales_daily"
STAFF_GROUP = "wr_sales_daily"


@pytest.fixture(params=STORE_KINDS)
async def simulation(request, tmp_path, namespace) -> AsyncIterator[Callable[..., Simulation]]:
    """``async with simulation(start=...) as sim`` on memory, SQLite and Redis."""
    url = store_url(request.param, tmp_path)
    yield lambda start="2026-11-23 09:00": Simulation(BOT, start=start, store=url, namespace=namespace)
    if request.param == "redis":
        await drop_namespace(url, namespace)


def target(s: Sent) -> str:
    """Who received it: a customer's id, a staff member's id or a group's chat id."""
    return s.to.split(":", 1)[-1]


def lines(sent: list[Sent]) -> list[tuple[str, str, str]]:
    return [(s.when, target(s), s.script) for s in sent]


def to_staff(sent: list[Sent]) -> list[Sent]:
    """WeCom app messages to staff members."""
    return [s for s in sent if s.via == "app"]


async def contact(sim: Simulation, user: str, **profile) -> None:
    """A customer adds the secretary on WeCom and the brand's systems send their profile."""
    await sim.wechat(user, "add_external_contact", staff="zhangsan", welcome_code=f"WC-{user}")
    if profile:
        await sim.event(user, "profile_updated", profile)


# -- arriving and tags -------------------------------------------------------------------------
async def test_welcome_and_tags_from_the_brands_data(simulation):
    async with simulation() as sim:
        sent = await sim.wechat("wm_wang", "add_external_contact", staff="zhangsan", welcome_code="WC1")
        # the welcome promises the group: its invitation rides in the same welcome message
        assert lines(sent) == [("2026-11-23 09:00", "wm_wang", "welcome"),
                               ("2026-11-23 09:00", "wm_wang", "group_invite")]
        assert "理财秘书小盈" in sent[0].text and "定投打卡群" in sent[0].text
        invite = sent[1]
        assert (invite.via, invite.kind) == ("welcome", "link")
        assert invite.fields["url"] == CATALOGUE.group["url"] and "定投打卡群" in invite.fields["title"]
        assert (await sim.customer("wm_wang")).attrs["group_invited"] == "2026-11-23"
        await sim.event("wm_wang", "profile_updated", {
            "birthday": "1990-12-02", "risk": "平衡型", "products": ["F001", "F004"], "activity": "points",
            "points": 520, "group": "wr_g1", "name": "王小明"})
        wang = await sim.customer("wm_wang")
        assert wang.state == "contact"
        assert {k: wang.tags[k] for k in ("birthday", "risk", "activity", "points", "group")} == {
            "birthday": "12-02", "risk": "C3", "activity": "points", "points": "500-999", "group": "wr_g1"}
        assert "holds_F001" in wang.tags and "holds_F004" in wang.tags
        # products is the full list: a product sold off loses its tag
        await sim.event("wm_wang", "profile_updated", {"products": ["F004"]})
        wang = await sim.customer("wm_wang")
        assert "holds_F001" not in wang.tags and "holds_F004" in wang.tags
        sent = await sim.text("wm_wang", "积分")
        assert [s.script for s in sent] == ["points_balance"] and "520 积分" in sent[0].text


async def test_event_data_the_secretary_cannot_use_is_refused_naming_the_field(simulation):
    async with simulation() as sim:
        await contact(sim, "wm_li", name="李雷")
        for data, field in (({"product": "F004", "amount": 1000, "day_of_month": 32}, "day_of_month"),
                            ({"product": "F=4", "amount": 1000, "day_of_month": 8}, "product"),
                            ({"product": " ", "amount": 1000, "day_of_month": 8}, "product")):
            with pytest.raises(EventDataError) as refused:
                await sim.event("wm_li", "schedule_set", data)
            assert refused.value.fields == [field], data
        with pytest.raises(EventDataError, match="birthday '13-40' is not MM-DD"):
            await sim.event("wm_li", "profile_updated", {"birthday": "13-40"})
        li = await sim.customer("wm_li")
        assert "plans" not in li.attrs and not any(t.startswith("holds_") for t in li.tags)


# -- instalments ---------------------------------------------------------------------------------
async def test_an_instalment_not_made_is_reminded_on_the_day_and_once_more_then_never(simulation):
    async with simulation() as sim:
        await contact(sim, "wm_li", name="李雷")
        sent = await sim.event("wm_li", "schedule_set", {"product": "F004", "amount": 1000, "day_of_month": 8})
        assert [s.script for s in sent] == ["plan_confirmed"]
        assert "每月8日" in sent[0].text and "12月8日" in sent[0].text and "¥1,000.00" in sent[0].text
        assert (await sim.customer("wm_li")).state == "investing"

        sent = await sim.advance_to("2026-12-31 23:00")
        reminders = [s for s in sent if s.script.startswith("instalment")]
        assert lines(reminders) == [("2026-12-08 10:00", "wm_li", "instalment_due"),
                                    ("2026-12-09 10:00", "wm_li", "instalment_second")]
        assert "沪深300指数增强 ¥1,000.00" in reminders[0].text and "李雷" in reminders[0].text
        assert "最后一次提醒" in reminders[1].text
        li = await sim.customer("wm_li")
        assert "instalment_overdue" in li.tags and li.counters["instalments_missed"] == 1

        # the next month starts afresh
        sent = await sim.advance_to("2027-01-08 10:00")
        assert lines([s for s in sent if s.script.startswith("instalment")]) == [
            ("2027-01-08 10:00", "wm_li", "instalment_due")]


async def test_an_instalment_made_in_time_is_not_reminded(simulation):
    async with simulation() as sim:
        await contact(sim, "wm_li")
        await sim.event("wm_li", "schedule_set", {"product": "F004", "amount": 1000, "day_of_month": 8})
        await sim.advance_to("2026-12-06 15:00")
        sent = await sim.event("wm_li", "investment_made", {"product": "F004", "amount": 1000})
        assert sent == []  # paying on time is not worth a message
        sent = await sim.advance_to("2027-01-07 23:00")
        assert [s for s in sent if s.script.startswith("instalment")] == []
        sent = await sim.advance_to("2027-01-08 10:00")
        assert lines(sent) == [("2027-01-08 10:00", "wm_li", "instalment_due")]


async def test_paying_after_the_first_reminder_is_thanked_and_stops_the_second(simulation):
    async with simulation() as sim:
        await contact(sim, "wm_li")
        await sim.event("wm_li", "schedule_set", {"product": "F002", "amount": 500, "day_of_month": 8})
        await sim.advance_to("2026-12-08 10:00")
        await sim.advance("5h")
        sent = await sim.event("wm_li", "investment_made", {"product": "F002", "amount": 500})
        assert [s.script for s in sent] == ["instalment_made"] and "稳健纯债C" in sent[0].text
        assert "instalment_overdue" not in (await sim.customer("wm_li")).tags
        sent = await sim.advance_to("2026-12-31 12:00")
        assert [s for s in sent if s.script.startswith("instalment")] == []


async def test_a_plan_on_the_31st_falls_due_on_the_last_day_of_a_short_month(simulation):
    async with simulation(start="2027-02-01 09:00") as sim:
        await contact(sim, "wm_han")
        await sim.event("wm_han", "schedule_set", {"product": "F003", "amount": 2000, "day_of_month": 31})
        await sim.event("wm_han", "schedule_set", {"product": "F001", "amount": 300, "day_of_month": 28})
        sent = await sim.advance_to("2027-03-02 12:00")
        reminders = [s for s in sent if s.script.startswith("instalment")]
        assert lines(reminders) == [("2027-02-28 10:00", "wm_han", "instalment_due"),
                                    ("2027-03-01 10:00", "wm_han", "instalment_second")]
        # both plans fall due on 28 February: one message lists both
        assert "安心货币A ¥300.00" in reminders[0].text and "平衡配置混合 ¥2,000.00" in reminders[0].text


async def test_stopping_the_last_plan_ends_the_reminders(simulation):
    async with simulation() as sim:
        await contact(sim, "wm_li")
        await sim.event("wm_li", "schedule_set", {"product": "F004", "amount": 1000, "day_of_month": 8})
        sent = await sim.event("wm_li", "schedule_set", {"product": "F004", "amount": 0, "day_of_month": 8})
        assert [s.script for s in sent] == ["plan_stopped"]
        li = await sim.customer("wm_li")
        assert li.state == "contact" and "instalment" not in li.timers
        sent = await sim.advance_to("2026-12-31 12:00")
        assert [s for s in sent if s.script.startswith("instalment")] == []


async def test_reminders_the_customer_asked_for_survive_an_opt_out_from_offers(simulation):
    async with simulation() as sim:
        await contact(sim, "wm_li", birthday="12-02")
        await sim.event("wm_li", "schedule_set", {"product": "F004", "amount": 1000, "day_of_month": 8})
        await sim.text("wm_li", "退订")
        li = await sim.customer("wm_li")
        assert li.opted_out and "holiday" not in li.timers and "birthday" not in li.timers
        sent = await sim.advance_to("2027-01-02 12:00")
        assert [s.script for s in sent] == ["instalment_due", "instalment_second"]


async def test_my_plans_answers_with_the_next_dates(simulation):
    async with simulation() as sim:
        await contact(sim, "wm_li")
        await sim.event("wm_li", "schedule_set", {"product": "F004", "amount": 1000, "day_of_month": 8})
        sent = await sim.text("wm_li", "我的定投")
        assert [(s.script, s.via) for s in sent] == [("my_plans", "passive")]
        assert "沪深300指数增强：每月8日 ¥1,000.00，下一期 12月8日 周二" in sent[0].text


# -- the group -----------------------------------------------------------------------------------
async def test_a_large_purchase_credits_every_group_member_once_and_tells_the_group(simulation):
    async with simulation() as sim:
        await contact(sim, "wm_a", group="wr_g1", name="王小明", points=100)
        await contact(sim, "wm_b", group="wr_g1")
        await contact(sim, "wm_x", group="wr_g2")
        # a third member joins through WeCom; the staff member in the same change is skipped
        await sim.wechat("group:wr_g1", "chat_add_member", key="1", chat_id="wr_g1", mem_change_list="wm_c,zhangsan")
        assert (await sim.customer("wm_c")).tags["group"] == "wr_g1"
        assert await sim.customer("zhangsan") is None

        sent = await sim.event("wm_a", "large_purchase", {"amount": 80000}, id="lp-1")
        assert lines(sent) == [("2026-11-23 09:00", "wr_g1", "group_points")] and sent[0].via == "mass"  # a customer group: its owner confirms
        assert "王**" in sent[0].text and "3 位朋友每人获得 80 积分" in sent[0].text
        assert "王小明" not in sent[0].text and "80,000" not in sent[0].text  # who and how much stay private
        points = {u: (await sim.customer(u)).counters.get("points", 0) for u in ("wm_a", "wm_b", "wm_c", "wm_x")}
        assert points == {"wm_a": 180, "wm_b": 80, "wm_c": 80, "wm_x": 0}
        assert (await sim.customer("wm_a")).tags["points"] == "100-499"
        for member in ("wm_a", "wm_b", "wm_c"):  # each in the member's own turn, once
            journal = [json.loads(line) for line in await sim.journal(member)]
            assert sum(1 for j in journal if j.get("input") == "event group_points") == 1

        # the brand's system posts the same event again: nothing moves twice
        assert await sim.event("wm_a", "large_purchase", {"amount": 80000}, id="lp-1") == []
        assert (await sim.customer("wm_b")).counters["points"] == 80

        # leaving the group ends the share
        await sim.wechat("group:wr_g1", "chat_del_member", key="0", chat_id="wr_g1", mem_change_list="wm_c")
        await sim.event("wm_b", "large_purchase", {"amount": 5000})
        assert (await sim.customer("wm_c")).counters["points"] == 80
        assert (await sim.customer("wm_a")).counters["points"] == 190  # the minimum, 10 points


async def test_a_large_purchase_outside_any_group_tells_no_group(simulation):
    async with simulation() as sim:
        await contact(sim, "wm_solo")
        assert await sim.event("wm_solo", "large_purchase", {"amount": 200000}) == []
        assert (await sim.customer("wm_solo")).counters.get("points", 0) == 0


# -- birthdays and holidays ----------------------------------------------------------------------
async def test_birthday_offer_at_nine_every_year(simulation):
    async with simulation() as sim:
        await contact(sim, "wm_wang", birthday="1990-12-02", risk="C4", name="王小明")
        await sim.event("wm_prospect", "profile_updated", {"birthday": "12-02"})  # never added the secretary
        sent = await sim.advance_to("2026-12-03 00:00")
        assert lines(sent) == [("2026-12-02 09:00", "wm_wang", "birthday")]
        assert "生日快乐" in sent[0].text and "+0.50%" in sent[0].text and "有效期到 12月8日" in sent[0].text
        assert "沪深300指数增强" in sent[0].text  # matched to a C4 risk preference
        wang = await sim.customer("wm_wang")
        assert wang.counters["points"] == 88 and wang.tags["points"] == "0-99"
        assert set(await sim.store.pending_timers("wm_wang")) >= {"birthday"}
        assert "points" not in (await sim.customer("wm_prospect")).counters


async def test_a_changed_birthday_moves_the_greeting(simulation):
    async with simulation() as sim:
        await contact(sim, "wm_wang", birthday="12-02")
        await sim.event("wm_wang", "profile_updated", {"birthday": "11-25"})
        sent = await sim.advance_to("2026-12-05 00:00")
        assert lines([s for s in sent if s.script == "birthday"]) == [("2026-11-25 09:00", "wm_wang", "birthday")]


async def test_holiday_offers_follow_the_activity_preference(simulation):
    async with simulation() as sim:
        await contact(sim, "wm_a", activity="points")
        await contact(sim, "wm_b", risk="稳健")
        await sim.event("wm_a", "schedule_set", {"product": "F004", "amount": 1000, "day_of_month": 15})
        sent = await sim.advance_to("2026-12-31 00:00")
        holiday = [s for s in sent if s.script == "holiday"]
        assert sorted(lines(holiday)) == [("2026-12-30 10:00", "wm_a", "holiday"), ("2026-12-30 10:00", "wm_b", "holiday")]
        by_user = {s.to: s.text for s in holiday}
        assert "元旦" in by_user["wm_a"] and "新年第一笔定投送 100 积分" in by_user["wm_a"]
        assert "顺延到节后第一个交易日" in by_user["wm_a"]  # has a plan
        assert "加息" in by_user["wm_b"] and "稳健纯债C" in by_user["wm_b"]  # default offer, C2 pick
        # the next holiday is armed already
        assert (await sim.customer("wm_a")).timers["holiday"].data == {"key": "2027-spring"}


# -- the sales team ------------------------------------------------------------------------------
async def test_a_daily_sales_leaderboard_goes_to_the_staff_group_at_six(simulation, monkeypatch):
    async with simulation() as sim:
        ttls: set[float | None] = set()
        zincr = sim.store.zincr

        async def scored(key, member, amount, ttl=None):  # a day's board does not stay forever
            ttls.add(ttl)
            return await zincr(key, member, amount, ttl)

        monkeypatch.setattr(sim.store, "zincr", scored)
        await sim.event("wm_a", "sale_closed", {"sales": "lisi", "amount": 30000})
        await sim.event("wm_b", "sale_closed", {"sales": "zhangsan", "amount": 50000})
        await sim.advance("2h")
        await sim.event("wm_c", "sale_closed", {"sales": "lisi", "amount": 25000})
        assert (await sim.customer(DESK)).state == "desk"
        sent = await sim.advance_to("2026-11-23 18:30")
        assert lines(sent) == [("2026-11-23 18:00", STAFF_GROUP, "leaderboard")]
        text = sent[0].text
        assert text.index("1. 李四  ¥55,000.00（2 单）") < text.index("2. 张三  ¥50,000.00（1 单）")
        assert "上榜合计 ¥105,000.00" in text
        assert ttls == {DAILY_BOARD_TTL.total_seconds()}

        # closed after the report: it counts towards tomorrow's board
        await sim.event("wm_d", "sale_closed", {"sales": "wangwu", "amount": 8000})
        sent = await sim.advance_to("2026-11-24 18:30")
        assert lines(sent) == [("2026-11-24 18:00", STAFF_GROUP, "leaderboard")]
        assert "1. 王五  ¥8,000.00（1 单）" in sent[0].text and "李四" not in sent[0].text
        # a day without sales stays quiet
        assert await sim.advance_to("2026-11-25 18:30") == []


async def test_a_customer_not_followed_up_alerts_the_salesperson_then_their_leader(simulation):
    async with simulation() as sim:
        await contact(sim, "wm_li", name="李雷")
        await sim.event("wm_li", "sales_assigned", {"sales": "zhangsan", "leader": "chenjl"})
        assert (await sim.customer("wm_li")).tags["follow_up"] == "pending"
        sent = await sim.advance("3d")
        staff = to_staff(sent)
        assert lines(staff) == [("2026-11-24 09:00", "zhangsan", "follow_up_overdue"),
                                ("2026-11-25 09:00", "zhangsan", "follow_up_overdue"),
                                ("2026-11-25 09:00", "chenjl", "follow_up_escalated")]
        assert "李雷" in staff[0].text and "24 小时" in staff[0].text
        assert "48 小时" in staff[2].text and "张三" in staff[2].text and "陈经理" in staff[2].text
        assert (await sim.customer("wm_li")).tags["follow_up"] == "overdue"


async def test_a_follow_up_in_time_silences_the_alerts(simulation):
    async with simulation() as sim:
        await contact(sim, "wm_li")
        await contact(sim, "wm_han")
        await sim.event("wm_li", "sales_assigned", {"sales": "zhangsan", "leader": "chenjl"})
        await sim.event("wm_han", "sales_assigned", {"sales": "lisi", "leader": "zhoujl"})
        await sim.advance("20h")
        await sim.event("wm_li", "followed_up", {"sales": "zhangsan"})
        sent = await sim.advance("10h")
        assert lines(to_staff(sent)) == [
            ("2026-11-24 09:00", "lisi", "follow_up_overdue")]
        # lisi follows up after the first alert: the leader is never told
        await sim.event("wm_han", "followed_up", {"sales": "lisi"})
        sent = await sim.advance("3d")
        assert to_staff(sent) == []
        assert (await sim.customer("wm_li")).tags["follow_up"] == "done"


@pytest.mark.parametrize("script", ["follow_up_overdue", "follow_up_escalated"])
def test_a_staff_alert_keeps_each_fact_on_its_own_line(script):
    from bots.finance_secretary.persona import FinanceSecretary
    from persona.model.customer import Customer
    from persona.model.inputs import BusinessEvent
    from persona.model.turn import Turn

    persona = FinanceSecretary()
    customer = Customer("wm_li", "new", tags={"risk": "C3"}, first_seen=0.0, last_seen=0.0)
    turn = Turn(persona, customer, BusinessEvent(user="wm_li", name="check", data={}), 0.0)
    plans = [{"product": "沪深300指数", "day": 25, "amount": 500}, {"product": "中证500", "day": 5, "amount": 300}]
    text = turn.render(script, sales_name="张三", leader_name="陈经理", customer_name="李雷", hours=24,
                       escalated=False, plans=plans).text
    lines = text.splitlines()
    assert "客户定投：沪深300指数 每月25日 ¥500.00；中证500 每月5日 ¥300.00" in lines, text
    if script == "follow_up_overdue":
        assert "风险等级：C3" in lines, text
    assert lines[-1].startswith(("请尽快联系", "麻烦督促")), text
