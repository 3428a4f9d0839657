"""Redis dies in the middle of a load and comes back: nothing is lost, nothing happens twice.

A ``persona serve`` process runs on a Redis of the test's own (append-only file, fsync on
every write, as a deployment that cares about its customers runs it). Customers send
messages the way WeChat does — the same MsgId again until an answer is 200. Halfway, Redis
is killed with SIGKILL and restarted on the same port a couple of seconds later. Callbacks
during the outage answer 503 (and ``/healthz`` too); once it is back, the retries complete,
and every customer ends exactly where their inputs lead: each message counted once, each
timer fired once, one commit per input. (Timers a scheduler had claimed when Redis died
fire once their lease, 60 s, runs out: late, never lost, never twice.)
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import aiohttp
import pytest

from persona.model.customer import Customer
from persona.store import open_store
from tests.faults.servers import DurableRedis, free_port
from tests.service.conftest import AES_KEY, APPID, EVENT_SECRET, TOKEN, safe, text_xml

ROOT = Path(__file__).resolve().parents[2]
CUSTOMERS = 30
MESSAGES = 8  # "hi", then seven more

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server is not installed")


def user(i: int) -> str:
    return f"oCrash{i:022d}"


async def test_redis_killed_and_restarted_under_load(tmp_path):
    redis = DurableRedis(tmp_path)
    redis.start()
    name = f"relay{uuid.uuid4().hex[:8]}"
    port = free_port()
    dead_api = f"http://127.0.0.1:{free_port()}"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PERSONA_SCALE_NAME": name, "WECHAT_TOKEN": TOKEN,
           "WECHAT_APPID": APPID, "WECHAT_APPSECRET": "appsecret", "WECHAT_AES_KEY": AES_KEY,
           "PERSONA_EVENT_SECRET": EVENT_SECRET, "WECHAT_API_BASE": dead_api, "WECOM_API_BASE": dead_api}
    log = tmp_path / "serve.log"
    serve = subprocess.Popen([sys.executable, "-m", "persona", "serve", "tests.scale.relay", "--host", "127.0.0.1",
                              "--port", str(port), "--store", redis.url, "--no-delivery", "--log-level", "WARNING"],
                             cwd=ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    statuses: Counter = Counter()
    during_outage: Counter = Counter()
    accepted = 0
    window = [float("inf"), float("inf")]  # requests sent in here met a dead Redis
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 30
            while True:
                assert serve.poll() is None, log.read_text()
                try:
                    async with session.get(f"{base}/healthz") as resp:
                        if resp.status == 200:
                            break
                except aiohttp.ClientError:
                    pass
                assert time.monotonic() < deadline, "persona serve did not become healthy"
                await asyncio.sleep(0.1)

            async def deliver(i: int, n: int) -> None:
                """One message, posted again (same MsgId) until it is answered 200, as WeChat retries."""
                nonlocal accepted
                text = "hi" if n == 0 else f"第{n}条"
                xml = text_xml(text, msg_id=str(8 * 10**17 + i * 100 + n), sender=user(i))
                for attempt in range(200):
                    query, body = safe(xml, nonce=f"{i}-{n}-{attempt}")
                    sent = time.monotonic()
                    try:
                        async with session.post(f"{base}/wechat/{name}", params=query, data=body) as resp:
                            await resp.read()
                            status = resp.status
                    except (aiohttp.ClientError, asyncio.TimeoutError):
                        status = 0
                    statuses[status] += 1
                    if window[0] <= sent and time.monotonic() <= window[1]:
                        during_outage[status] += 1
                    if status == 200:
                        accepted += 1
                        return
                    await asyncio.sleep(0.2)
                raise AssertionError(f"{user(i)} message {n} was never accepted")

            async def customer(i: int) -> None:
                for n in range(MESSAGES):
                    await deliver(i, n)
                    await asyncio.sleep(0.05)

            async def outage() -> None:
                while accepted < CUSTOMERS * MESSAGES // 3:
                    await asyncio.sleep(0.01)
                redis.kill()
                window[0] = time.monotonic() + 0.2  # turns already running may still answer
                await asyncio.sleep(1.0)
                async with session.get(f"{base}/healthz") as resp:
                    assert resp.status == 503
                await asyncio.sleep(1.0)
                window[1] = time.monotonic()
                redis.start()

            await asyncio.gather(outage(), *(customer(i) for i in range(CUSTOMERS)))

        assert set(statuses) <= {200, 503}, statuses  # never a 500, never a dropped connection
        assert during_outage[503] > 0 and during_outage[200] == 0, during_outage
        store = open_store(redis.url, name)
        try:
            # every customer's one-second timer fires; the ones a scheduler had claimed when Redis
            # died stay hidden until their lease (60 s) runs out, then fire like the others
            deadline = time.monotonic() + 90
            while await store.count_timers():
                assert time.monotonic() < deadline, f"{await store.count_timers()} timers never fired"
                await asyncio.sleep(0.1)
            wrong = []
            for i in range(CUSTOMERS):
                loaded = await store.load(user(i))
                c = Customer.load(user(i), loaded.record, loaded.version)
                if (c.state, c.counters, c.version) != (
                        "talking", {"hellos": 1, "chats": MESSAGES - 1, "nudges": 1}, MESSAGES + 1):
                    wrong.append((user(i), c.state, c.counters, c.version))
            assert not wrong, f"{len(wrong)} customers ended where their inputs cannot lead: {wrong[:3]}"
            assert sorted(await store.users()) == sorted(user(i) for i in range(CUSTOMERS))
        finally:
            await store.close()
    except BaseException:
        print(log.read_text(errors="replace")[-4000:])
        raise
    finally:
        if serve.poll() is None:
            serve.send_signal(signal.SIGTERM)
            try:
                serve.wait(timeout=20)
            except subprocess.TimeoutExpired:
                serve.kill()
                serve.wait()
        redis.close()
    assert "Traceback" not in log.read_text(errors="replace"), log.read_text(errors="replace")[-4000:]
