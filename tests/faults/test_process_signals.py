"""``persona serve`` stopped in the middle of a burst — SIGTERM (drains) or SIGKILL (dies) — and
started again on the same store and spool, on both stores.

Customers post the way WeChat does: the same MsgId again until an answer is 200. Each message is
counted once and answered with two template messages through the send API (a real local fake of
WeChat's API). After the stop and the restart, every customer's turns are counted once and every
message is received once: SIGTERM answers what it holds and commits what it answered; after
SIGKILL the new process acks the sends its predecessor's sent log holds, and sends the
committed-unsent rest once their lease (60 s) runs out. The messages are template messages, so
WeChat's (and the fake's) ``client_msg_id`` also stands behind each one: what a customer
receives is checked with both in place, and what persona *asked* WeChat to send is checked
too: after SIGTERM each message was asked for once; after SIGKILL only the sends in flight at the
kill (at most one per customer: a customer's messages go one at a time) were asked for twice.
``test_send_ack.py`` checks the sent log on its own.
"""

from __future__ import annotations

import asyncio
import os
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
from persona.fakeapi import FakeWeChat
from persona.store import open_store
from tests.conftest import REDIS_URL, drop_namespace
from tests.faults.servers import free_port
from tests.service.conftest import plain, text_xml
from tests.service.test_serve import stop, wait_healthy

ROOT = Path(__file__).resolve().parents[2]
CUSTOMERS = 16
MESSAGES = 6
LEASE = 60.0  # delivery's lease on a claimed outbox item


def user(i: int) -> str:
    return f"oBurst{i:021d}"


def serve(name: str, port: int, store: str, spool: Path, fake: FakeWeChat, log: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PERSONA_BURST_NAME": name, "WECHAT_TOKEN": "burst-token",
           "WECHAT_APPID": fake.appid, "WECHAT_APPSECRET": fake.secret, "WECHAT_API_BASE": fake.base_url,
           "WECOM_API_BASE": fake.base_url}
    env.pop("WECHAT_AES_KEY", None)
    proc = subprocess.Popen([sys.executable, "-m", "persona", "serve", "tests.faults.burst", "--host", "127.0.0.1",
                             "--port", str(port), "--store", store, "--spool", str(spool), "--log-level", "WARNING"],
                            cwd=ROOT, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT)
    proc.log = log.open("rb")  # type: ignore[attr-defined]  # what test_serve's helpers read
    return proc


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
@pytest.mark.parametrize("stop_with", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
async def test_serve_stopped_mid_burst_counts_each_turn_and_sends_each_message_once(kind, stop_with, tmp_path):
    name = f"burst{uuid.uuid4().hex[:8]}"
    store_url = f"sqlite:///{tmp_path}/persona.db" if kind == "sqlite" else REDIS_URL
    spool, log, port = tmp_path / "spool.db", tmp_path / "serve.log", free_port()
    base = f"http://127.0.0.1:{port}"
    statuses: Counter = Counter()
    accepted = 0
    async with FakeWeChat() as fake:
        proc = serve(name, port, store_url, spool, fake, log)
        try:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
                await wait_healthy(session, port, proc)

                async def deliver(i: int, n: int) -> None:
                    nonlocal accepted
                    xml = text_xml(f"第{n}条", msg_id=str(9 * 10**17 + i * 100 + n), sender=user(i))
                    for attempt in range(600):
                        query, body = plain(xml, token="burst-token", nonce=f"{i}-{n}-{attempt}")
                        try:
                            async with session.post(f"{base}/wechat/{name}", params=query, data=body) as resp:
                                await resp.read()
                                status = resp.status
                        except (aiohttp.ClientError, asyncio.TimeoutError):
                            status = 0
                        statuses[status] += 1
                        if status == 200:
                            accepted += 1
                            return
                        await asyncio.sleep(0.1)
                    raise AssertionError(f"{user(i)} message {n} was never accepted")

                async def customer(i: int) -> None:
                    for n in range(1, MESSAGES + 1):
                        await deliver(i, n)

                async def stop_and_start_again() -> None:
                    nonlocal proc
                    while accepted < CUSTOMERS * MESSAGES // 3:
                        await asyncio.sleep(0.005)
                    proc.send_signal(stop_with)
                    code = await asyncio.to_thread(proc.wait, 30)
                    assert code == (0 if stop_with == signal.SIGTERM else -signal.SIGKILL), log.read_text()[-3000:]
                    proc.log.close()
                    proc = serve(name, port, store_url, spool, fake, log)
                    await wait_healthy(session, port, proc)

                await asyncio.gather(stop_and_start_again(), *(customer(i) for i in range(CUSTOMERS)))

            expected = Counter({(user(i), template, str(n)): 1 for i in range(CUSTOMERS)
                                for n in range(1, MESSAGES + 1) for template in ("RECEIPT", "POINTS")})
            store = open_store(store_url, name)
            try:
                deadline = time.monotonic() + LEASE + 30  # claimed by the killed process: its lease first
                while await store.outbox_size() or len(fake.sent) < sum(expected.values()):
                    assert proc.poll() is None, log.read_text(errors="replace")[-3000:]
                    assert time.monotonic() < deadline, (
                        f"{await store.outbox_size()} messages still in the outbox, {len(fake.sent)} sent")
                    await asyncio.sleep(0.2)
                received = Counter((s.to, s.body["template_id"], s.body["data"]["n"]["value"]) for s in fake.sent)
                assert received == expected, {k: v for k, v in (received - expected).items()} or (expected - received)
                asked = Counter(fake.template_asks.values())
                assert sum(asked.values()) == sum(expected.values()), asked
                again = asked[2] if stop_with == signal.SIGKILL else 0
                assert asked == Counter({1: sum(expected.values()) - again, 2: again}) and again <= CUSTOMERS, asked
                wrong = []
                for i in range(CUSTOMERS):
                    loaded = await store.load(user(i))
                    c = Customer.load(user(i), loaded.record, loaded.version)
                    if (c.state, c.counters.get("messages")) != ("talking", MESSAGES):
                        wrong.append((user(i), c.state, c.counters))
                assert not wrong, f"turns not counted once: {wrong[:3]}"
            finally:
                await store.close()
                if kind == "redis":
                    await drop_namespace(REDIS_URL, name)
        finally:
            stop(proc)
    assert set(statuses) <= {0, 200, 503}, statuses  # never a 500
    output = log.read_text(errors="replace")
    assert "Traceback" not in output, output[-4000:]
