"""The agents' JSON API over a simulated bot: the queue with waiting times, the conversation,
three candidates, sending an edited candidate, closing, and what a bad request gets."""

from __future__ import annotations

import json

from aiohttp.test_utils import TestClient, TestServer

from persona.engine.desk import Desk
from persona.service.agents import create_agent_app
from persona.metrics import merge
from persona.testing import Simulation

AGENT = {"X-Persona-Agent": "小李"}


async def test_an_agent_page_sees_the_queue_picks_a_candidate_edits_sends_and_closes():
    async with Simulation("bots.xiaowanzi", start="2026-11-23 09:00") as sim:
        await sim.wechat("wm_amy", "add_external_contact", key="parcel_lipstick", welcome_code="WC1")
        await sim.text("wm_amy", "人工")
        await sim.advance("90s")
        await sim.text("wm_amy", "退货的运费谁出呀")
        await sim.advance("30s")
        async with TestClient(TestServer(create_agent_app([Desk.for_bot(sim.bot)]))) as client:
            queue = await (await client.get("/xiaowanzi/queue", headers=AGENT)).json()
            assert queue["queue"][0]["user"] == "wm_amy" and queue["queue"][0]["waiting"] == 120

            seen = await (await client.get("/xiaowanzi/conversations/wm_amy", headers=AGENT)).json()
            assert seen["handoff"]["reason"] == "words" and seen["handoff"]["waiting"] is True
            lines = [(line["who"], line["text"]) for line in seen["lines"]]
            assert lines[lines.index(("customer", "人工")):] == [
                ("customer", "人工"), ("system", "handoff: words"), ("bot", "[handoff_ack]"),
                ("customer", "退货的运费谁出呀")], lines  # the staff member's notice is not the customer's

            offered = (await (await client.get("/xiaowanzi/conversations/wm_amy/candidates", headers=AGENT)).json())
            assert len(offered["candidates"]) == 3 and offered["candidates"][0]["faq"] == "return_howto"
            picked = offered["candidates"][0]
            text = picked["text"] + "有问题随时找我～"
            resp = await client.post("/xiaowanzi/conversations/wm_amy/messages", headers=AGENT,
                                     json={"text": text, "candidate": picked, "id": "req-1"})
            assert resp.status == 202 and (await resp.json())["edits"] == len("有问题随时找我～")
            await sim.advance("1s")
            assert [s.text for s in sim.sent if s.script == "agent"] == [text]

            resp = await client.post("/xiaowanzi/conversations/wm_amy/close", headers=AGENT)
            assert resp.status == 200
            assert (await (await client.get("/xiaowanzi/queue", headers=AGENT)).json()) == {"queue": []}

        m = merge([sim.bot.metrics])
        page = m.render()
        assert 'persona_suggestions_shown_total{persona="xiaowanzi"} 3' in page
        assert 'persona_suggestions_edited_total{persona="xiaowanzi"} 1' in page
        assert 'persona_handoff_wait_seconds_bucket{persona="xiaowanzi",le="120"} 1' in page
        assert 'persona_handbacks_total{persona="xiaowanzi",why="closed"} 1' in page


async def test_bad_requests_get_a_clear_json_error_and_send_nothing():
    async with Simulation("bots.xiaowanzi") as sim:
        await sim.text("o_bo", "在吗")
        async with TestClient(TestServer(create_agent_app([Desk(sim.runtime)]))) as client:
            cases = [
                (client.get("/xiaowanzi/queue"), 401),
                (client.get("/nobot/queue", headers=AGENT), 404),
                (client.get("/xiaowanzi/conversations/nobody", headers=AGENT), 404),
                (client.post("/xiaowanzi/conversations/o_bo/messages", headers=AGENT, data=b"{not json"), 400),
                (client.post("/xiaowanzi/conversations/o_bo/messages", headers=AGENT, json=["hi"]), 400),
                (client.post("/xiaowanzi/conversations/o_bo/messages", headers=AGENT, json={"text": 3}), 400),
                (client.post("/xiaowanzi/conversations/o_bo/messages", headers=AGENT,
                             json={"text": "hi", "candidate": "faq"}), 400),
                (client.post("/xiaowanzi/conversations/o_bo/messages", headers=AGENT,
                             json={"text": "字" * 700}), 413),
                (client.post("/xiaowanzi/conversations/o_bo/messages", headers=AGENT,
                             data=json.dumps({"text": "x" * 20000})), 413),
            ]
            for request, status in cases:
                resp = await request
                assert resp.status == status, (status, await resp.text())
                assert "error" in await resp.json()
        await sim.advance("1s")
        assert [s for s in sim.sent if s.script == "agent"] == []
        assert (await sim.customer("o_bo")).handoff is None
