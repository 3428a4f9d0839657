"""``persona_customers{persona,state}``: kept by the commits, equal to a full count of the records."""

from __future__ import annotations

import asyncio
import random
import re

from persona import BusinessEvent, FakeClock, PlatformEvent, Runtime, TextMessage
from persona.engine import census
from persona.engine.bot import Bot
from persona.migrate.funnel import funnel
from persona.model.inputs import Input
from tests.core.shop import Shop
from tests.service.conftest import environ, serve  # noqa: F401 (a fixture)

TURNS = 10_000


def random_input(rng: random.Random, n: int) -> Input:
    user = f"u{rng.randrange(400)}"
    roll = rng.random()
    if roll < 0.25:
        return PlatformEvent(user=user, dedupe_key=f"e:{n}", name="subscribe", key=rng.choice(["a", "b"]))
    if roll < 0.55:
        return BusinessEvent(user=user, dedupe_key=f"b:{n}", name="order_placed",
                             data={"amount": rng.choice([99, 299, 800])})
    if roll < 0.6:
        return TextMessage(user=user, dedupe_key=f"m:{n}", text="boom")  # a handler that fails
    if rng.random() < 0.05:
        return TextMessage(user=user, dedupe_key=f"m:{n - 1}", text="多少钱")  # a retry, maybe
    return TextMessage(user=user, dedupe_key=f"m:{n}", text=rng.choice(["多少钱", "订单呢", "hi", "退订"]))


async def test_the_gauge_matches_a_full_scan_after_ten_thousand_random_turns(store, serve):
    clock = FakeClock("2026-11-23 09:00")
    rng = random.Random(14)
    # two runtimes on one store, as two processes: their turns race and some are decided again
    runtimes = [Runtime(Shop(), store, clock), Runtime(Shop(), store, clock)]
    for start in range(0, TURNS, 20):
        await asyncio.gather(*(runtimes[i % 2].handle(random_input(rng, start + i)) for i in range(20)))
        clock.advance(600)
    scanned = await census.scan(store)
    assert sum(scanned.values()) > 300 and len(scanned) == 4
    assert await census.per_state(store) == scanned

    bot = Bot(Shop, store, environ=environ())
    client = await serve([bot])
    text = await (await client.get("/metrics")).text()
    gauge = {m[1]: int(m[2]) for m in re.finditer(r'^persona_customers\{persona="shop",state="(\w+)"\} (\d+)$',
                                                  text, re.M)}
    assert gauge == {state: scanned.get(state, 0) for state in Shop.states}
    steps = await funnel(Shop, store, now=clock.now())
    assert steps[0].state == "new" and steps[0].entered == sum(scanned.values())


def test_the_grafana_dashboard_queries_only_metrics_persona_exports():
    import json
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    dashboard = json.loads((root / "docs" / "grafana-persona.json").read_text())
    source = "\n".join(p.read_text() for p in (root / "persona").rglob("*.py"))
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    names = {m for e in exprs for m in re.findall(r"persona_(\w+?)(?:_total|_seconds_bucket)?\{", e)}
    assert "customers" in names and len(names) >= 8
    for name in names:
        assert re.search(rf"""["']{name}["']""", source), f"the dashboard asks for persona_{name}, never exported"
