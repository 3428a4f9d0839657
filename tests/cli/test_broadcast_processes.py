"""``persona broadcast --processes N``: the segment dealt over processes, still once per customer."""

from __future__ import annotations

import re

from persona.testing import Simulation
from tests.cli.test_broadcast import BOT, START, count, seed, xiaowanzi_store  # noqa: F401 (a fixture)


async def test_a_flash_sale_over_two_processes_reaches_each_customer_once(cli, xiaowanzi_store):
    url, namespace = xiaowanzi_store
    where = ["--store", url] + (["--namespace", namespace] if namespace else [])
    await seed(url, namespace)

    done = cli("broadcast", BOT, "tag:product=eyeshadow", "flash_sale", *where, "--id", "sale-2", "--processes", "2")
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert out.splitlines()[0] == "broadcast sale-2: flash_sale to tag:product=eyeshadow, 4 customers"
    assert count(out, "sent") + count(out, "deferred") == 2, out
    assert re.search(r"^  dropped\s+1 \(opted_out 1\)$", out, re.M), out
    assert re.search(r"^  not said\s+1 ", out, re.M), out

    again = cli("broadcast", BOT, "tag:product=eyeshadow", "flash_sale", *where, "--id", "sale-2", "--processes", "3")
    assert count(again.stdout, "sent") == 0 and count(again.stdout, "done before") == 4, again.stdout

    async with Simulation(BOT, start=START, store=url, namespace=namespace) as sim:
        sent = await sim.advance("1m")
        assert sorted(s.to for s in sent if s.script == "flash_sale") == ["wm_amy", "wm_cat"]


def test_processes_need_a_store_they_can_share(cli):
    done = cli("broadcast", BOT, "all", "flash_sale", "--store", "memory://", "--processes", "2")
    assert done.returncode == 2 and "--processes N needs sqlite:// or redis://" in done.stderr
