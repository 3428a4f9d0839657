"""Redis hangs — stops answering without closing its connections — and comes back.

A ``persona serve`` process runs on a Redis of the test's own, which is frozen with SIGSTOP
and thawed with SIGCONT. Two kinds of input meet the frozen store:

* quick turns: the store's timeouts are shorter than the callback deadline, so they end as
  503 (WeChat retries) — never as ``success`` for an input that was not committed;
* slow turns already answered ``success`` at the deadline when the store froze under them:
  their inputs were spooled to a local file before that ``success``, and the service
  replays them itself once the store answers.

Every input ends committed exactly once.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import signal
import time
import uuid
from collections import Counter

import aiohttp
import pytest

from persona.model.customer import Customer
from persona.engine.spool import Spool
from persona.store import open_store
from tests.faults.servers import DurableRedis
from tests.service.conftest import plain, text_xml
from tests.service.test_serve import free_port, output, start, stop, wait_healthy

SLOW = 8    # customers whose slow turn is answered "success" before the store freezes
QUICK = 8   # customers who write while it is frozen

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server is not installed")


def user(kind: str, i: int) -> str:
    return f"o{kind}{i:020d}"


async def test_a_hung_redis_loses_no_input_and_commits_each_once(tmp_path):
    redis = DurableRedis(tmp_path)
    redis.start()
    name = f"hang{uuid.uuid4().hex[:8]}"
    port = free_port()
    spool_path = tmp_path / "spool.db"
    serve = start(name, port, redis.url, "--no-delivery", "--no-scheduler", "--spool", str(spool_path),
                  env_extra={"PERSONA_TEST_DESK_SLOW": "6.0"})
    frozen = [float("inf"), float("inf")]
    quick_answers: Counter = Counter()
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as session:
            base = f"http://127.0.0.1:{port}"
            await wait_healthy(session, port, serve)

            async def post(sender: str, text: str, msg_id: str, nonce: str) -> tuple[int, str, float]:
                query, body = plain(text_xml(text, msg_id=msg_id, sender=sender), nonce=nonce)
                started = time.monotonic()
                async with session.post(f"{base}/wechat/{name}", params=query, data=body) as resp:
                    return resp.status, await resp.text(), time.monotonic() - started

            # slow turns: loaded, thinking for 6 s; answered "success" at the 4 s deadline
            slow = await asyncio.gather(*(post(user("slow", i), "slow", str(7 * 10**17 + i), f"s{i}")
                                          for i in range(SLOW)))
            assert [(s, t) for s, t, _ in slow] == [(200, "success")] * SLOW, slow
            redis.proc.send_signal(signal.SIGSTOP)  # before any of them commits
            frozen[0] = time.monotonic()

            async def quick(i: int) -> None:
                """One message, posted again (same MsgId) until it is answered 200, as WeChat retries."""
                for attempt in range(60):
                    status, text, took = await post(user("quick", i), "hi", str(8 * 10**17 + i), f"q{i}-{attempt}")
                    sent_frozen = frozen[0] <= time.monotonic() - took and time.monotonic() <= frozen[1]
                    if sent_frozen:
                        quick_answers[status] += 1
                        assert took < 4.0, f"a callback took {took:.1f} s while the store was frozen"
                    if status == 200:
                        return
                    assert status == 503, (status, text)
                    await asyncio.sleep(0.5)
                raise AssertionError(f"{user('quick', i)} was never accepted")

            async def thaw() -> None:
                await asyncio.sleep(5.0)  # every slow commit (from 2 s on) has timed out by now
                frozen[1] = time.monotonic()
                redis.proc.send_signal(signal.SIGCONT)

            await asyncio.gather(thaw(), *(quick(i) for i in range(QUICK)))
            assert quick_answers[503] >= QUICK and quick_answers[200] == 0, quick_answers

            spool = Spool(spool_path)
            deadline = time.monotonic() + 60
            while spool.size(name):
                assert time.monotonic() < deadline, f"{spool.size(name)} spooled inputs never replayed"
                await asyncio.sleep(0.2)
            spool.close()
            async with session.get(f"{base}/metrics") as resp:
                metrics = await resp.text()

        failures = sum(float(v) for v in re.findall(r'^persona_late_turn_failures_total\{[^}]*\} (\S+)$', metrics, re.M))
        replayed = sum(float(v) for v in re.findall(r'^persona_spool_replayed_total\{[^}]*\} (\S+)$', metrics, re.M))
        assert failures == SLOW and replayed == SLOW, (failures, replayed)
        store = open_store(redis.url, name)
        try:
            wrong = []
            for kind, n, counters in (("slow", SLOW, {"slow": 1}), ("quick", QUICK, {"hellos": 1})):
                for i in range(n):
                    loaded = await store.load(user(kind, i))
                    c = Customer.load(user(kind, i), loaded.record, loaded.version) if loaded.record else None
                    if c is None or (c.counters, c.version) != (counters, 1):
                        wrong.append((user(kind, i), c and c.counters, c and c.version))
            assert not wrong, f"{len(wrong)} inputs lost or committed twice: {wrong[:4]}"
        finally:
            await store.close()
    except BaseException:
        print(output(serve)[-6000:])
        raise
    finally:
        if redis.proc is not None and redis.proc.poll() is None:
            redis.proc.send_signal(signal.SIGCONT)
        stop(serve)
        redis.close()
