"""A handoff end to end, as each shipped bot declares it (HandoffSpec): the customer is told a
person is coming (or, out of hours, when), the staff member who takes them is told who waits and
where, and on handback both are told; assignment by the customer's own staff, tag, or duty list."""

from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from persona import HandoffSpec
from persona.engine.desk import Desk, DeskError
from persona.errors import DefinitionError
from persona.model.customer import Customer
from persona.testing import Simulation
from tests.cli.conftest import run_persona
from tests.conftest import STORE_KINDS, drop_namespace, store_url


def notes(lines: list[str], kind: str) -> list[dict]:
    return [n for n in map(json.loads, lines) if n["k"] == kind]


@pytest.mark.parametrize("bot, user", [("bots.xiaowanzi", "wm_amy"), ("bots.finance_secretary", "wm_li"),
                                       ("bots.fitness_coach", "wm_fit")])
async def test_in_hours_the_customer_hears_a_person_is_coming_and_their_own_staff_member_is_told(bot, user):
    async with Simulation(bot, start="2026-11-23 10:00") as sim:  # a Monday morning
        await sim.wechat(user, "add_external_contact", welcome_code="WC1", staff="lisi")
        said = await sim.text(user, "转人工")
        scripts = {s.script: s for s in said}
        assert scripts["handoff_ack"].to == user
        notice = scripts["handoff_notify"]
        assert notice.to == "staff:lisi" and "【转人工】" in notice.text
        assert f"https://studio.example.com/agents/{sim.runtime.name}?user={user}" in notice.text
        [handoff] = notes(await sim.journal(user), "handoff")
        assert (handoff["assigned"], handoff["open"]) == ("lisi", True)
        [waiting] = await Desk(sim.runtime).queue()
        assert (waiting.user, waiting.agent) == (user, "lisi")

        await Desk(sim.runtime).close(user, "lisi")
        await sim.advance("1s")
        back = {s.script: s for s in sim.sent if s.script.startswith("handoff_back")}
        assert back["handoff_back"].to == user and back["handoff_back_notify"].to == "staff:lisi"


async def test_out_of_hours_the_customer_gets_the_offline_reply_and_the_conversation_waits():
    async with Simulation("bots.finance_secretary", start="2026-11-28 11:00") as sim:  # a Saturday
        await sim.wechat("wm_li", "add_external_contact", welcome_code="WC1", staff="lisi")
        said = {s.script: s for s in await sim.text("wm_li", "人工")}
        assert "handoff_ack" not in said
        assert "非工作时间" in said["handoff_offline"].text and "09:00-17:30" in said["handoff_offline"].text
        assert "非工作时间" in said["handoff_notify"].text
        [handoff] = notes(await sim.journal("wm_li"), "handoff")
        assert handoff["open"] is False
        assert [w.user for w in await Desk(sim.runtime).queue()] == ["wm_li"]


async def test_an_idle_conversation_goes_back_and_both_are_told_why():
    async with Simulation("bots.xiaowanzi", start="2026-11-23 10:00") as sim:
        await sim.wechat("wm_amy", "add_external_contact", welcome_code="WC1", staff="lisi")
        await sim.text("wm_amy", "转人工")
        await sim.advance("31m")
        back = {s.script: s for s in sim.sent if s.script.startswith("handoff_back")}
        assert "这次先聊到这里啦" in back["handoff_back"].text
        assert "已空闲" in back["handoff_back_notify"].text and back["handoff_back_notify"].to == "staff:lisi"
        assert notes(await sim.journal("wm_amy"), "handback")[0]["why"] == "idle"


def test_assignment_is_own_staff_then_tag_then_the_duty_list_in_turn():
    spec = HandoffSpec(agents=("a1", "a2", "a3"), by_tag={"product": {"lipstick": "lip_expert"}})
    own = Customer("wm1", "new", attrs={"follow_user": "lisi"}, tags={"product": "lipstick"})
    assert spec.owner(own) == "lisi"
    assert spec.owner(Customer("wm2", "new", tags={"product": "lipstick"})) == "lip_expert"
    assert spec.owner(Customer("wm3", "new")) is None  # nobody's own: the duty list decides
    assert HandoffSpec(follow_user=False, agents=("x",)).owner(own) is None  # own staff ignored
    assert HandoffSpec(follow_user=False, by_tag=spec.by_tag).owner(own) == "lip_expert"
    monday = datetime(2026, 11, 23, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    taken: dict[str, int] = {}
    order = []
    for _ in range(7):
        agent = spec.next_on_duty(monday, taken)
        assert agent is not None
        order.append(agent)
        taken[agent] = taken.get(agent, 0) + 1
    assert order == ["a1", "a2", "a3", "a1", "a2", "a3", "a1"]
    assert spec.next_on_duty(monday, {"a1": 5, "a2": 2, "a3": 2}) == "a2"  # the fewest today, then list order
    assert HandoffSpec().next_on_duty(monday, {}) is None


def test_each_agent_on_their_own_shift_and_everyone_when_nobody_is_on():
    zone = ZoneInfo("Asia/Shanghai")
    spec = HandoffSpec(agents=("early", "late", "always"), hours="09:00-22:00", weekdays=(0, 1, 2, 3, 4),
                       shifts={"early": "09:00-15:00", "late": "14:00-22:00"})
    assert spec.on_duty(datetime(2026, 11, 23, 10, 0, tzinfo=zone)) == ("early", "always")
    assert spec.on_duty(datetime(2026, 11, 23, 14, 30, tzinfo=zone)) == ("early", "late", "always")
    assert spec.on_duty(datetime(2026, 11, 23, 21, 0, tzinfo=zone)) == ("late", "always")
    assert spec.on_duty(datetime(2026, 11, 28, 10, 0, tzinfo=zone)) == ("early", "late", "always")  # Saturday
    with pytest.raises(DefinitionError, match="not in agents"):
        HandoffSpec(agents=("a",), shifts={"b": "09:00-12:00"})
    with pytest.raises(DefinitionError, match=r"shifts\['a'\].*HH:MM-HH:MM"):
        HandoffSpec(agents=("a",), shifts={"a": "9-12"})
    brand = spec.for_brand({"PERSONA_HANDOFF_SHIFTS": "early=08:00-12:00, late=12:00-20:00"})
    assert brand.shifts == {"early": "08:00-12:00", "late": "12:00-20:00"}
    assert spec.for_brand({"PERSONA_HANDOFF_AGENTS": "late,new"}).shifts == {"late": "14:00-22:00"}


@pytest.mark.parametrize("kind", STORE_KINDS)
async def test_customers_with_no_staff_of_their_own_go_round_the_agents_on_shift(kind, tmp_path, namespace):
    url = store_url(kind, tmp_path)
    async with Simulation("bots.xiaowanzi", start="2026-11-23 14:30", store=url, namespace=namespace) as sim:
        assigned = []
        for i in range(5):
            said = {s.script: s for s in await sim.text(f"wm_rr{i}", "转人工")}
            assigned.append(said["handoff_notify"].to)
        assert assigned == ["staff:wanzi_kefu1", "staff:wanzi_kefu2"] * 2 + ["staff:wanzi_kefu1"]
        [handoff] = notes(await sim.journal("wm_rr1"), "handoff")
        assert (handoff["assigned"], handoff["rotated"]) == ("wanzi_kefu2", True)
        await sim.advance("390m")  # 21:00: only the late shift is on
        said = {s.script: s for s in await sim.text("wm_late", "转人工")}
        assert said["handoff_notify"].to == "staff:wanzi_kefu2"
        await sim.wechat("wm_own", "add_external_contact", welcome_code="WCown", staff="lisi")
        said = {s.script: s for s in await sim.text("wm_own", "转人工")}
        assert said["handoff_notify"].to == "staff:lisi"  # their own: not the rotation's
        [own] = notes(await sim.journal("wm_own"), "handoff")
        assert "rotated" not in own
    if kind == "redis":
        await drop_namespace(url, namespace)


async def test_the_staff_member_reads_the_customer_s_last_lines():
    async with Simulation("bots.xiaowanzi", start="2026-11-23 10:00") as sim:
        await sim.wechat("wm_amy", "add_external_contact", welcome_code="WC1", staff="lisi")
        for line in ("你好", "我上周买的口红", "颜色和图片不一样", "可以换吗"):
            await sim.text("wm_amy", line)
        await sim.media("wm_amy")
        said = {s.script: s for s in await sim.text("wm_amy", "转人工")}
    text = said["handoff_notify"].text
    assert "TA 最近说：" in text
    lines = [line[2:] for line in text.splitlines() if line.startswith("· ")]
    assert lines == ["我上周买的口红", "颜色和图片不一样", "可以换吗", "[media image]", "转人工"]  # the last five


def test_business_hours_follow_the_persona_clock_weekdays_and_nights():
    zone = ZoneInfo("Asia/Shanghai")
    day = HandoffSpec(hours="09:00-17:30", weekdays=(0, 1, 2, 3, 4))
    assert day.open_at(datetime(2026, 11, 23, 9, 0, tzinfo=zone))
    assert not day.open_at(datetime(2026, 11, 23, 17, 30, tzinfo=zone))
    assert not day.open_at(datetime(2026, 11, 28, 11, 0, tzinfo=zone))  # Saturday
    night = HandoffSpec(hours="20:00-02:00")
    assert night.open_at(datetime(2026, 11, 23, 23, 0, tzinfo=zone))
    assert night.open_at(datetime(2026, 11, 24, 1, 0, tzinfo=zone))
    assert not night.open_at(datetime(2026, 11, 24, 12, 0, tzinfo=zone))
    weeknights = HandoffSpec(hours="21:00-09:00", weekdays=(0, 1, 2, 3, 4))
    assert weeknights.open_at(datetime(2026, 11, 28, 2, 0, tzinfo=zone))  # Saturday 02:00: Friday's shift
    assert not weeknights.open_at(datetime(2026, 11, 23, 2, 0, tzinfo=zone))  # Monday 02:00: Sunday's


@pytest.mark.parametrize("kwargs, says", [({"hours": "9-21"}, "write HH:MM-HH:MM"),
                                          ({"hours": "09:00"}, "write HH:MM-HH:MM"),
                                          ({"hours": "09:00-09:00"}, "the same"),
                                          ({"weekdays": (7,)}, r"0 \(Monday\) to 6")])
def test_a_mistyped_spec_is_refused_when_the_persona_is_defined(kwargs, says):
    with pytest.raises(DefinitionError, match=says):
        HandoffSpec(**kwargs)


def test_in_persona_chat_the_customer_and_the_staff_member_each_hear_their_part():
    done = run_persona("chat", "bots.xiaowanzi", "--user", "wm_chat", "--start", "2026-11-23 10:00",
                       input="转人工\n/agent wanzi_kefu1 亲，我来帮你看看～\n/agent wanzi_kefu1 这款能根治痘痘\n"
                             "/close wanzi_kefu1\n/quit\n")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert any("bot>" in line and "真人同事" in line for line in lines), done.stdout
    assert any("(to staff:wanzi_kefu1)" in line and "【转人工】" in line for line in lines), done.stdout
    assert any("bot>" in line and "亲，我来帮你看看～" in line for line in lines), done.stdout  # the agent's reply
    assert any(line.startswith("error:") and "根治" in line for line in lines), done.stdout  # 风控 stopped it
    after_close = lines[lines.index("you> /close wanzi_kefu1"):]
    assert any("(to staff:wanzi_kefu1)" in line and "已交回机器人" in line for line in after_close), done.stdout
    assert any("bot>" in line and "有别的问题随时找小完子" in line for line in after_close), done.stdout


def test_in_persona_chat_out_of_hours_the_customer_gets_the_offline_reply():
    done = run_persona("chat", "bots.xiaowanzi", "--user", "wm_night", "--start", "2026-11-23 23:30",
                       input="转人工\n/advance 31m\n/quit\n")
    assert done.returncode == 0, done.stderr
    said = [line for line in done.stdout.splitlines() if line.startswith("bot>")]
    assert any("现在是下班时间啦" in line and "09:00上班后" in line for line in said), done.stdout
    assert not any("马上就来回复你" in line for line in said), done.stdout  # no in-hours acknowledgement
    assert any("(to staff:" in line and "非工作时间" in line for line in said), done.stdout
    assert any("这次先聊到这里啦" in line for line in said), done.stdout  # idle: the customer is told
    assert any("已交回机器人" in line and "已空闲" in line for line in said), done.stdout  # and the agent


async def test_the_desk_figures_count_per_agent_and_per_bot_in_the_store_metrics_cli_and_studio_data(tmp_path):
    from persona.engine import quality

    url = f"sqlite:///{tmp_path}/persona.db"
    async with Simulation("bots.finance_secretary", start="2026-11-23 10:00", store=url) as sim:
        desk = Desk(sim.runtime)
        for user in ("wm_a", "wm_b"):
            await sim.wechat(user, "add_external_contact", welcome_code=f"WC{user}", staff="lisi")
        await sim.text("wm_a", "人工")
        await sim.advance("3m")
        await desk.send("wm_a", "lisi", "您好，我是小李，请问有什么可以帮您？")  # first reply after 180 s
        await sim.advance("1m")
        await sim.text("wm_a", "定投怎么改")
        await sim.advance("1m")
        await desk.send("wm_a", "lisi", "在 App 的定投计划里改")  # waited 60 s, not a first reply
        with pytest.raises(DeskError):
            await desk.send("wm_a", "lisi", "这只基金稳赚")  # 风控: blocked, journaled, counted
        await desk.close("wm_a", "lisi")
        await sim.text("wm_b", "人工")
        await sim.advance("31m")  # idle: given back with nobody having answered
        found = await quality.figures(sim.runtime.store, "new")
        page = sim.runtime.metrics.render()
    assert found.handoffs == {"words": 2} and found.handbacks == {"closed": 1, "idle": 1}
    assert found.new_customers == 2 and found.handoff_rate == 1.0
    [lisi] = found.agents
    assert (lisi.agent, lisi.replies, lisi.handled, lisi.first_response, lisi.response, lisi.blocked) == (
        "lisi", 2, 1, 180.0, 120.0, 1)  # wm_b went back unanswered: not a conversation handled
    assert 'persona_agent_replies_total{agent="lisi",persona="finance_secretary"} 2' in page
    assert 'persona_conversations_handled_total{agent="lisi",persona="finance_secretary"} 1' in page
    assert 'persona_first_response_seconds_count{agent="lisi",persona="finance_secretary"} 1' in page

    done = run_persona("agent", "figures", "bots.finance_secretary", "--store", url, "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["agents"][0] == {"agent": "lisi", "replies": 2, "handled": 1,
                                                    "first_response": 180.0, "response": 120.0,
                                                    "blocked": 1, "flagged": 0}


async def test_a_brand_sets_its_own_duty_list_hours_and_desk_in_its_environment(monkeypatch):
    monkeypatch.setenv("PERSONA_HANDOFF_AGENTS", "brand_duty")
    monkeypatch.setenv("PERSONA_HANDOFF_HOURS", "")  # always staffed
    monkeypatch.setenv("PERSONA_HANDOFF_DESK_URL", "https://desk.brand.example/{user}")
    async with Simulation("bots.finance_secretary", start="2026-11-26 23:00") as sim:  # a weekday night
        said = {s.script: s for s in await sim.text("wm_night", "人工")}
        assert "handoff_ack" in said and "handoff_offline" not in said
        assert said["handoff_notify"].to == "staff:brand_duty"
        assert "https://desk.brand.example/wm_night" in said["handoff_notify"].text
    assert HandoffSpec(agents=("x",)).for_brand({}) == HandoffSpec(agents=("x",))


async def test_the_worker_hands_over_to_the_brands_own_duty_list(monkeypatch, tmp_path):
    """Timer turns (an idle handback, a reminder that ends in 人工) run in ``persona worker``:
    they must see the same staff a callback turn in ``persona serve`` sees."""
    from persona.worker import build_runtime

    monkeypatch.setenv("FINANCE_SECRETARY_PERSONA_HANDOFF_AGENTS", "worker_duty")
    monkeypatch.setenv("PERSONA_HANDOFF_DESK_URL", "https://desk.brand.example/{user}")
    runtime = build_runtime("bots.finance_secretary", f"sqlite:///{tmp_path}/persona.db")
    try:
        staffing = runtime.persona.staffing
        assert staffing is not None and staffing.agents == ("worker_duty",)
        assert staffing.desk_url == "https://desk.brand.example/{user}"
    finally:
        await runtime.store.close()
    fitness = build_runtime("bots.fitness_coach", f"sqlite:///{tmp_path}/coach.db")
    try:
        coach = fitness.persona.staffing  # the duty list was the secretary's alone; the desk is the brand's
        assert coach is not None and coach.agents == ("coach_duty",)
        assert coach.desk_url == "https://desk.brand.example/{user}"
    finally:
        await fitness.store.close()
