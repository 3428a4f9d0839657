"""Scenario tests: a customer, a fake clock, messages in and messages out.

``Simulation`` runs the real runtime, gate, scheduler and delivery on a fake clock against a
fake WeChat API, so what passes here is what runs in production, platform rules included: an
Official Account may write to a follower only within 48 hours of the follower's own message.
Run with ``python -m pytest``.
"""

from __future__ import annotations

import asyncio
from typing import Awaitable, Callable

from persona import EventDataError
from persona.testing import Simulation

BOT = "persona.scaffold.starter"
START = "2026-11-23 09:00"  # a Monday, Asia/Shanghai


def play(scenario: Callable[[Simulation], Awaitable[None]]) -> None:
    async def main() -> None:
        async with Simulation(BOT, start=START) as sim:
            await scenario(sim)

    asyncio.run(main())


def test_a_follower_who_asked_is_nudged_a_day_after_the_welcome() -> None:
    async def scenario(sim: Simulation) -> None:
        sent = await sim.wechat("o_amy", "subscribe", key="qrscene_poster")
        assert [s.script for s in sent] == ["welcome"]
        assert "谢谢你扫码" in sent[0].text
        customer = await sim.customer("o_amy")
        assert customer is not None and customer.state == "welcomed"
        assert customer.tags["source"] == "qrscene_poster"

        sent = await sim.text("o_amy", "多少钱？")  # her message opens the 48-hour window
        assert [s.script for s in sent] == ["price"] and "¥199.00" in sent[0].text

        sent = await sim.advance("1d")
        assert [(s.when, s.script) for s in sent] == [("2026-11-24 09:00", "nudge")]

    play(scenario)


def test_a_silent_follower_is_not_written_to() -> None:
    async def scenario(sim: Simulation) -> None:
        await sim.wechat("o_bob", "subscribe")
        assert await sim.advance("1d") == []  # no message from him: the window never opened

    play(scenario)


def test_a_wecom_contact_gets_the_welcome_message_then_a_nudge() -> None:
    async def scenario(sim: Simulation) -> None:
        sent = await sim.wechat("wm_cat", "add_external_contact", welcome_code="WC1", staff="zhang")
        assert [(s.script, s.via) for s in sent] == [("welcome", "welcome")]
        sent = await sim.advance("1d")
        assert [s.script for s in sent] == ["nudge"]

    play(scenario)


def test_signing_up_thanks_the_customer_and_cancels_the_nudge() -> None:
    async def scenario(sim: Simulation) -> None:
        await sim.wechat("o_dan", "subscribe")
        await sim.text("o_dan", "你好")
        await sim.advance("2h")
        try:  # the event declares its data: a plan that is not text is refused, as the service would (422)
            await sim.event("o_dan", "signed_up", {"plan": 3})
            raise AssertionError("a bad payload was accepted")
        except EventDataError as refused:
            assert refused.fields == ["plan"]
        sent = await sim.event("o_dan", "signed_up", {"plan": "gold"})
        assert [s.script for s in sent] == ["thanks"] and "gold" in sent[0].text
        customer = await sim.customer("o_dan")
        assert customer is not None and customer.state == "member"
        assert await sim.advance("3d") == []

    play(scenario)


async def test_written_as_an_async_function() -> None:
    """Plain ``async def`` tests run as they are: ``pytest.ini`` beside the bot sets
    ``asyncio_mode = auto``."""
    async with Simulation(BOT, start=START) as sim:
        await sim.wechat("o_eve", "subscribe")
        await sim.text("o_eve", "你好")
        sent = await sim.advance("1d")
        assert [(s.when, s.script) for s in sent] == [("2026-11-24 09:00", "nudge")]
