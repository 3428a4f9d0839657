"""小完子 scenarios on a fake clock, on memory, SQLite and Redis: what a customer sees, when,
and how they are tagged."""

from __future__ import annotations

import contextlib
import itertools
import json
from typing import Any, AsyncIterator, Callable

import pytest

from persona import EventDataError, load_persona
from persona.cli.broadcast import broadcast, broadcasting, parse_segment
from persona.testing import Sent, Simulation
from bots.xiaowanzi import Xiaowanzi
from bots.xiaowanzi.persona import parse_scene
from tests.conftest import STORE_KINDS, drop_namespace, store_url

START = "2026-11-23 09:00"  # a Monday

OpenSim = Callable[..., contextlib.AbstractAsyncContextManager[Simulation]]


@pytest.fixture(params=STORE_KINDS)
def open_sim(request, tmp_path, namespace) -> OpenSim:
    """``async with open_sim() as sim``: 小完子 (or a variant of her) on this test's store."""
    url = store_url(request.param, tmp_path)

    @contextlib.asynccontextmanager
    async def opened(persona: Any = "bots.xiaowanzi", start: str = START) -> AsyncIterator[Simulation]:
        try:
            async with Simulation(persona, start=start, store=url, namespace=namespace) as sim:
                yield sim
        finally:
            if request.param == "redis":
                await drop_namespace(url, namespace)

    return opened


def scripts(sent: list[Sent], to: str | None = None) -> list[str]:
    return [s.script for s in sent if to is None or s.to == to]


def one(sent: list[Sent], script: str, to: str | None = None) -> Sent:
    found = [s for s in sent if s.script == script and (to is None or s.to == to)]
    assert len(found) == 1, f"expected one {script!r}, got {[str(s) for s in sent]}"
    return found[0]


_codes = itertools.count(1)


async def add_on_wecom(sim: Simulation, user: str, scene: str | None = None) -> list[Sent]:
    """The customer adds 小完子 on WeCom through a contact way whose State is ``scene``."""
    return await sim.wechat(user, "add_external_contact", key=scene, staff="zhangsan",
                            welcome_code=f"WC{next(_codes)}")


def test_the_bot_loads_as_one_persona():
    assert load_persona("bots.xiaowanzi") is Xiaowanzi


@pytest.mark.parametrize("key, default, expected", [
    ("qrscene_parcel_lipstick", "search", ("parcel", "lipstick", None)),
    ("store-sh021", "direct", ("store", None, "sh021")),
    ("Store_Eyeshadow_sh021", "direct", ("store", "eyeshadow", "sh021")),
    (None, "direct", ("direct", None, None)),
    ("qrscene_", "search", ("search", None, None)),
])
def test_scene_keys_name_the_source_then_a_product_or_a_shop(key, default, expected):
    assert parse_scene(key, default) == expected


# -- arriving -------------------------------------------------------------------------------

async def test_parcel_card_on_wecom_one_welcome_with_product_coupon_and_group_invite(open_sim):
    async with open_sim() as sim:
        sent = await add_on_wecom(sim, "wm_amy", "parcel_lipstick")
        [welcome] = sent
        assert (welcome.script, welcome.via, welcome.to) == ("welcome", "welcome", "wm_amy")
        assert welcome.when == "2026-11-23 09:00"
        assert "红包卡" in welcome.text
        assert "丝绒小细跟口红" in welcome.text and "「小细跟口红专属券」（满79减20）" in welcome.text
        assert "https://shop.example.com/coupon/LIP20" in welcome.text
        assert "「小完子玩美研究所」" in welcome.text and "https://shop.example.com/group/wanmei" in welcome.text
        amy = await sim.customer("wm_amy")
        assert amy.state == "welcomed"
        assert amy.tags["source"] == "parcel" and amy.tags["product"] == "lipstick" and amy.tags["spend"] == "none"
        assert amy.attrs["staff"] == "zhangsan" and amy.attrs["offered"] == "LIP20"


async def test_store_qr_late_at_night_welcome_now_reminder_after_quiet_hours(open_sim):
    async with open_sim(start="2026-11-23 22:30") as sim:
        [welcome] = await add_on_wecom(sim, "wm_bea", "store_sh021")
        assert welcome.when == "2026-11-23 22:30" and "门店" in welcome.text
        assert "无门槛减10" in welcome.text  # no product in the scene: the new-friend coupon
        sent = await sim.advance("12h")
        reminder = one(sent, "coupon_reminder")
        assert reminder.when == "2026-11-24 08:00"  # due 01:30, held until quiet hours end
        bea = await sim.customer("wm_bea")
        assert bea.tags["source"] == "store" and bea.attrs["shop"] == "sh021"


async def test_a_half_add_without_verification_is_welcomed_the_same(open_sim):
    async with open_sim() as sim:
        [welcome] = await sim.wechat("wm_fay", "add_half_external_contact", key="parcel_powder",
                                     staff="zhangsan", welcome_code="WC-half")
        assert welcome.via == "welcome" and "定妆散粉专属券" in welcome.text
        assert scripts(await sim.advance("3h")) == ["coupon_reminder"]


async def test_official_account_follow_with_scene_key_is_answered_passively(open_sim):
    async with open_sim() as sim:
        [welcome] = await sim.wechat("o_cat", "subscribe", key="qrscene_parcel_eyeshadow")
        assert welcome.via == "passive" and welcome.script == "welcome"
        assert "动物眼影盘专属券" in welcome.text and "满119减30" in welcome.text
        cat = await sim.customer("o_cat")
        assert cat.tags["source"] == "parcel" and cat.tags["product"] == "eyeshadow"


async def test_staff_following_the_wecom_app_get_no_customer_welcome(open_sim):
    async with open_sim() as sim:
        assert await sim.wechat("xiaowan", "subscribe", platform="wecom", door="staff") == []
        assert await sim.customer("xiaowan") is None  # staff are not customers


async def test_registered_member_is_tagged_but_not_messaged_until_she_adds(open_sim):
    async with open_sim() as sim:
        sent = await sim.event("wm_dee", "registered", {"source": "live", "product": "foundation",
                                                         "phone": "13800000000"})
        assert sent == []
        dee = await sim.customer("wm_dee")
        assert dee.tags["source"] == "live" and dee.tags["product"] == "foundation" and "member" in dee.tags
        assert "13800000000" not in dee.dump().decode()
        await sim.event("wm_eve", "registered", {"source": "parcel"})  # never adds 小完子
        await sim.advance("1d")
        [welcome] = await add_on_wecom(sim, "wm_dee", "parcel")
        assert "粉底液专属券" in welcome.text  # the product she browsed before adding
        dee = await sim.customer("wm_dee")
        assert dee.tags["source"] == "live"  # the first touch keeps the credit
        await sim.advance("31d")
        assert sim.to("wm_eve") == []


async def test_adding_again_is_a_welcome_back_without_a_second_coupon(open_sim):
    async with open_sim() as sim:
        await add_on_wecom(sim, "wm_amy", "parcel_lipstick")
        await sim.wechat("wm_amy", "del_follow_user", staff="zhangsan")
        [back] = await add_on_wecom(sim, "wm_amy", "store")
        assert back.script == "welcome_back" and back.via == "welcome" and "券" not in back.text
        assert (await sim.customer("wm_amy")).tags["source"] == "parcel"


# -- what customers type ----------------------------------------------------------------------

async def test_keyword_replies_products_orders_coupons_group_and_help(open_sim):
    async with open_sim() as sim:
        await add_on_wecom(sim, "wm_amy", "parcel")
        [info] = await sim.text("wm_amy", "粉底液多少钱呀")
        assert info.script == "product_info" and "轻薄持妆粉底液" in info.text and "¥169.00" in info.text
        assert "满159减30" in info.text
        assert (await sim.customer("wm_amy")).tags["product"] == "foundation"  # tagged from the question
        [status] = await sim.text("wm_amy", "我的快递到哪了")
        assert status.script == "order_status" and "还没查到你的订单" in status.text
        [coupon] = await sim.text("wm_amy", "有优惠券吗")
        assert coupon.script == "coupon_info" and "新朋友无门槛券" in coupon.text  # what the welcome offered
        [group] = await sim.text("wm_amy", "想进群")
        assert group.script == "group_invite" and "https://shop.example.com/group/wanmei" in group.text
        [hint] = await sim.text("wm_amy", "今天天气真好")
        assert hint.script == "help" and "「订单」" in hint.text
        assert await sim.text("wm_amy", "哈哈") == []  # the hint at most once a day
        await sim.advance("1d")
        assert scripts(await sim.text("wm_amy", "在吗")) == ["help"]
        await sim.event("wm_amy", "order_placed", {"order_id": "PD1001", "amount": 169, "items": ["foundation"]})
        await sim.event("wm_amy", "order_shipped", {"order_id": "PD1001", "tracking": "SF1234567890"})
        [status] = await sim.text("wm_amy", "订单发货了吗")
        assert "PD1001" in status.text and "SF1234567890" in status.text


async def test_opt_out_is_confirmed_marketing_stops_service_continues(open_sim):
    async with open_sim() as sim:
        await add_on_wecom(sim, "wm_amy", "parcel_lipstick")
        [ack] = await sim.text("wm_amy", "退订")
        assert ack.script == "opt_out_ack" and "订阅" in ack.text
        assert "opted_out" in (await sim.customer("wm_amy")).tags
        assert await sim.advance("3d") == []  # no coupon reminder, no second pitch
        sent = await sim.event("wm_amy", "order_placed", {"order_id": "PD1", "amount": 89, "items": ["lipstick"]})
        assert scripts(sent) == ["order_thanks"]
        sent = await sim.advance("3h")
        assert scripts(sent) == ["order_care"]  # usage notes are service; the group invite is not
        assert scripts(await sim.advance("40d")) == []  # no day 7/15/30, no recall
        [back] = await sim.text("wm_amy", "订阅")
        assert back.script == "opt_in_ack" and "opted_out" not in (await sim.customer("wm_amy")).tags


# -- three hours later, by coupon ------------------------------------------------------------

async def test_unclaimed_coupon_reminder_after_3h_then_second_pitch(open_sim):
    async with open_sim() as sim:
        await add_on_wecom(sim, "wm_amy", "parcel_lipstick")
        sent = await sim.advance("47h")
        assert scripts(sent) == ["coupon_reminder"]
        assert sent[0].when == "2026-11-23 12:00" and "还没领" in sent[0].text and "LIP20" in sent[0].text
        sent = await sim.advance("1h")
        pitch = one(sent, "second_pitch")
        assert pitch.when == "2026-11-25 09:00" and pitch.kind == "news"
        assert pitch.fields["title"].startswith("丝绒小细跟口红") and pitch.fields["url"].endswith("/p/lipstick")


async def test_claimed_without_order_hears_the_coupon_expires_soon(open_sim):
    async with open_sim() as sim:
        await add_on_wecom(sim, "wm_amy", "parcel_lipstick")
        await sim.advance("1h")
        assert await sim.event("wm_amy", "coupon_claimed", {"coupon": "LIP20"}) == []
        assert (await sim.customer("wm_amy")).state == "claimed"
        sent = await sim.advance("3d")
        assert scripts(sent) == ["coupon_expiring"]  # and no unclaimed reminder at 12:00
        expiring = sent[0]
        assert expiring.when == "2026-11-23 13:00"
        assert "7天后（11月30日）就过期" in expiring.text and "满79减20" in expiring.text
        assert (await sim.customer("wm_amy")).tags["discount"] == "coupon"


async def test_a_claimed_coupon_without_a_code_is_refused_and_changes_nothing(open_sim):
    async with open_sim() as sim:
        await add_on_wecom(sim, "wm_amy", "parcel_lipstick")
        with pytest.raises(EventDataError, match="empty code") as refused:
            await sim.event("wm_amy", "coupon_claimed", {"coupon": ""})
        assert refused.value.fields == ["coupon"]
        amy = await sim.customer("wm_amy")
        assert amy.state != "claimed" and "coupon" not in amy.attrs
        # a code the catalogue does not list yet is still a coupon, shown by its code
        await sim.event("wm_amy", "coupon_claimed", {"coupon": "NEW99"})
        assert (await sim.customer("wm_amy")).state == "claimed"


async def test_ordered_gets_points_logistics_usage_notes_and_group_invite(open_sim):
    async with open_sim() as sim:
        await add_on_wecom(sim, "wm_amy", "parcel_lipstick")
        await sim.event("wm_amy", "coupon_claimed", {"coupon": "LIP20"})
        await sim.advance("30m")
        sent = await sim.event("wm_amy", "order_placed", {
            "order_id": "PD2001", "amount": 218,
            "items": [{"sku": "lipstick", "name": "丝绒小细跟口红"}, "十二色动物眼影盘"]})
        thanks = one(sent, "order_thanks")
        assert "PD2001" in thanks.text and "¥218.00" in thanks.text and "已用「小细跟口红专属券」" in thanks.text
        assert "积分变动：+218，现在一共 218 积分" in thanks.text
        amy = await sim.customer("wm_amy")
        assert amy.state == "customer"
        assert (amy.tags["first_price"], amy.tags["discount"], amy.tags["spend"]) == ("high", "coupon", "mid")
        sent = await sim.advance("2h")
        assert sent == []  # no "coupon expires" once she ordered
        [shipped] = await sim.event("wm_amy", "order_shipped", {"order_id": "PD2001", "tracking": "YT998877"})
        assert shipped.script == "order_shipped" and "YT998877" in shipped.text
        sent = await sim.advance("1h")
        assert scripts(sent) == ["order_care", "group_invite"]
        care = sent[0]
        assert care.when == "2026-11-23 12:30"
        assert "丝绒小细跟口红：先用润唇膏打底" in care.text and "十二色动物眼影盘：" in care.text
        # a second order: the points add up; she joined the group, so no invite this time
        await sim.event("wm_amy", "joined_group", {})
        sent = await sim.event("wm_amy", "order_placed", {"order_id": "PD2002", "amount": 69, "items": ["cleanser"]})
        assert "+69，现在一共 287 积分" in one(sent, "order_thanks").text and "已用" not in sent[0].text
        assert scripts(await sim.advance("3h")) == ["order_care"]
        amy = await sim.customer("wm_amy")
        assert amy.tags["first_price"] == "high" and "in_group" in amy.tags and amy.tags["product"] == "cleanser"


async def test_the_same_order_twice_counts_once(open_sim):
    async with open_sim() as sim:
        await add_on_wecom(sim, "wm_amy")
        order = {"order_id": "PD3001", "amount": 89, "items": ["lipstick"]}
        assert scripts(await sim.event("wm_amy", "order_placed", order, id="evt-1")) == ["order_thanks"]
        assert await sim.event("wm_amy", "order_placed", order, id="evt-1") == []  # a retried post
        assert await sim.event("wm_amy", "order_placed", order, id="evt-2") == []  # re-posted by mistake
        amy = await sim.customer("wm_amy")
        assert amy.counters["orders"] == 1 and amy.attrs["points"] == 89


# -- real-time tags -------------------------------------------------------------------------

async def test_tags_follow_every_input_and_feed_segments(open_sim):
    async with open_sim() as sim:
        await add_on_wecom(sim, "wm_amy", "parcel")
        await add_on_wecom(sim, "wm_bea", "store")
        await sim.event("wm_amy", "link_clicked", {"url": "https://shop.example.com/p/eyeshadow"})
        assert await sim.store.segment("tag:source=parcel", "tag:product=eyeshadow") == {"wm_amy"}
        await sim.event("wm_bea", "order_placed", {"order_id": "B1", "amount": 89, "items": ["lipstick"]})
        bea = await sim.customer("wm_bea")
        assert (bea.tags["discount"], bea.tags["first_price"]) == ("full_price", "low")
        assert bea.tags["product"] == "lipstick"
        await sim.event("wm_bea", "order_placed", {"order_id": "B2", "amount": 520, "items": ["foundation"]})
        bea = await sim.customer("wm_bea")
        assert bea.tags["first_price"] == "low" and bea.tags["spend"] == "high"  # the first purchase stays
        await sim.event("wm_amy", "joined_group", {})
        assert await sim.store.segment("tag:in_group") == {"wm_amy"}
        assert await sim.store.segment("tag:spend=high") == {"wm_bea"}


# -- day 7 / 15 / 30 ------------------------------------------------------------------------

async def test_day_7_15_30_follow_ups_are_chosen_by_tags(open_sim):
    async with open_sim() as sim:
        await add_on_wecom(sim, "wm_amy", "parcel_lipstick")  # buys with a coupon, joins the group
        await sim.event("wm_amy", "coupon_claimed", {"coupon": "LIP20"})
        await sim.event("wm_amy", "order_placed", {"order_id": "A1", "amount": 89, "items": ["lipstick"]})
        await sim.event("wm_amy", "joined_group", {})
        await add_on_wecom(sim, "wm_bea", "store_powder")  # buys at full price
        await sim.event("wm_bea", "order_placed", {"order_id": "B1", "amount": 99, "items": ["powder"]})
        await add_on_wecom(sim, "wm_cat")  # only looks
        sent = await sim.advance_to("2026-12-23 12:00")

        amy = [s for s in sent if s.to == "wm_amy" and s.script.startswith("day")]
        assert [(s.script, s.when) for s in amy] == [("day7_related", "2026-11-30 10:00"),
                                                    ("day15_offer", "2026-12-08 10:00"),
                                                    ("day30_referral", "2026-12-23 10:00")]
        assert "丝绒小细跟口红" in amy[0].fields["title"]
        assert "十二色动物眼影盘" in amy[0].text and "氨基酸温和卸妆水" in amy[0].text
        assert "回购券" in amy[1].text and "BACK15" in amy[1].text
        assert "好友同享券" in amy[2].text and "小完子玩美研究所" in amy[2].text

        bea = {s.script: s for s in sent if s.to == "wm_bea" and s.script.startswith("day")}
        assert "轻薄持妆粉底液" in bea["day7_related"].text  # related to the powder she bought
        assert "定制化妆包" in bea["day15_offer"].text and "99 积分" in bea["day15_offer"].text
        assert "小完子玩美研究所" not in bea["day30_referral"].text  # not in the group

        cat = [s for s in sent if s.to == "wm_cat" and s.script.startswith("day")]
        assert [s.script for s in cat] == ["day7_related", "day15_offer"]  # no referral before a purchase
        assert cat[0].fields["title"] == "小完子的本周私藏清单"
        assert "新朋友无门槛券" in cat[1].text


async def test_official_account_follow_ups_need_the_48h_window_her_messages_open(open_sim):
    async with open_sim() as sim:
        await sim.wechat("o_cat", "subscribe", key="qrscene_parcel")
        assert await sim.advance("8d") == []  # a follow alone opens no 48 h window
        assert await gate_said(sim, "o_cat", "coupon_reminder") == [("drop", "kf_window_closed")]
        await sim.advance_to("2026-12-07 20:00")
        [answer] = await sim.text("o_cat", "眼影怎么画")  # she writes: the window opens
        assert answer.via == "passive" and answer.script == "product_info"
        sent = await sim.advance("2d")
        assert scripts(sent) == ["day15_offer"] and sent[0].when == "2026-12-08 10:00"


# -- thirty quiet days ----------------------------------------------------------------------

async def test_recall_after_30_quiet_days_is_graded_by_past_spend(open_sim):
    async with open_sim() as sim:
        await add_on_wecom(sim, "wm_none")
        await add_on_wecom(sim, "wm_low")
        await sim.event("wm_low", "order_placed", {"order_id": "L1", "amount": 129, "items": ["eyeshadow"]})
        await add_on_wecom(sim, "wm_high")
        await sim.event("wm_high", "order_placed", {"order_id": "H1", "amount": 399, "items": ["foundation"]})
        await sim.event("wm_high", "order_placed", {"order_id": "H2", "amount": 259, "items": ["eyeshadow"]})
        sent = await sim.advance_to("2026-12-24 12:00")
        recalls = {s.to: s for s in sent if s.script == "recall"}
        assert sorted(recalls) == ["wm_high", "wm_low", "wm_none"]
        # 30 quiet days after joining; a buyer's recall waits a day for the day-30 referral
        assert {u: s.when for u, s in recalls.items()} == {
            "wm_none": "2026-12-23 09:00", "wm_low": "2026-12-24 09:00", "wm_high": "2026-12-24 09:00"}
        assert [s.script for s in sent if s.to == "wm_low" and s.when.startswith("2026-12-2")] == [
            "day30_referral", "recall"]
        assert "无门槛减10" in recalls["wm_none"].text and "小样" not in recalls["wm_none"].text
        assert "满99减20" in recalls["wm_low"].text and "口红小样" in recalls["wm_low"].text
        assert "VIP回归礼" in recalls["wm_high"].text and "满299减100" in recalls["wm_high"].text
        assert "正装小细跟口红" in recalls["wm_high"].text


async def test_opening_the_app_or_clicking_counts_as_life_and_recalls_stop_after_two(open_sim):
    async with open_sim() as sim:
        await add_on_wecom(sim, "wm_amy")
        await sim.advance("20d")
        await sim.event("wm_amy", "app_opened", {})  # 12-13 09:00: pushes the recall back
        sent = await sim.advance_to("2027-01-11 09:00")
        assert "recall" not in scripts(sent)
        sent = await sim.advance_to("2027-04-01 09:00")
        assert [s.when for s in sent if s.script == "recall"] == ["2027-01-12 09:00", "2027-02-11 09:00"]
        await sim.text("wm_amy", "我回来啦")  # she answers: a recall may come again one day
        sent = await sim.advance("31d")
        assert [s.when for s in sent if s.script == "recall"] == ["2027-05-01 09:00"]


# -- flash sale: persona broadcast, through the gate ----------------------------------------------------

async def test_flash_sale_to_a_segment_respects_opt_out_caps_and_reach(open_sim):
    """What ``persona broadcast bots.xiaowanzi tag:product=eyeshadow flash_sale`` does."""
    async with open_sim(broadcasting(Xiaowanzi)) as sim:
        for user in ("wm_amy", "wm_bea", "wm_cat"):
            await add_on_wecom(sim, user, "store_eyeshadow")
        await add_on_wecom(sim, "wm_dee", "store_lipstick")  # not in the segment
        await sim.event("wm_eve", "registered", {"product": "eyeshadow"})  # in it, never added
        await sim.event("wm_amy", "coupon_claimed", {"coupon": "EYE30"})  # no reminders for her
        await sim.text("wm_bea", "退订")
        await sim.advance_to("2026-11-25 09:30")  # cat: reminder on the 23rd, second pitch today

        segment = parse_segment("tag:product=eyeshadow", Xiaowanzi)
        users = sorted(await sim.store.segment(*segment))
        assert users == ["wm_amy", "wm_bea", "wm_cat", "wm_eve"]
        tally = await broadcast(sim.runtime, users, "flash_sale", "sale-morning", {})
        # cat had the second pitch this morning: a WeCom customer gets one mass message a day
        assert (tally.sent, dict(tally.dropped), tally.silent) == (1, {"opted_out": 1, "mass_daily_cap": 1}, 1)
        sent = await sim.advance(0)
        assert [s.to for s in sent] == ["wm_amy"]
        sale = one(sent, "flash_sale", "wm_amy")
        assert "动物眼影盘限时秒杀" in sale.text and "¥69.00" in sale.text and "¥129.00" in sale.text
        assert "你之前看过它" in sale.text
        again = await broadcast(sim.runtime, users, "flash_sale", "sale-morning", {})
        assert again.done_before == 4  # an interrupted broadcast run again reaches nobody twice

        await sim.advance_to("2026-11-25 19:30")  # a same-day last call reaches nobody on WeCom
        tally = await broadcast(sim.runtime, users, "flash_sale", "sale-last-call", {})
        assert (tally.sent, dict(tally.dropped)) == (0, {"opted_out": 1, "mass_daily_cap": 2})
        assert await sim.advance(0) == []
        await sim.advance_to("2026-11-26 19:30")  # the last call the next evening
        tally = await broadcast(sim.runtime, users, "flash_sale", "sale-last-call-26", {})
        assert (tally.sent, dict(tally.dropped)) == (2, {"opted_out": 1})
        assert sorted(s.to for s in await sim.advance(0)) == ["wm_amy", "wm_cat"]
        assert await gate_said(sim, "wm_amy", "flash_sale") == [("send", None), ("drop", "mass_daily_cap"),
                                                                ("send", None)]
        assert await gate_said(sim, "wm_cat", "flash_sale") == [("drop", "mass_daily_cap")] * 2 + [("send", None)]
        assert await gate_said(sim, "wm_bea", "flash_sale") == [("drop", "opted_out")] * 3
        assert await gate_said(sim, "wm_eve", "flash_sale") == []


async def gate_said(sim: Simulation, user: str, script: str) -> list[tuple[str, str | None]]:
    """What the gate decided for each time ``script`` was said to ``user`` (from the journal)."""
    notes = [json.loads(line) for line in await sim.journal(user)]
    return [(n["action"], n.get("reason")) for n in sorted(notes, key=lambda n: n["t"])
            if n.get("k") == "out" and n.get("script") == script]
