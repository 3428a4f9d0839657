"""Attribution on a fake clock, as a bot author tests it: the first touch keeps the credit,
the day's tallies follow the persona's time zone, a window leaves older days out, and a
conversion counts for the channel that brought the customer."""

from __future__ import annotations

import pytest

from persona import Persona
from persona.engine import acquisition
from persona.errors import DefinitionError
from persona.testing import Simulation


async def test_the_first_touch_keeps_the_credit_and_each_day_counts_its_own() -> None:
    async with Simulation("bots.xiaowanzi", start="2026-11-23 09:00") as sim:
        await sim.wechat("wm_amy", "add_external_contact", key="parcel_lipstick", welcome_code="W1", staff="zhangsan")
        await sim.advance("1d")
        await sim.wechat("wm_amy", "add_external_contact", key="store_sh021", welcome_code="W2", staff="lisi")
        await sim.wechat("wm_bob", "add_external_contact", key="store_sh021", welcome_code="W3", staff="lisi")
        amy = await sim.customer("wm_amy")
        assert (amy.attrs["channel"], amy.attrs["follow_user"]) == ("parcel_lipstick", "lisi")  # staff moves, credit not

        rows = {r.channel: r for r in await acquisition.by_channel(sim.store, "customer")}
        assert {c: (r.added, r.welcomed, r.staff) for c, r in rows.items()} == {
            "parcel_lipstick": (1, 1, {"zhangsan": 1}), "store_sh021": (1, 1, {"lisi": 1})}
        today = await acquisition.by_channel(sim.store, "customer", since="20261124")
        assert [(r.channel, r.added) for r in today] == [("store_sh021", 1)]
        assert await acquisition.added_today(sim.store, sim.clock.now(), "Asia/Shanghai") == {"lisi": 2}

        await sim.event("wm_bob", "order_placed", {"order_id": "o1", "amount": 129.0, "items": ["lipstick"]})
        [store_row] = [r for r in await acquisition.by_channel(sim.store, "customer") if r.channel == "store_sh021"]
        assert store_row.converted == 1 and store_row.entered == {"welcomed": 1, "customer": 1}


async def test_a_follow_from_a_qr_code_credits_its_scene_and_a_plain_follow_credits_nothing() -> None:
    async with Simulation("bots.xiaowanzi", start="2026-11-23 09:00") as sim:
        await sim.wechat("o_fan", "subscribe", key="qrscene_store_sh021", platform="wechat")
        await sim.wechat("o_plain", "subscribe", platform="wechat")
        await sim.wechat("o_plain", "scan", key="store_sh021", platform="wechat")  # already following: no arrival
        assert (await sim.customer("o_fan")).attrs["channel"] == "store_sh021"
        assert "channel" not in (await sim.customer("o_plain")).attrs
        journal = await sim.journal("o_fan")
        assert any('"k":"channel"' in line.replace(" ", "") and "store_sh021" in line for line in journal)


def test_a_converted_state_the_persona_lacks_fails_at_import() -> None:
    with pytest.raises(DefinitionError, match="converted 'buyer' is not one of its states"):
        class Shop(Persona):
            name = "shop"
            states = ["new", "customer"]
            converted = "buyer"
