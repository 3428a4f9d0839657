"""``persona inspect``: one customer as stored, read from SQLite and Redis by another process."""

from __future__ import annotations

import json

from persona.testing import Simulation
from tests.conftest import drop_namespace


async def seed(store: str, namespace: str | None = None) -> None:
    async with Simulation("tests.core.shop", start="2026-11-23 09:00", store=store, namespace=namespace) as sim:
        await sim.wechat("u_amy", "subscribe", key="poster")
        await sim.text("u_amy", "多少钱")
        await sim.event("u_amy", "order_placed", {"amount": 300})
        await sim.text("u_amy", "boom")  # a handler that fails: journalled, state unchanged


EXPECTED_HEAD = [
    "customer   u_amy",
    "state      buyer",
    "seen       first 2026-11-23 09:00, last 2026-11-23 09:00 (Asia/Shanghai)",
    "messages   last from them 2026-11-23 09:00, last to them 2026-11-23 09:00",
    "tags       source=poster",
    "attrs",
    '  channel              "poster"',  # credited to the scene the customer followed from
    "counters   orders=1  spent=300",
    "timers",
    "  day3                 2026-11-26 10:00",
    "  review               2026-11-23 12:00  (while buyer)",
]


def check(out: str) -> None:
    lines = out.splitlines()
    timers = sorted(lines[9:11])
    assert lines[:9] == EXPECTED_HEAD[:9] and timers == sorted(EXPECTED_HEAD[9:11]), out
    journal = lines[lines.index(next(l for l in lines if l.startswith("journal"))) + 1:]
    assert "  2026-11-23 09:00  in         wechat subscribe poster → subscribed" in journal
    assert "  2026-11-23 09:00  channel    channel=poster" in journal
    assert "  2026-11-23 09:00  out        welcome: send (passive_reply)" in journal
    assert "  2026-11-23 09:00  transition welcome: new → welcomed" in journal
    assert "  2026-11-23 09:00  out        thanks to staff:sales01: send (other_recipient)" in journal
    assert any(line.startswith("  2026-11-23 09:00  error      text 'boom': RuntimeError: the handler broke")
               for line in journal), out


async def test_inspect_a_customer_on_sqlite(cli, tmp_path):
    url = f"sqlite:///{tmp_path}/shop.db"
    await seed(url)
    done = cli("inspect", "tests.core.shop", "u_amy", "--store", url)
    assert done.returncode == 0, done.stderr
    check(done.stdout)

    short = cli("inspect", "tests.core.shop", "u_amy", "--store", url, "-n", "2")
    assert short.stdout.splitlines()[-3] == "journal (last 2)"

    as_json = cli("inspect", "tests.core.shop", "u_amy", "--store", url, "--json")
    data = json.loads(as_json.stdout)
    assert data["state"] == "buyer" and data["timers"]["review"]["local"] == "2026-11-23 12:00"


async def test_inspect_a_customer_on_redis(cli, redis_url, namespace):
    try:
        await seed(redis_url, namespace)
        done = cli("inspect", "tests.core.shop", "u_amy", "--store", redis_url, "--namespace", namespace)
        assert done.returncode == 0, done.stderr
        check(done.stdout)
    finally:
        await drop_namespace(redis_url, namespace)


async def test_an_unknown_customer_or_store(cli, tmp_path):
    url = f"sqlite:///{tmp_path}/empty.db"
    done = cli("inspect", "tests.core.shop", "nobody", "--store", url)
    assert done.returncode == 1 and "no customer 'nobody'" in done.stdout
    bad = cli("inspect", "tests.core.shop", "nobody", "--store", "ftp://x")
    assert bad.returncode == 2 and "store URL" in bad.stderr
