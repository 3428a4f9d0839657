"""Many processes on one Redis end where one process ends.

Two ``persona serve`` processes and two ``persona worker`` processes share a Redis namespace.
Signed safe-mode callbacks (built by wechatpy), WeChat-style retries of them (the same MsgId
again, sometimes while the first attempt is still running, always on the other process) and
signed business events (re-posted too) go to many customers, interleaved across both
servers, while every customer's one-second timer fires somewhere. The same inputs then go,
one after another, to a single ``persona serve`` process on a namespace of its own. Every
customer must end the same in both: state, tags, counters, version (commits), journal, and
the messages they received (passive replies and send-API calls on the fake WeChat API).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp

from persona.model.customer import Customer
from persona.fakeapi import FakeWeChat
from persona.service import SIGNATURE_HEADER, sign
from persona.store import open_store
from tests.conftest import drop_namespace
from tests.service.conftest import AES_KEY, APPID, EVENT_SECRET, TOKEN, open_reply, reply_fields, safe, text_xml

ROOT = Path(__file__).resolve().parents[2]
BOT = "tests.scale.relay"
CUSTOMERS = 80


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def environ(name: str, api: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "PERSONA_SCALE_NAME": name, "WECHAT_TOKEN": TOKEN,
            "WECHAT_APPID": APPID, "WECHAT_APPSECRET": "appsecret", "WECHAT_AES_KEY": AES_KEY,
            "PERSONA_EVENT_SECRET": EVENT_SECRET, "WECHAT_API_BASE": api, "WECOM_API_BASE": api}


def serve(name: str, port: int, store: str, api: str, log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "persona", "serve", BOT, "--host", "127.0.0.1", "--port", str(port),
         "--store", store, "--log-level", "WARNING"],
        cwd=ROOT, env=environ(name, api), stdout=log.open("wb"), stderr=subprocess.STDOUT)


def worker(name: str, store: str, api: str, log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "persona.worker", BOT, "--store", store, "--lease", "5", "--batch", "50",
         "--log-level", "WARNING"],
        cwd=ROOT, env=environ(name, api), stdout=log.open("wb"), stderr=subprocess.STDOUT)


def stop_all(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def wait_healthy(session: aiohttp.ClientSession, port: int, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"persona serve exited with {proc.returncode}"
        try:
            async with session.get(f"http://127.0.0.1:{port}/healthz") as resp:
                if resp.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.1)
    raise AssertionError("persona serve did not become healthy")


# -- the inputs ----------------------------------------------------------------------------------

def customer(i: int) -> str:
    return f"oScale{i:022d}"


def script(i: int) -> list[dict[str, Any]]:
    """One customer's inputs, in order. ``together``: send the retry while the first is running."""
    steps: list[dict[str, Any]] = [
        {"kind": "text", "text": "hi", "msg_id": f"{7 * 10**17 + i * 10 + 1}", "together": i % 3 == 0},
        {"kind": "event", "id": f"join-{i}", "data": {"points": i % 7, "day": f"d{i % 5}"}},
        {"kind": "text", "text": "在忙吗" if i % 2 else "今天练什么", "msg_id": f"{7 * 10**17 + i * 10 + 2}",
         "together": i % 4 == 1},
    ]
    if i % 4 == 0:
        steps.append({"kind": "text", "text": "你好", "msg_id": f"{7 * 10**17 + i * 10 + 3}", "together": False})
    return steps


class Sender:
    """Posts inputs to a set of servers and keeps what each customer was told passively."""

    def __init__(self, session: aiohttp.ClientSession, name: str, ports: list[int]) -> None:
        self.session, self.name, self.ports = session, name, ports
        self.passive: dict[str, list[str]] = {}
        self.nonce = 0

    async def callback(self, port: int, user: str, step: dict[str, Any]) -> tuple[int, dict[str, str]]:
        self.nonce += 1
        query, body = safe(text_xml(step["text"], msg_id=step["msg_id"], sender=user), nonce=str(self.nonce))
        async with self.session.post(f"http://127.0.0.1:{port}/wechat/{self.name}", params=query,
                                     data=body) as resp:
            text = await resp.text()
            assert resp.status == 200, (resp.status, text)
        return resp.status, ({} if text == "success" else reply_fields(open_reply(text)))

    async def event(self, port: int, user: str, step: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        body = json.dumps({"id": step["id"], "user": user, "event": "joined", "data": step["data"]}).encode()
        async with self.session.post(f"http://127.0.0.1:{port}/events/{self.name}", data=body,
                                     headers={SIGNATURE_HEADER: sign(body, EVENT_SECRET)}) as resp:
            return resp.status, await resp.json()

    async def run(self, i: int, *, concurrent_retries: bool) -> None:
        user = customer(i)
        told = self.passive.setdefault(user, [])
        for n, step in enumerate(script(i)):
            first_port = self.ports[(i + n) % len(self.ports)]
            retry_port = self.ports[(i + n + 1) % len(self.ports)]
            if step["kind"] == "event":
                status, answer = await self.event(first_port, user, step)
                assert status == 202 and answer["status"] == "done", answer
                status, again = await self.event(retry_port, user, step)
                assert status == 200 and again == {"id": step["id"], "status": "done", "duplicate": True}
                continue
            if concurrent_retries and step["together"]:
                (_, first), (_, retry) = await asyncio.gather(self.callback(first_port, user, step),
                                                              self.callback(retry_port, user, step))
            else:
                _, first = await self.callback(first_port, user, step)
                _, retry = await self.callback(retry_port, user, step)
            # a retry answers exactly what the first attempt answered (CreateTime aside)
            assert first == retry, (user, step, first, retry)
            if first:
                told.append(first["Content"])


# -- reading the outcome -------------------------------------------------------------------------

async def settled(url: str, name: str, fake: FakeWeChat, expect_api: int, timeout: float = 60) -> None:
    store = open_store(url, name)
    deadline = time.monotonic() + timeout
    try:
        while True:
            timers, outbox = await store.count_timers(), await store.outbox_size()
            if timers == 0 and outbox == 0 and len(fake.messages) >= expect_api:
                return
            assert time.monotonic() < deadline, (
                f"{name}: {timers} timers, {outbox} outbox items left, {len(fake.messages)} of "
                f"{expect_api} messages sent")
            await asyncio.sleep(0.1)
    finally:
        await store.close()


async def outcome(url: str, name: str, fake: FakeWeChat, passive: dict[str, list[str]]) -> dict[str, Any]:
    store = open_store(url, name)
    try:
        out: dict[str, Any] = {}
        for user in await store.users():
            loaded = await store.load(user)
            c = Customer.load(user, loaded.record, loaded.version)
            journal = Counter(json.dumps({k: v for k, v in json.loads(line).items() if k not in ("t", "due")},
                                         sort_keys=True, ensure_ascii=False)
                              for line in await store.journal(user, 1000))
            told = sorted(passive.get(user, []) + [s.text for s in fake.messages(to=user)])
            out[user] = {"state": c.state, "tags": c.tags, "counters": c.counters, "attrs": c.attrs,
                         "version": c.version, "journal": journal, "told": told}
        assert await store.dead_letters() == []
        return out
    finally:
        await store.close()


async def test_two_servers_and_two_workers_end_where_one_process_ends(redis_url, tmp_path):
    scaled, single = f"relay{uuid.uuid4().hex[:8]}", f"relay{uuid.uuid4().hex[:8]}"
    procs: list[subprocess.Popen] = []
    async with FakeWeChat(appid=APPID, secret="appsecret") as fake_scaled, \
            FakeWeChat(appid=APPID, secret="appsecret") as fake_single:
        try:
            ports = [free_port(), free_port()]
            procs += [serve(scaled, port, redis_url, fake_scaled.base_url, tmp_path / f"serve{port}.log")
                      for port in ports]
            procs += [worker(scaled, redis_url, fake_scaled.base_url, tmp_path / f"worker{k}.log") for k in range(2)]
            ref_port = free_port()
            procs.append(serve(single, ref_port, redis_url, fake_single.base_url, tmp_path / "single.log"))
            async with aiohttp.ClientSession() as session:
                for port, proc in zip([*ports, ref_port], [procs[0], procs[1], procs[4]]):
                    await wait_healthy(session, port, proc)

                # many processes: customers side by side, each one's inputs in order
                many = Sender(session, scaled, ports)
                gate = asyncio.Semaphore(16)

                async def one(i: int) -> None:
                    async with gate:
                        await many.run(i, concurrent_retries=True)

                await asyncio.gather(*(one(i) for i in range(CUSTOMERS)))
                assert all(p.poll() is None for p in procs[:4]), "a process of the scaled run died"

                # one process: the same inputs, one after another
                alone = Sender(session, single, [ref_port])
                for i in range(CUSTOMERS):
                    await alone.run(i, concurrent_retries=False)

            # every customer: a welcome (event) and a nudge (timer) through the send API
            await settled(redis_url, scaled, fake_scaled, 2 * CUSTOMERS)
            await settled(redis_url, single, fake_single, 2 * CUSTOMERS)
            got = await outcome(redis_url, scaled, fake_scaled, many.passive)
            want = await outcome(redis_url, single, fake_single, alone.passive)
        except BaseException:
            for log in sorted(tmp_path.glob("*.log")):
                print(f"--- {log.name}\n{log.read_text(errors='replace')[-3000:]}")
            raise
        finally:
            stop_all(procs)
            await drop_namespace(redis_url, scaled)
            await drop_namespace(redis_url, single)

    assert len(want) == CUSTOMERS and set(got) == set(want)
    differ = [u for u in want if got[u] != want[u]]
    assert not differ, f"{len(differ)} customers differ, e.g. {differ[0]}: {got[differ[0]]} != {want[differ[0]]}"
    # and the run did what it claims: every timer fired once, every customer joined
    assert all(c["counters"]["nudges"] == 1 and c["state"] == "member" for c in got.values())
    assert len(fake_scaled.messages) == len(fake_single.messages)
    for log in tmp_path.glob("*.log"):
        assert "Traceback" not in log.read_text(errors="replace"), log.read_text(errors="replace")[-3000:]
