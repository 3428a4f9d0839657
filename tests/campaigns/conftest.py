"""Campaign scenarios: 小完子's customers on a fake clock, on each real store."""

from __future__ import annotations

import pytest

from persona.testing import Simulation
from tests.cli.conftest import cli  # noqa: F401 (a fixture: the CLI in a subprocess)
from tests.conftest import drop_namespace, store_url

BOT = "bots.xiaowanzi"
START = "2026-11-23 09:00"  # a Monday, brand time


@pytest.fixture(params=["memory", "sqlite", "redis"])
async def sim(request, tmp_path, namespace):
    """小完子 with the customers of :func:`seed`, on each backend."""
    url = store_url(request.param, tmp_path)
    async with Simulation(BOT, start=START, store=url, namespace=namespace) as simulation:
        await seed(simulation)
        yield simulation
    if request.param == "redis":
        await drop_namespace(url, namespace)


async def seed(sim: Simulation) -> None:
    """Four WeCom customers of 小完子 (bea opted out, dee came for lipstick) and eve, who
    registered on the shop but never added 小完子."""
    for user in ("wm_amy", "wm_bea", "wm_cat"):
        await sim.wechat(user, "add_external_contact", key="store_eyeshadow", welcome_code=f"W{user}", staff="zhang")
    await sim.wechat("wm_dee", "add_external_contact", key="store_lipstick", welcome_code="Wdee", staff="zhang")
    await sim.text("wm_bea", "退订")
    await sim.event("wm_eve", "registered", {"product": "eyeshadow"})
