"""Handing a customer to a human agent: the bot keeps quiet while the human holds the
conversation, the agent's message goes through the gate and the journal, and the bot takes
over again when the agent closes it or it stays idle."""

from __future__ import annotations

import contextlib
import dataclasses
import json
from typing import Any, AsyncIterator

import pytest

from persona import Persona, Policy, Turn, on
from persona.model.messages import Message
from persona.engine.desk import Desk, DeskError, edit_distance
from persona.testing import Simulation
from bots.xiaowanzi import Xiaowanzi
from tests.conftest import STORE_KINDS, drop_namespace, store_url

START = "2026-11-23 09:00"


@pytest.fixture(params=STORE_KINDS)
def open_sim(request, tmp_path, namespace):
    url = store_url(request.param, tmp_path)

    @contextlib.asynccontextmanager
    async def opened(persona: Any = "bots.xiaowanzi") -> AsyncIterator[Simulation]:
        try:
            async with Simulation(persona, start=START, store=url, namespace=namespace) as sim:
                yield sim
        finally:
            if request.param == "redis":
                await drop_namespace(url, namespace)

    return opened


def journal_kinds(lines: list[str], kind: str) -> list[dict[str, Any]]:
    return [n for n in map(json.loads, lines) if n["k"] == kind]


async def test_handoff_agent_sends_an_edited_candidate_bot_quiet_then_resumes_after_idle(open_sim):
    async with open_sim() as sim:
        desk = Desk(sim.runtime)
        await sim.wechat("wm_amy", "add_external_contact", key="parcel_lipstick", welcome_code="WC1")
        assert [s.script for s in await sim.text("wm_amy", "口红有什么颜色")] == ["product_info"]

        said = await sim.text("wm_amy", "转人工")                 # the words hand over (HandoffSpec tells both)
        assert [(s.script, s.to) for s in said] == [("handoff_ack", "wm_amy"),
                                                   ("handoff_notify", f"staff:{said[1].to[6:]}")]
        await sim.advance("2m")
        assert await sim.text("wm_amy", "口红能和优惠券一起用吗") == []   # the bot stays quiet
        [waiting] = await desk.queue()
        assert (waiting.user, waiting.reason, waiting.waiting) == ("wm_amy", "words", 120)

        base = "可以的，下单时选择优惠券即可。"
        result = await desk.send("wm_amy", "小李", "可以的亲，下单时选「小细跟口红专属券」就好～",
                                 candidate="coupon_use", base=base, request_id="r1")
        await sim.advance("1s")
        [reply] = [s for s in sim.sent if s.to == "wm_amy" and s.script == "agent"]
        assert "小细跟口红专属券" in reply.text and result.action == "send"
        assert result.edits == edit_distance(base, "可以的亲，下单时选「小细跟口红专属券」就好～") > 0
        [note] = journal_kinds(await sim.journal("wm_amy"), "agent")
        assert (note["agent"], note["candidate"], note["edits"], note["wait"]) == ("小李", "coupon_use",
                                                                                  result.edits, 120)
        [waiting] = await desk.queue()
        assert waiting.waiting == 0 and waiting.agent == "小李"
        m = sim.bot.metrics
        assert m.value("handoffs", persona="xiaowanzi", reason="words") == 1
        assert m.value("suggestions_used", persona="xiaowanzi") == 1
        assert m.value("suggestions_edited", persona="xiaowanzi") == 1

        assert await sim.text("wm_amy", "好的谢谢") == []        # still the human's conversation
        assert await sim.advance("29m") == []
        assert (await sim.customer("wm_amy")).handoff is not None
        await sim.advance("2m")                                  # 30 idle minutes: back to the bot
        amy = await sim.customer("wm_amy")
        assert amy.handoff is None and await desk.queue() == []
        [back] = journal_kinds(await sim.journal("wm_amy"), "handback")
        assert back["why"] == "idle"
        assert [s.script for s in await sim.text("wm_amy", "口红还有货吗")] == ["product_info"]
        assert m.value("handbacks", persona="xiaowanzi", why="idle") == 1


async def test_a_retried_agent_request_sends_once_and_closing_returns_to_the_bot(open_sim):
    async with open_sim() as sim:
        desk = Desk(sim.runtime)
        await sim.text("o_bo", "在吗")
        await desk.send("o_bo", "小李", "您好，我是小李", request_id="same")
        again = await desk.send("o_bo", "小李", "您好，我是小李", request_id="same")
        await sim.advance("1s")
        assert again.action == "duplicate"
        assert [s.text for s in sim.sent if s.script == "agent"] == ["您好，我是小李"]
        assert (await sim.customer("o_bo")).handoff.reason == "agent"  # an agent writing holds it
        await desk.close("o_bo", "小李")
        assert (await sim.customer("o_bo")).handoff is None
        assert journal_kinds(await sim.journal("o_bo"), "handback")[0]["agent"] == "小李"
        await sim.advance("1s")  # the customer and the agent are told
        assert [(s.script, s.to) for s in sim.sent if s.script.startswith("handoff")] == [
            ("handoff_back", "o_bo"), ("handoff_back_notify", "staff:小李")]
        assert [s.script for s in await sim.text("o_bo", "口红多少钱")] == ["product_info"]


async def test_bad_agent_requests_are_refused_and_change_nothing(open_sim):
    async with open_sim() as sim:
        desk = Desk(sim.runtime)
        await sim.text("o_cy", "在吗")
        version = (await sim.customer("o_cy")).version
        for args, status in ((("o_cy", "小李", "  "), 400), (("o_cy", "", "hi"), 400),
                             (("o_cy", "小李", "字" * 700), 413), (("o_nobody", "小李", "hi"), 404)):
            with pytest.raises(DeskError) as caught:
                await desk.send(*args)
            assert caught.value.status == status
        assert (await sim.customer("o_cy")).version == version


async def test_outside_the_48_hour_window_the_agent_is_told_the_gate_dropped_it(open_sim):
    async with open_sim() as sim:
        await sim.text("o_di", "在吗")
        await sim.advance("49h")
        with pytest.raises(DeskError) as caught:
            await Desk(sim.runtime).send("o_di", "小李", "您好")
        assert caught.value.status == 409 and "kf_window_closed" in str(caught.value)


class Held(Xiaowanzi):
    """小完子 handing over what she does not understand, held for six hours, saying so."""

    scripts_dir = str(Xiaowanzi.folder() / "scripts")
    policy = dataclasses.replace(Xiaowanzi.policy, handoff_unhandled=True, handoff_idle=6 * 3600,
                                 handoff_script="help")
    handoff = None  # the policy's handoff script alone, not 小完子's HandoffSpec

    @on.keyword("投诉")
    def complaint(self, turn: Turn) -> None:
        turn.handoff("complaint")


async def test_while_held_marketing_timers_are_dropped_and_service_goes_on(open_sim):
    async with open_sim(Held) as sim:
        await sim.wechat("wm_eve", "add_external_contact", key="parcel_lipstick", welcome_code="WC9")
        [said] = await sim.text("wm_eve", "我要投诉")
        assert said.script == "help"                             # the policy's handoff script
        assert (await sim.customer("wm_eve")).handoff.reason == "complaint"
        assert await sim.advance("3h") == []                     # the coupon reminder is marketing
        out = [n for n in journal_kinds(await sim.journal("wm_eve"), "out") if n["script"] == "coupon_reminder"]
        assert out[0]["action"] == "drop" and out[0]["reason"] == "handoff"
        sent = await sim.event("wm_eve", "order_shipped", {"order_id": "O1", "tracking": "SF1"})
        assert [s.script for s in sent] == ["order_shipped"]     # service still goes out


class Plain(Persona):
    """A persona with one keyword and no catch-all: other text is nobody's."""

    name = "plain"
    states = ["new"]
    scripts_dir = str(Xiaowanzi.folder() / "scripts")
    policy = Policy(handoff_unhandled=True)

    @on.keyword("帮助")
    def help(self, turn: Turn) -> None:
        turn.send(Message("text", text="回复 人工 找真人", category="service", script="help"))


async def test_unhandled_text_is_handed_over_when_the_policy_says_so(open_sim):
    async with open_sim(Plain) as sim:
        assert [s.script for s in await sim.text("o_fu", "帮助")] == ["help"]
        assert (await sim.customer("o_fu")).handoff is None
        assert await sim.text("o_fu", "今天天气怎么样") == []
        held = (await sim.customer("o_fu")).handoff
        assert held is not None and held.reason == "unhandled"
        [note] = journal_kinds(await sim.journal("o_fu"), "handoff")
        assert note["text"] == "今天天气怎么样"


def test_a_negative_idle_time_is_refused_at_definition():
    from persona.errors import DefinitionError
    with pytest.raises(DefinitionError, match="handoff_idle"):
        Policy(handoff_idle=-1)


def test_agent_send_from_the_command_line_goes_through_the_gate_to_the_outbox(tmp_path):
    import asyncio
    import subprocess
    import sys
    import time

    url = f"sqlite:///{tmp_path / 'p.db'}"

    async def arrive() -> None:  # now: the command runs on the real clock, inside the 48-hour window
        async with Simulation("bots.xiaowanzi", start=time.time(), store=url) as sim:
            await sim.text("o_cli", "在吗")

    asyncio.run(arrive())
    run = lambda *args: subprocess.run([sys.executable, "-m", "persona", "agent", *args], capture_output=True,
                                       text=True, timeout=120)
    done = run("send", "bots.xiaowanzi", "o_cli", "亲，运费满59包邮哦", "--as", "小李", "--store", url,
               "--candidate", "shipping_fee")
    assert done.returncode == 0, done.stderr
    assert "o_cli: send" in done.stdout and "characters edited" in done.stdout
    queue = run("queue", "bots.xiaowanzi", "--store", url)
    assert queue.stdout.startswith("o_cli  waiting 0s  reason agent  agent 小李")
    shown = subprocess.run([sys.executable, "-m", "persona", "inspect", "bots.xiaowanzi", "o_cli", "--store", url],
                           capture_output=True, text=True, timeout=120)
    assert "handoff    held by 小李 since" in shown.stdout and "(agent); answered" in shown.stdout
    refused = run("send", "bots.xiaowanzi", "nobody", "hi", "--as", "小李", "--store", url)
    assert refused.returncode == 1 and "no customer 'nobody'" in refused.stdout

    async def look() -> list[dict[str, Any]]:
        async with Simulation("bots.xiaowanzi", start=START, store=url) as sim:
            return journal_kinds(await sim.journal("o_cli"), "agent")

    [note] = asyncio.run(look())
    assert note["agent"] == "小李" and note["candidate"] == "shipping_fee" and note["edits"] > 0


async def test_a_staff_member_writing_the_words_to_the_app_is_not_queued(open_sim):
    async with open_sim() as sim:
        await sim.text("zhangsan", "转人工", door="staff", platform="wecom")
        staff = await sim.customer("zhangsan")
        assert staff is None or staff.handoff is None
        assert await Desk(sim.runtime).queue() == []
