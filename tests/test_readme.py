"""The README's examples, run as written, so the README stays true."""

from __future__ import annotations

from persona.testing import Simulation


async def test_unclaimed_coupon_gets_a_reminder():
    async with Simulation("bots.xiaowanzi", start="2026-11-23 09:00") as sim:
        await sim.wechat("wm_amy", "add_external_contact", key="parcel_lipstick", welcome_code="WC1")
        sent = await sim.advance("3h")
        assert [s.script for s in sent] == ["coupon_reminder"]
        assert sent[0].when == "2026-11-23 12:00"
