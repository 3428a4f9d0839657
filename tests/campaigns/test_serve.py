"""A campaign scheduled from the CLI runs at its time on running ``persona serve`` processes — real
subprocesses on the wall clock, delivering to the fake WeCom API — once, however many run."""

from __future__ import annotations

import asyncio
import re
import time
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import aiohttp

from persona.fakeapi import FakeWeChat
from persona.model.customer import Customer
from persona.store import open_store
from persona.store.base import Commit
from persona.testing import FAKE_ENV
from tests.cli.conftest import run_persona
from tests.service.test_serve import free_port, start, stop, wait_healthy

BOT = "bots.xiaowanzi"
AUDIENCE = "(tag:product=eyeshadow OR tag:product=lipstick) AND NOT state:customer"


def daytime_zone() -> str:
    """A time zone where it is about noon now: the customers' own, so quiet hours never hold
    the campaign back, whenever the test runs."""
    offset = 12 - datetime.now(timezone.utc).hour
    offset = offset + 24 if offset < -12 else offset - 24 if offset > 14 else offset
    return f"Etc/GMT{-offset:+d}"


async def seed(url: str) -> None:
    """小完子's WeCom customers: amy and bea (opted out) came for eyeshadow, cat for lipstick,
    dee bought already, eve came for nothing in particular."""
    now, zone = time.time(), daytime_zone()
    people = [("wm_amy", "welcomed", {"product": "eyeshadow"}), ("wm_bea", "welcomed", {"product": "eyeshadow",
                                                                                         "opted_out": ""}),
              ("wm_cat", "claimed", {"product": "lipstick"}), ("wm_dee", "customer", {"product": "eyeshadow"}),
              ("wm_eve", "welcomed", {})]
    store = open_store(url, "xiaowanzi")
    try:
        for user, state, tags in people:
            c = Customer(user, state, tags={"source": "store", **tags},
                         attrs={"added_at": now, "staff": "zhang", "tz": zone}, first_seen=now, last_seen=now)
            await store.commit(Commit(user, 0, c.dump(), segments_add=sorted(c.segments())))
    finally:
        await store.close()


async def test_a_campaign_scheduled_for_later_runs_once_across_two_running_services(tmp_path):
    url = f"sqlite:///{tmp_path}/persona.db"
    await seed(url)
    async with FakeWeChat() as fake:
        env = {**FAKE_ENV, "WECHAT_API_BASE": fake.base_url, "WECOM_API_BASE": fake.base_url}
        ports = [free_port(), free_port()]
        procs = [start("xiaowanzi", port, url, bots=(BOT,), env_extra=env) for port in ports]
        try:
            async with aiohttp.ClientSession() as session:
                for port, proc in zip(ports, procs):
                    await wait_healthy(session, port, proc)
            when = (datetime.now(ZoneInfo("Asia/Shanghai")) + timedelta(seconds=6)).replace(microsecond=0)
            scheduled = await asyncio.to_thread(run_persona, "broadcast", BOT, AUDIENCE, "flash_sale", "--store", url,
                                                "--at", when.strftime("%Y-%m-%d %H:%M:%S"), env=env)
            assert scheduled.returncode == 0, scheduled.stderr
            campaign = re.match(r"campaign (\S+) scheduled", scheduled.stdout).group(1)
            assert "3 customers in the audience now" in scheduled.stdout, scheduled.stdout

            assert not fake.messages(api="mass"), "nothing goes out before its time"
            deadline = time.monotonic() + 40
            while len(fake.messages(api="mass")) < 2 and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
            arrived = time.time()
            await asyncio.sleep(3)  # a second worker, or a second poll, would send again by now
            sent = fake.messages(api="mass")
            assert sorted(s.to for s in sent if s.script == "flash_sale") == ["wm_amy", "wm_cat"], sent
            assert arrived >= when.timestamp()

            shown = await asyncio.to_thread(run_persona, "campaigns", BOT, "show", campaign, "--store", url)
            assert shown.returncode == 0, shown.stderr
            assert shown.stdout.splitlines()[0] == f"campaign {campaign}: done"
            assert re.search(r"^  sent\s+2$", shown.stdout, re.M), shown.stdout
            assert re.search(r"^  dropped\s+1 \(opted_out 1\)$", shown.stdout, re.M), shown.stdout
            listed = await asyncio.to_thread(run_persona, "campaigns", BOT, "list", "--store", url)
            assert re.search(rf"^{campaign}\s+done\b", listed.stdout, re.M), listed.stdout
        finally:
            logs = [stop(proc) for proc in procs]
    for text in logs:
        assert "Traceback" not in text, text
    assert sum(f"campaign {campaign} of xiaowanzi" in text for text in logs) == 1, logs
