"""The codes from the command line, and the caps held across processes: ``persona codes``
runs in its own process against the fake, two service apps on their own connections to one
store (a Redis, a SQLite file) share the turn and the caps, and ``persona funnel --channels``
reads what they counted."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest

from persona.store import open_store
from tests.acquisition.conftest import environ
from tests.cli.conftest import run_persona
from tests.conftest import REDIS_URL, drop_namespace


@pytest.fixture(params=["sqlite", "redis"])
async def shared(request, tmp_path, namespace):
    """A store URL two processes can share, and the namespace the bot uses on it."""
    url = f"sqlite:///{tmp_path}/persona.db" if request.param == "sqlite" else REDIS_URL
    yield url, namespace
    if request.param == "redis":
        await drop_namespace(url, namespace)


async def persona(fake, *args: str):
    """``persona ARGS`` in a subprocess (the event loop keeps serving the fake meanwhile)."""
    return await asyncio.to_thread(run_persona, *args, env=environ(fake))


async def test_codes_made_by_the_cli_hold_their_caps_across_processes(shared, fake, serve) -> None:
    url, ns = shared
    made = await persona(fake, "codes", "bots.xiaowanzi", "create", "parcel_lipstick", "--staff", "zhangsan,lisi",
                         "--cap", "1", "--store", url, "--namespace", ns)
    assert made.returncode == 0, made.stderr
    assert "landing /c/xiaowanzi/parcel_lipstick" in made.stdout
    assert sorted(w.user[0] for w in fake.contact_ways.values()) == ["lisi", "zhangsan"]

    one, two = open_store(url, ns), open_store(url, ns)  # two processes' own connections
    try:
        first, second = await serve(one), await serve(two)
        async with aiohttp.ClientSession() as http:
            for served, customer in ((first, "wmAmy"), (second, "wmBo")):
                async with http.get(served.url("/c/xiaowanzi/parcel_lipstick"), allow_redirects=False) as r:
                    assert r.status == 302
                    way = next(w for w in fake.contact_ways.values() if w.qr_code == r.headers["Location"])
                # the customer adds through the other process's callback URL
                other = second if served is first else first
                await fake.scan_contact_way(way.config_id, customer, other.wecom)
            for served in (first, second):
                async with http.get(served.url("/c/xiaowanzi/parcel_lipstick"), allow_redirects=False) as r:
                    assert r.status == 200 and "今天的名额已满" in await r.text()
    finally:
        await one.close()
        await two.close()

    listed = await persona(fake, "codes", "bots.xiaowanzi", "list", "--json", "--store", url, "--namespace", ns)
    [code] = json.loads(listed.stdout)["codes"]
    assert code["today"] == {"zhangsan": 1, "lisi": 1} and code["cap"] == 1

    funnel = await persona(fake, "funnel", "bots.xiaowanzi", "--channels", "--json", "--store", url, "--namespace", ns)
    [row] = json.loads(funnel.stdout)["channels"]
    assert (row["channel"], row["added"], row["welcomed"], row["staff"]) == (
        "parcel_lipstick", 2, 2, {"lisi": 1, "zhangsan": 1})
    text = await persona(fake, "funnel", "bots.xiaowanzi", "--channels", "--store", url, "--namespace", ns)
    assert "parcel_lipstick" in text.stdout and "converted: entered customer" in text.stdout

    gone = await persona(fake, "codes", "bots.xiaowanzi", "remove", "parcel_lipstick", "--store", url, "--namespace", ns)
    assert gone.returncode == 0 and fake.contact_ways == {}


async def test_the_cli_says_what_is_wrong(tmp_path, fake) -> None:
    url, ns = f"sqlite:///{tmp_path}/persona.db", "xiaowanzi"
    bad = await persona(fake, "codes", "bots.xiaowanzi", "create", "有中文", "--staff", "a", "--store", url,
                        "--namespace", ns)
    assert bad.returncode == 2 and "use 1 to 30 letters" in bad.stderr
    fake.without_contact_permission.add("lisi")
    refused = await persona(fake, "codes", "bots.xiaowanzi", "create", "parcel", "--staff", "lisi", "--store", url,
                            "--namespace", ns)
    assert refused.returncode == 1 and "84074" in refused.stdout
    missing = await persona(fake, "codes", "bots.xiaowanzi", "remove", "parcel", "--store", url, "--namespace", ns)
    assert missing.returncode == 2 and "no code for channel 'parcel'" in missing.stderr
    empty = await persona(fake, "codes", "bots.xiaowanzi", "list", "--store", url, "--namespace", ns)
    assert "has no channel codes" in empty.stdout
