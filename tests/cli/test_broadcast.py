"""``persona broadcast``: a script to a segment, each customer through the gate, exactly once."""

from __future__ import annotations

import re

import pytest

from persona.testing import Simulation
from tests.conftest import drop_namespace

#: after the real clock: what the broadcast queues "now" is due at once in a simulation here
START = "2030-01-07 09:00"
BOT = "bots.xiaowanzi"


async def seed(url: str, namespace: str | None) -> None:
    """Four customers tagged eyeshadow: two reachable, one opted out, one who never added 小完子."""
    async with Simulation(BOT, start=START, store=url, namespace=namespace) as sim:
        for user in ("wm_amy", "wm_bea", "wm_cat"):
            await sim.wechat(user, "add_external_contact", key="store_eyeshadow", welcome_code=f"W{user}",
                             staff="zhang")
        await sim.wechat("wm_dee", "add_external_contact", key="store_lipstick", welcome_code="Wdee", staff="zhang")
        await sim.text("wm_bea", "退订")
        await sim.event("wm_eve", "registered", {"product": "eyeshadow"})


def count(out: str, label: str) -> int:
    match = re.search(rf"^  {label}\s+(\d+)", out, re.M)
    return int(match.group(1)) if match else 0


@pytest.fixture(params=["sqlite", "redis"])
async def xiaowanzi_store(request, tmp_path, redis_url, namespace):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/x.db", None
        return
    yield redis_url, namespace
    await drop_namespace(redis_url, namespace)


async def test_a_flash_sale_to_a_segment(cli, xiaowanzi_store):
    url, namespace = xiaowanzi_store
    where = ["--store", url] + (["--namespace", namespace] if namespace else [])
    await seed(url, namespace)

    dry = cli("broadcast", BOT, "tag:product=eyeshadow", "flash_sale", *where, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.splitlines()[0].startswith("4 customers in tag:product=eyeshadow would get flash_sale")
    assert "1 of them opted out" in dry.stdout

    done = cli("broadcast", BOT, "tag:product=eyeshadow", "flash_sale", *where, "--id", "sale-1")
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert out.splitlines()[0] == "broadcast sale-1: flash_sale to tag:product=eyeshadow, 4 customers"
    # quiet hours depend on when the test runs: sent now or held until morning, never lost
    assert count(out, "sent") + count(out, "deferred") == 2, out
    assert re.search(r"^  dropped\s+1 \(opted_out 1\)$", out, re.M), out
    assert re.search(r"^  not said\s+1 ", out, re.M), out  # wm_eve never added 小完子: nothing to say
    assert "errors" not in out

    again = cli("broadcast", BOT, "tag:product=eyeshadow", "flash_sale", *where, "--id", "sale-1")
    assert count(again.stdout, "sent") == 0 and count(again.stdout, "done before") == 4, again.stdout

    async with Simulation(BOT, start=START, store=url, namespace=namespace) as sim:
        sent = await sim.advance("1m")  # the running service delivers the outbox
        assert sorted(s.to for s in sent if s.script == "flash_sale") == ["wm_amy", "wm_cat"]
        journal = "\n".join(await sim.journal("wm_bea"))
        assert '"script":"flash_sale"' in journal and '"reason":"opted_out"' in journal


async def test_segments_joined_and_all(cli, tmp_path):
    url = f"sqlite:///{tmp_path}/x.db"
    await seed(url, None)
    both = cli("broadcast", BOT, "state:welcomed+tag:source=store", "flash_sale", "--store", url, "--dry-run")
    assert both.stdout.startswith("4 customers in state:welcomed+tag:source=store"), both.stdout
    everyone = cli("broadcast", BOT, "all", "flash_sale", "--store", url, "--dry-run")
    assert everyone.stdout.startswith("5 customers in all"), everyone.stdout


def test_mistakes_are_refused_before_anything_is_sent(cli, tmp_path):
    url = f"sqlite:///{tmp_path}/x.db"
    cases = {
        ("tag:product=eyeshadow", "flash_sail"): "has no script 'flash_sail'",
        ("state:gone", "flash_sale"): "'gone' is not a state of xiaowanzi",
        ("tag:nickname=x", "flash_sale"): "tag 'nickname' is not indexed",
        ("product=eyeshadow", "flash_sale"): "use state:NAME, tag:NAME or tag:NAME=VALUE",
    }
    for (segment, script), message in cases.items():
        done = cli("broadcast", BOT, segment, script, "--store", url)
        assert done.returncode == 2, (segment, done.stdout)
        assert message in done.stderr, done.stderr
    bad = cli("broadcast", BOT, "all", "flash_sale", "--store", url, "--data", "[1]")
    assert bad.returncode == 2 and "--data must be a JSON object" in bad.stderr
