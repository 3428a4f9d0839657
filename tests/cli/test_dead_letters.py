"""``persona dead-letters``: what delivery gave up on, and putting it back in the outbox."""

from __future__ import annotations

import pytest

from persona.testing import Simulation
from tests.conftest import drop_namespace

#: after the real clock, so a message put back in the outbox "now" is due at once here
START = "2030-01-07 09:00"
UNSUBSCRIBED = 43004  # the platform refuses for good: no retry, a dead letter at once


async def refused_thanks(url: str, namespace: str | None) -> str:
    """u_amy's order confirmation is refused by WeChat; the staff copy goes through."""
    async with Simulation("tests.core.shop", start=START, store=url, namespace=namespace) as sim:
        await sim.wechat("u_amy", "subscribe")
        await sim.text("u_amy", "hi")  # her message opens the customer-service window
        sim.api.fail(UNSUBSCRIBED, times=1)
        sent = await sim.event("u_amy", "order_placed", {"amount": 300})
        assert [s.to for s in sent] == ["staff:sales01"]
        [(item, reason)] = await sim.store.dead_letters()
        return item.id


@pytest.fixture(params=["sqlite", "redis"])
async def shop_store(request, tmp_path, redis_url, namespace):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/shop.db", None
        return
    yield redis_url, namespace
    await drop_namespace(redis_url, namespace)


async def test_list_retry_and_deliver(cli, shop_store):
    url, namespace = shop_store
    where = ["--store", url] + (["--namespace", namespace] if namespace else [])
    item_id = await refused_thanks(url, namespace)

    listed = cli("dead-letters", "tests.core.shop", *where)
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert lines[0] == f"{item_id}  to u_amy  attempts 0"
    assert lines[1].startswith("    reason: ") and str(UNSUBSCRIBED) in lines[1]
    assert lines[2] == "    thanks: 谢谢惠顾，¥300.00 已收到。"
    assert lines[3] == "1 dead letter; retry with --retry ID or --retry-all"

    retried = cli("dead-letters", "tests.core.shop", *where, "--retry", item_id)
    assert retried.returncode == 0, retried.stderr
    assert retried.stdout.splitlines() == [f"{item_id}: back in the outbox for u_amy", "1 put back in the outbox"]
    assert cli("dead-letters", "tests.core.shop", *where).stdout.strip() == "no dead letters"
    again = cli("dead-letters", "tests.core.shop", *where, "--retry", item_id)
    assert again.returncode == 1 and "not a dead letter" in again.stderr

    async with Simulation("tests.core.shop", start=START, store=url, namespace=namespace) as sim:
        sent = await sim.advance("1m")  # the service's delivery loop picks it up
        assert [(s.to, s.script, s.text) for s in sent] == [("u_amy", "thanks", "谢谢惠顾，¥300.00 已收到。")]


async def test_retry_all_and_json(cli, tmp_path):
    url = f"sqlite:///{tmp_path}/shop.db"
    first = await refused_thanks(url, None)
    listed = cli("dead-letters", "tests.core.shop", "--store", url, "--json")
    assert f'"id": "{first}"' in listed.stdout and '"type": "message"' in listed.stdout
    done = cli("dead-letters", "tests.core.shop", "--store", url, "--retry-all")
    assert done.returncode == 0
    assert done.stdout.splitlines()[-1] == "1 put back in the outbox"
    assert cli("dead-letters", "tests.core.shop", "--store", url, "--retry-all").stdout.strip() == "no dead letters"
