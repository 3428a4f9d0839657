"""私教 (bots.fitness_coach) scenarios on a fake clock, on every store.

The calendar: 2026-11-23 is a Monday. Customers train on Monday, Wednesday and Friday at
20:00 unless a test says otherwise.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from bots.fitness_coach.persona import WEEKLY_BOARD_TTL
from persona.testing import Simulation
from tests.conftest import STORE_KINDS, drop_namespace, store_url

BOT = "bots.fitness_coach"
MON = "2026-11-23 09:00"


@pytest.fixture(params=STORE_KINDS)
async def sim(request, tmp_path, namespace, monkeypatch):
    monkeypatch.setenv("PERSONA_MEDIA_DIR", str(tmp_path / "media"))
    url = store_url(request.param, tmp_path)
    async with Simulation(BOT, start=MON, store=url, namespace=namespace) as s:
        yield s
    if request.param == "redis":
        await drop_namespace(url, namespace)


async def onboard(sim: Simulation, user: str, *, goal: str = "减脂", level: str = "beginner",
                  days: list[int] | None = None, at: str = "20:00", choice: int = 1, name: str = "") -> None:
    """Buy, answer the questionnaire, add the coach, pick a plan."""
    await sim.event(user, "purchased", {"name": name} if name else {})
    await sim.event(user, "questionnaire_submitted",
                    {"goal": goal, "level": level, "days": days or [1, 3, 5], "time": at})
    await sim.wechat(user, "add_external_contact", staff="coach_ajie", welcome_code=f"WC-{user}")
    await sim.event(user, "plan_selected", {"choice": choice})


async def workout(sim: Simulation, user: str, moves: dict[str, int] | None = None, minutes: int = 25,
                  id: str | None = None):
    moves = moves or {"开合跳": 85, "深蹲": 82}
    return await sim.event(user, "workout_uploaded", {
        "moves": [{"name": n, "score": s} for n, s in moves.items()], "duration_min": minutes}, id=id)


def scripts(sent: list[Any]) -> list[str]:
    return [s.script for s in sent]


def timeline(sent: list[Any]) -> list[tuple[str, str]]:
    return [(s.when, s.script) for s in sent]


def only(sent: list[Any], script: str) -> Any:
    found = [s for s in sent if s.script == script]
    assert len(found) == 1, f"expected one {script!r}, got {timeline(sent)}"
    return found[0]


# -- plans ----------------------------------------------------------------------------------------
async def test_questionnaire_then_adding_the_coach_offers_three_plans_that_fit(sim):
    assert await sim.event("wm_amy", "purchased", {}) == []
    sent = await sim.event("wm_amy", "questionnaire_submitted",
                           {"goal": "减脂", "level": "beginner", "days": [1, 3, 5], "time": "20:00"})
    assert sent == []  # the coach is not a contact yet: nothing to say it through
    amy = await sim.customer("wm_amy")
    assert amy.state == "choosing" and amy.tags["goal"] == "fat_loss" and amy.tags["level"] == "beginner"

    [welcome] = await sim.wechat("wm_amy", "add_external_contact", staff="coach_ajie", welcome_code="WC1")
    assert (welcome.script, welcome.via, welcome.when) == ("welcome", "welcome", "2026-11-23 09:00")
    assert "目标是减脂" in welcome.text
    assert "1. 零基础燃脂" in welcome.text and "2. 轻 HIIT 燃脂" in welcome.text and "3. 核心塑形" in welcome.text
    [card] = await sim.advance("5m")  # one welcome message per add; the card follows it
    assert (card.script, card.kind, card.when) == ("plans_card", "miniprogram", "2026-11-23 09:01")
    assert card.fields["pagepath"] == "pages/plans/index?plans=burn_starter,burn_hiit_lite,shape_core"
    assert (await sim.customer("wm_amy")).has("coach_added")


async def test_a_customer_who_adds_the_coach_first_gets_the_questionnaire_then_the_plans(sim):
    [welcome] = await sim.wechat("wm_bo", "add_external_contact", staff="coach_ajie", welcome_code="WC2")
    assert welcome.script == "welcome" and "问卷" in welcome.text
    [card] = await sim.advance("1m")
    assert card.script == "questionnaire_card" and card.fields["pagepath"] == "pages/questionnaire/index"
    sent = await sim.event("wm_bo", "questionnaire_submitted",
                           {"goal": "muscle", "level": "经常练", "days": [2, 4], "time": "19:00"})
    assert scripts(sent) == ["plans", "plans_card"]
    assert "1. 力量进阶" in sent[0].text and "周二、周四 19:00" in sent[0].text


async def test_a_plan_is_picked_by_choice_by_id_or_by_replying_its_number(sim):
    for user in ("wm_c1", "wm_c2", "wm_c3"):
        await sim.event(user, "questionnaire_submitted",
                        {"goal": "toning", "level": "intermediate", "days": [6], "time": "09:30"})
        await sim.wechat(user, "add_external_contact", staff="coach_ajie", welcome_code=f"W{user}")
    sent = await sim.event("wm_c1", "plan_selected", {"choice": 2})
    assert only(sent, "plan_confirmed").text.startswith("好，就练「翘臀美腿」")
    sent = await sim.event("wm_c2", "plan_selected", {"plan_id": "posture_reset"})
    assert "「体态改善」" in only(sent, "plan_confirmed").text
    sent = await sim.text("wm_c3", "3")
    confirmed = only(sent, "plan_confirmed")
    assert "「全身线条雕刻」" in confirmed.text and "每周周六 09:30" in confirmed.text
    assert "11月28日 周六" in confirmed.text  # the first session
    for user, plan in (("wm_c1", "shape_glutes"), ("wm_c2", "posture_reset"), ("wm_c3", "shape_full")):
        c = await sim.customer(user)
        assert (c.state, c.tags["plan"], c.attrs["plan"]) == ("training", plan, plan)


# -- a training day -------------------------------------------------------------------------------
async def test_a_training_day_brief_reminder_prep_and_start_follow_the_customers_time(sim):
    await onboard(sim, "wm_dan")
    sent = await sim.advance_to("2026-11-23 20:05")
    assert timeline(sent) == [("2026-11-23 10:00", "brief"), ("2026-11-23 17:00", "reminder"),
                              ("2026-11-23 19:30", "prep"), ("2026-11-23 20:00", "start")]
    brief, reminder, prep, start = sent
    assert "今天练：开合跳、徒手深蹲、臀桥、平板支撑" in brief.text
    assert "徒手深蹲：膝盖跟着脚尖的方向走" in brief.text  # what to watch for
    assert "今晚 20:00" in brief.text and "小程序里改" in brief.text
    assert "今晚 20:00 有训练" in reminder.text
    assert "还有 30 分钟" in prep.text and "动作是开合跳、徒手深蹲、臀桥、平板支撑" in prep.text
    assert "准备好瑜伽垫、一条毛巾、一瓶水" in prep.text
    assert start.kind == "miniprogram" and "打开摄像头" in start.text
    assert start.fields["pagepath"] == "pages/train/index?plan=burn_starter&session=0"

    await workout(sim, "wm_dan")
    sent = await sim.advance_to("2026-11-25 20:05")  # nothing on Tuesday; Wednesday is session 2
    assert [w for w, _ in timeline(sent)] == ["2026-11-25 10:00", "2026-11-25 17:00", "2026-11-25 19:30",
                                              "2026-11-25 20:00"]
    assert "今天练：高抬腿、弓步蹲、跪姿俯卧撑、死虫式" in sent[0].text
    assert sent[-1].fields["pagepath"].endswith("session=1")


async def test_an_early_session_gets_no_morning_brief_and_the_prep_carries_the_cues(sim):
    await onboard(sim, "wm_eve", days=[2], at="07:30")
    sent = await sim.advance_to("2026-11-24 08:00")
    assert timeline(sent) == [("2026-11-24 07:00", "prep"), ("2026-11-24 07:30", "start")]
    assert "今天的动作是" in sent[0].text and "动作要点" in sent[0].text and "开合跳：用前脚掌" in sent[0].text

    await onboard(sim, "wm_fay", days=[2], at="21:00")
    sent = await sim.advance_to("2026-11-24 21:05")
    assert [t for t in timeline(sent) if t[1] != "missed"] == [
        ("2026-11-24 10:00", "brief"), ("2026-11-24 18:00", "reminder"), ("2026-11-24 20:30", "prep"),
        ("2026-11-24 21:00", "start")]


async def test_no_reminder_on_a_day_the_plan_was_changed(sim):
    await onboard(sim, "wm_gus")
    sent = await sim.advance_to("2026-11-23 12:00")
    assert scripts(sent) == ["brief"]
    sent = await sim.event("wm_gus", "plan_changed", {"time": "20:30"})
    changed = only(sent, "plan_changed")
    assert "20:30" in changed.text and "11月23日 周一 20:30" in changed.text
    sent = await sim.advance_to("2026-11-23 20:35")
    assert timeline(sent) == [("2026-11-23 20:00", "prep"), ("2026-11-23 20:30", "start")]  # no reminder
    assert (await sim.customer("wm_gus")).attrs["plan_changed_on"] == "2026-11-23"
    await workout(sim, "wm_gus")
    sent = await sim.advance_to("2026-11-25 20:35")  # an unchanged day: the reminder is back
    assert timeline(sent) == [("2026-11-25 10:00", "brief"), ("2026-11-25 17:30", "reminder"),
                              ("2026-11-25 20:00", "prep"), ("2026-11-25 20:30", "start")]


async def test_changing_days_and_plan_moves_the_schedule(sim):
    await onboard(sim, "wm_hal")
    await sim.advance_to("2026-11-23 11:00")
    sent = await sim.event("wm_hal", "plan_changed", {"plan_id": "shape_core", "days": [2, 4]})
    assert "「核心塑形」，每周周二、周四 20:00" in only(sent, "plan_changed").text
    hal = await sim.customer("wm_hal")
    assert (hal.tags["plan"], hal.attrs["days"], hal.attrs["plan_start"]) == ("shape_core", [2, 4], "2026-11-23")
    sent = await sim.advance_to("2026-11-24 10:05")
    assert timeline(sent) == [("2026-11-24 10:00", "brief")]  # Monday's evening is off now
    assert "平板支撑、死虫式、卷腹、侧平板" in sent[0].text


# -- after a workout ------------------------------------------------------------------------------
async def test_a_workout_is_reviewed_move_by_move_with_a_streak_and_a_share_card(sim, tmp_path):
    await onboard(sim, "wm_ivy")
    await sim.advance_to("2026-11-23 20:40")
    sent = await workout(sim, "wm_ivy", {"开合跳": 92, "深蹲": 45, "臀桥": 70}, minutes=26, id="up-1")
    assert scripts(sent) == ["review", "share_card"]
    assert await workout(sim, "wm_ivy", {"开合跳": 92}, id="up-1") == []  # the same upload posted again
    review, card = sent
    assert "今天练了 26 分钟" in review.text
    assert "开合跳做得特别好（92 分）" in review.text and "心率带起来" in review.text  # praised, and why
    assert "徒手深蹲的姿势还要调整（45 分）" in review.text and "往身后坐一把椅子" in review.text  # the fix
    assert "臀桥完成得不错" in review.text
    assert "连续运动的第 1 天" in review.text
    assert card.kind == "image"
    cards = sorted((tmp_path / "media" / "fitness_coach").glob("wm_ivy-*.png"))
    assert [p.name for p in cards] == ["wm_ivy-20261123-1.png"]
    with Image.open(cards[0]) as image:
        assert image.format == "PNG" and image.size == (720, 960)

    await sim.advance_to("2026-11-25 20:40")
    assert "连续运动的第 2 天" in only(await workout(sim, "wm_ivy"), "review").text
    await sim.advance_to("2026-11-26 19:00")  # an extra day keeps the streak going
    assert "连续运动的第 3 天" in only(await workout(sim, "wm_ivy"), "review").text
    await sim.advance_to("2026-11-30 20:40")  # Friday was skipped
    review = only(await workout(sim, "wm_ivy"), "review")
    assert "新一轮连续运动的第 1 天" in review.text
    ivy = await sim.customer("wm_ivy")
    assert ivy.counters["workouts"] == 4 and ivy.attrs["streak"] == 1 and ivy.tags["activity"] == "active"


# -- missed sessions and long breaks --------------------------------------------------------------
async def test_missed_sessions_get_escalating_nudges_that_stop(sim):
    await onboard(sim, "wm_jo", days=[1, 2, 3, 4, 5, 6, 7])
    sent = await sim.advance_to("2026-11-26 23:00")
    nudges = [(s.when, s.script, s.text) for s in sent if s.script in ("missed", "idle")]
    assert [(w, s) for w, s, _ in nudges] == [
        ("2026-11-23 21:30", "missed"), ("2026-11-24 21:30", "missed"), ("2026-11-25 21:30", "missed"),
        ("2026-11-26 12:00", "idle")]  # Thursday's missed session: capped, and one nudge a day
    assert "11月23日 周一 20:00 的训练还没收到记录" in nudges[0][2]
    assert "连着两次" in nudges[1][2]
    assert "连续 3 次" in nudges[2][2]
    assert "3 天没见你练了" in nudges[3][2]

    await workout(sim, "wm_jo")
    sent = await sim.advance_to("2026-11-27 22:00")  # nudges are WeCom mass messages: four a month
    assert "missed" not in scripts(sent)
    notes = [json.loads(line) for line in await sim.journal("wm_jo")]
    assert [(n["action"], n.get("reason")) for n in sorted(notes, key=lambda n: n["t"])
            if n.get("k") == "out" and n.get("script") == "missed"][-1] == ("drop", "mass_monthly_cap")

    await sim.advance_to("2026-11-30 20:40")
    await workout(sim, "wm_jo")  # training again starts the ladder over
    sent = await sim.advance_to("2026-12-01 22:00")
    assert [(s.when, s.script) for s in sent if s.script == "missed"] == [("2026-12-01 21:30", "missed")]
    assert "还没收到记录" in only(sent, "missed").text


async def test_two_weeks_without_training_pauses_the_daily_messages_until_the_customer_is_back(sim):
    for user in ("wm_kim", "wm_lu"):
        await onboard(sim, user, days=[3, 6])
    sent = [s for s in await sim.advance_to("2026-12-08 09:00") if s.to == "wm_kim"]
    idle = [(s.when, s.text) for s in sent if s.script == "idle"]
    assert [w for w, _ in idle] == ["2026-11-26 12:00", "2026-11-30 12:00", "2026-12-07 12:00"]
    assert "3 天没见你练了" in idle[0][1] and "一周没练了" in idle[1][1]
    assert "14 天没练" in idle[2][1] and "回复“继续”" in idle[2][1]
    for user in ("wm_kim", "wm_lu"):
        c = await sim.customer(user)
        assert c.state == "paused" and c.tags["activity"] == "dormant"

    assert scripts(await workout(sim, "wm_lu")) == ["review", "share_card"]  # a workout brings Lu back
    assert (await sim.customer("wm_lu")).state == "training"
    sent = await sim.advance_to("2026-12-09 22:00")
    assert [(s.to, s.script) for s in sent if s.script == "brief"] == [("wm_lu", "brief")]
    assert not [s for s in sent if s.to == "wm_kim"]  # a training day, quiet while paused

    sent = await sim.text("wm_kim", "继续")  # and a word brings Kim back
    assert "欢迎回来" in only(sent, "resumed").text and "12月12日 周六" in sent[0].text
    kim = await sim.customer("wm_kim")
    assert kim.state == "training" and kim.tags["activity"] == "active"
    sent = await sim.advance_to("2026-12-12 10:05")
    assert sorted((s.to, s.when) for s in sent if s.script == "brief") == [
        ("wm_kim", "2026-12-12 10:00"), ("wm_lu", "2026-12-12 10:00")]
    assert [s.script for s in sent if s.to == "wm_kim"] == ["brief"]


async def test_the_pause_notice_is_a_service_notice_a_spent_mass_budget_does_not_drop(sim, monkeypatch):
    from dataclasses import replace

    from bots.fitness_coach.persona import FitnessCoach

    # no WeCom mass message left this month: marketing nudges are dropped, the notice is not
    monkeypatch.setattr(FitnessCoach, "policy", replace(FitnessCoach.policy, wecom_mass_per_month=0))
    await onboard(sim, "wm_kim", days=[3, 6])
    sent = [s for s in await sim.advance_to("2026-12-08 09:00") if s.to == "wm_kim"]
    assert [(s.when, s.script) for s in sent if s.script == "idle"] == [("2026-12-07 12:00", "idle")]
    assert "14 天没练" in only(sent, "idle").text
    assert (await sim.customer("wm_kim")).state == "paused"


async def test_an_opted_out_customer_keeps_the_coaching_but_gets_no_nudges(sim):
    await onboard(sim, "wm_mo")
    await sim.text("wm_mo", "退订")
    sent = await sim.advance_to("2026-11-26 23:00")
    assert "missed" not in scripts(sent) and "idle" not in scripts(sent)
    assert scripts(sent).count("brief") == 2 and scripts(sent).count("start") == 2


async def test_asking_for_the_plan_shows_the_next_session(sim):
    await onboard(sim, "wm_ned")
    await sim.advance_to("2026-11-24 09:00")
    reply = only(await sim.text("wm_ned", "今天练什么"), "my_plan")
    assert "「零基础燃脂」" in reply.text and "下次训练：11月25日 周三 20:00，练高抬腿" in reply.text


# -- the group ------------------------------------------------------------------------------------
async def test_group_members_are_tagged_ranked_weekly_and_the_long_inactive_called_out(sim, monkeypatch):
    for user, name in (("wm_pia", "小美"), ("wm_quan", "阿强"), ("wm_rui", "小睿")):
        await onboard(sim, user, name=name, days=[6])
    await sim.wechat("group:wrG1", "chat_add_member", key="1", chat_id="wrG1",
                     mem_change_list="wm_pia,wm_quan,wm_rui")
    for user in ("wm_pia", "wm_quan", "wm_rui"):
        assert (await sim.customer(user)).tags["group"] == "wrG1"
    assert (await sim.customer("group:wrG1")).state == "group"

    boards: set[tuple[str, float | None]] = set()
    zincr = sim.store.zincr

    async def scored(key, member, amount, ttl=None):  # weekly boards do not pile up forever
        boards.add((key, ttl))
        return await zincr(key, member, amount, ttl)

    monkeypatch.setattr(sim.store, "zincr", scored)
    await sim.advance_to("2026-11-23 20:40")
    await workout(sim, "wm_pia", minutes=30)
    await workout(sim, "wm_quan", minutes=25)
    await sim.advance_to("2026-11-25 20:40")
    await workout(sim, "wm_pia", minutes=40)

    assert {(key.rsplit(":", 1)[-1], ttl) for key, ttl in boards} == {
        ("minutes", WEEKLY_BOARD_TTL.total_seconds()), ("workouts", WEEKLY_BOARD_TTL.total_seconds())}

    sim.api.add_group("wrG1", "coach_ajie")
    sent = await sim.advance_to("2026-11-29 20:05")
    board = only(sent, "group_leaderboard")
    assert board.when == "2026-11-29 20:00" and board.to.endswith("wrG1")
    # a customer group: a mass message its owner confirms, not appchat (which reaches only the
    # app's own chats); the group's journal follows the confirmation
    assert board.via == "mass"
    [request] = [s for s in sim.api.messages("mass") if s.script == "group_leaderboard"]
    assert (request.body["sender"], request.body["chat_id_list"]) == ("coach_ajie", ["wrG1"])
    assert '"status":"pending"' in (await sim.journal("group:wrG1"))[-1]
    sim.api.confirm(request.msgid)
    await sim.advance_to("2026-11-29 21:05")
    report = json.loads((await sim.journal("group:wrG1"))[-1])
    assert (report["k"], report["msgid"], report["status"]) == ("delivery", request.msgid, "confirmed")
    assert board.text.index("小美：2 次，70 分钟") < board.text.index("阿强：1 次，25 分钟")
    assert "小睿" not in board.text
    assert "group_callout" not in scripts(sent)  # six days off is not long yet

    sent = await sim.advance_to("2026-12-06 20:05")
    assert "这周群里还没人打卡" in only(sent, "group_leaderboard").text
    callout = only(sent, "group_callout")
    assert "小美（11 天没练）、阿强（13 天没练）、小睿（13 天没练）" in callout.text

    await sim.advance_to("2026-12-08 20:40")
    await workout(sim, "wm_pia", minutes=20)
    sent = await sim.advance_to("2026-12-13 20:05")
    assert "小美：1 次，20 分钟" in only(sent, "group_leaderboard").text
    callout = only(sent, "group_callout")
    assert "阿强（20 天没练）、小睿（20 天没练）" in callout.text and "小美" not in callout.text
    sent = await sim.advance_to("2026-12-20 20:05")
    callout = only(sent, "group_callout")
    assert "小美（12 天没练）" in callout.text  # a new break, a new call-out
    assert "阿强" not in callout.text and "小睿" not in callout.text  # called out twice already: enough

    await sim.wechat("group:wrG1", "chat_del_member", key="0", chat_id="wrG1", mem_change_list="wm_rui")
    assert "group" not in (await sim.customer("wm_rui")).tags


# -- the brand's data -----------------------------------------------------------------------------
async def test_a_malformed_questionnaire_is_refused_with_a_reason_and_changes_nothing(sim):
    from persona import BusinessEvent

    out = await sim.runtime.handle(BusinessEvent(user="wm_zed", name="questionnaire_submitted", dedupe_key="q1",
                                                 data={"goal": "减脂", "level": "beginner", "days": [0, 9],
                                                       "time": "20:00"}))
    assert out.status == "refused" and "weekdays 1-7" in out.error and out.fields == ["days"]
    out = await sim.runtime.handle(BusinessEvent(user="wm_zed", name="questionnaire_submitted", dedupe_key="q2",
                                                 data={"goal": "飞天", "level": "beginner", "days": [1],
                                                       "time": "20:00"}))
    assert out.status == "refused" and "goal '飞天'" in out.error and out.fields == ["goal"]
    zed = await sim.customer("wm_zed")
    assert zed is None or zed.state == "new"


def test_every_goal_and_level_gets_three_plans_and_every_plan_names_known_moves():
    from bots.fitness_coach.catalogue import CATALOGUE, LEVEL_ORDER

    for goal in CATALOGUE.goals:
        for level in LEVEL_ORDER:
            plans = CATALOGUE.recommend(goal, level)
            assert len(set(plans)) == 3
            first = CATALOGUE.plans[plans[0]]
            assert goal in first.goals and level in first.levels  # the best fit leads
    for plan in CATALOGUE.plans.values():
        for session in plan.sessions:
            assert all(CATALOGUE.moves[m].watch and CATALOGUE.moves[m].fix for m in session)
    assert CATALOGUE.move("深蹲").id == "squat" and CATALOGUE.move(" Glute bridge ").id == "glute_bridge"


def test_a_catalogue_plan_naming_an_unknown_move_fails_at_load(tmp_path):
    import json

    from bots.fitness_coach.catalogue import PATH, Catalogue
    from persona import DefinitionError

    raw = json.loads(PATH.read_text(encoding="utf-8"))
    raw["plans"]["burn_starter"]["sessions"][0].append("moonwalk")
    broken = tmp_path / "catalogue.json"
    broken.write_text(json.dumps(raw, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(DefinitionError, match="unknown move 'moonwalk'"):
        Catalogue.load(broken)


@pytest.mark.parametrize("font", ["none", "named"])
def test_the_share_card_draws_with_or_without_a_chinese_font(tmp_path, monkeypatch, font):
    from datetime import date

    from bots.fitness_coach import card

    dejavu = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
    if font == "named" and not dejavu.is_file():
        pytest.skip("no TrueType font to name")
    monkeypatch.setattr(card, "cjk_font", lambda: str(dejavu) if font == "named" else None)
    path = card.render_card(tmp_path / "c.png", streak=12, day=date(2026, 11, 23), minutes=31,
                            moves=[card.CardMove("深蹲", "Squat", 91), card.CardMove("神秘动作", "", 40)],
                            plan="零基础燃脂", coach="阿杰")
    with Image.open(path) as image:
        assert image.size == (720, 960) and image.getpixel((360, 5))[0] > 200  # the orange top
    assert not list(tmp_path.glob("*.part"))


def test_the_share_card_draws_chinese_with_the_cjk_font_the_ci_installs(tmp_path, monkeypatch):
    """`.ci/run` installs fonts-noto-cjk: the card finds a font that has every Chinese glyph it
    draws, and draws with it (not the English fallback)."""
    from datetime import date

    from PIL import ImageDraw, ImageFont

    from bots.fitness_coach import card

    card.cjk_font.cache_clear()
    monkeypatch.delenv("FITNESS_COACH_FONT", raising=False)
    path = card.cjk_font()
    assert path is not None, "no CJK font found: .ci/run installs Debian's fonts-noto-cjk"
    font = ImageFont.truetype(path, 40)

    def glyph(char: str) -> bytes:
        image = Image.new("L", (60, 60))
        ImageDraw.Draw(image).text((5, 5), char, font=font, fill=255)
        return image.tobytes()

    missing = glyph("\ue000")  # a private-use code point: the font's "no such glyph" box
    assert all(glyph(c) != missing for c in "私教零基础燃脂深蹲阿杰连续天分钟")
    used: list[str | None] = []
    draw_font = card._font
    monkeypatch.setattr(card, "_font", lambda size, p: used.append(p) or draw_font(size, p))
    card.render_card(tmp_path / "c.png", streak=3, day=date(2026, 11, 23), minutes=31,
                     moves=[card.CardMove("深蹲", "Squat", 91)], plan="零基础燃脂", coach="阿杰")
    assert used and set(used) == {path}
