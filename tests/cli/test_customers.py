"""``persona customers link|show`` and ``persona inspect`` on one person's two ids, from another
process, on SQLite and Redis (at the simulation's time, through libfaketime)."""

from __future__ import annotations

import json

import pytest

from persona.testing import Simulation
from tests.conftest import REDIS_URL, drop_namespace
from tests.faketime import needs_faketime

START = "2026-11-23 09:00"


async def seed(store: str, namespace: str) -> float:
    """u_amy follows the Official Account; later, as wm_amy in WeCom (still new there), she orders. Two customers."""
    async with Simulation("tests.core.shop", start=START, store=store, namespace=namespace) as sim:
        await sim.wechat("u_amy", "subscribe", key="poster")
        sim.clock.advance(600)
        await sim.event("wm_amy", "order_placed", {"amount": 300})
        return sim.clock.now()


@pytest.fixture(params=["sqlite", "redis"])
async def store(request, tmp_path, namespace):
    url = f"sqlite:///{tmp_path}/shop.db" if request.param == "sqlite" else REDIS_URL
    yield url
    if request.param == "redis":
        await drop_namespace(url, namespace)


@needs_faketime
async def test_link_two_ids_then_show_and_inspect_either(cli, store, namespace):
    now = await seed(store, namespace)
    where = ["--store", store, "--namespace", namespace]

    linked = cli("customers", "link", "tests.core.shop", "wm_amy", "u_amy", *where, at=now)
    assert linked.returncode == 0, linked.stderr
    assert linked.stdout.splitlines()[0] == "wm_amy is now part of customer u_amy (state welcomed)"

    shown = cli("customers", "show", "tests.core.shop", "wm_amy", *where, "--json", at=now)
    assert json.loads(shown.stdout) == {"customer": "u_amy", "unionid": None, "current": "u_amy",
                                        "ids": [{"id": "u_amy", "platform": "mp"},
                                                {"id": "wm_amy", "platform": "wecom"}]}

    inspected = cli("inspect", "tests.core.shop", "wm_amy", *where, at=now)
    lines = inspected.stdout.splitlines()
    assert lines[:3] == ["customer   u_amy", "ids        u_amy (mp, current), wm_amy (wecom)", "state      welcomed"]
    assert "counters   orders=1  spent=300" in lines
    journal = "\n".join(lines[lines.index(next(l for l in lines if l.startswith("journal"))):])
    assert "wechat subscribe poster → subscribed" in journal and "event order_placed → ordered" in journal
    assert "merged_into" in journal and "merged" in journal

    again = cli("customers", "link", "tests.core.shop", "u_amy", "wm_amy", *where, at=now)
    assert (again.returncode, again.stdout.strip()) == (0, "u_amy and wm_amy are one customer already (u_amy)")


@needs_faketime
async def test_unknown_ids_exit_1_with_the_reason(cli, store, namespace):
    now = await seed(store, namespace)
    where = ["--store", store, "--namespace", namespace]
    nobody = cli("customers", "show", "tests.core.shop", "o_nobody", *where, at=now)
    assert nobody.returncode == 1 and "no customer 'o_nobody'" in nobody.stderr
    neither = cli("customers", "link", "tests.core.shop", "o_x", "o_y", *where, at=now)
    assert neither.returncode == 1 and "neither 'o_x' nor 'o_y' is a customer of shop" in neither.stderr


@needs_faketime
async def test_an_id_linked_by_hand_reaches_its_customer_in_a_bot_that_does_not_learn_unionids(cli, store, namespace):
    """The shop does not link by unionid; an id linked by hand must still reach the kept
    customer at its next input, not start a customer of its own again."""
    now = await seed(store, namespace)
    where = ["--store", store, "--namespace", namespace]
    assert cli("customers", "link", "tests.core.shop", "wm_amy", "u_amy", *where, at=now).returncode == 0
    async with Simulation("tests.core.shop", start=now + 60, store=store, namespace=namespace) as sim:
        await sim.event("wm_amy", "order_placed", {"amount": 100})
        assert await sim.customer("wm_amy") is None
        kept = await sim.customer("u_amy")
        assert kept is not None and kept.counters == {"orders": 2, "spent": 400}
        assert "wm_amy" in kept.ids
