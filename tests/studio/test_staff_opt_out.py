"""Opting a customer out by hand is a turn like the customer's own 退订: tagged, journaled with
the staff member's name, marketing timers cancelled, marketing dropped by the gate after."""

from __future__ import annotations

import json

from persona.model.inputs import BusinessEvent
from persona.engine.gate import STAFF_OPT_IN, STAFF_OPT_OUT
from persona.testing import Simulation


async def test_staff_opt_out_and_back_in_is_journaled_with_their_name():
    async with Simulation("bots.xiaowanzi", start="2026-11-23 09:00") as sim:
        await sim.wechat("wm_amy", "add_external_contact", key="parcel_lipstick", welcome_code="WC1")
        assert "coupon_nudge" in (await sim.customer("wm_amy")).timers
        outcome = await sim.runtime.handle(BusinessEvent(user="wm_amy", name=STAFF_OPT_OUT, data={"by": "root"},
                                                         dedupe_key="staff:1"))
        assert outcome.status == "done"
        customer = await sim.customer("wm_amy")
        assert customer.opted_out and "coupon_nudge" not in customer.timers
        assert await sim.advance("3h") == []  # the coupon reminder is not sent
        await sim.runtime.handle(BusinessEvent(user="wm_amy", name=STAFF_OPT_IN, data={"by": "root"},
                                               dedupe_key="staff:2"))
        assert not (await sim.customer("wm_amy")).opted_out
        notes = [json.loads(line) for line in await sim.journal("wm_amy")]
        opts = [(n["k"], n.get("by")) for n in notes if n["k"] in ("opt_out", "opt_in")]
        assert opts == [("opt_out", "root"), ("opt_in", "root")]
        assert not [n for n in notes if n["k"] == "error"]
