"""``persona serve`` as a brand runs it: real processes, real ports, one shared Redis."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import aiohttp
import pytest

from persona.store import open_store
from tests.conftest import drop_namespace
from tests.service.conftest import APPID, EVENT_SECRET, TOKEN, CUSTOMER, plain, reply_fields, text_xml

ROOT = Path(__file__).resolve().parents[2]
HELLO = "你好呀，有什么可以帮你？"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(name: str, port: int, store: str, *extra: str, bots: tuple[str, ...] = ("tests.service.desk",),
          env_extra: dict[str, str] | None = None) -> subprocess.Popen:
    env = {**os.environ, "PERSONA_TEST_DESK_NAME": name, "WECHAT_TOKEN": TOKEN, "WECHAT_APPID": APPID,
           "WECHAT_APPSECRET": "appsecret", "PERSONA_EVENT_SECRET": EVENT_SECRET,
           # never the real WeChat API from a test, whatever is queued
           "WECHAT_API_BASE": f"http://127.0.0.1:{free_port()}", "WECOM_API_BASE": f"http://127.0.0.1:{free_port()}",
           "PYTHONPATH": str(ROOT)}
    env.pop("WECHAT_AES_KEY", None)
    env.update(env_extra or {})
    log = tempfile.TemporaryFile()  # a file, not a pipe: a chatty server never blocks on it
    proc = subprocess.Popen([sys.executable, "-m", "persona", "serve", *bots, "--host", "127.0.0.1",
                             "--port", str(port), "--store", store, *extra],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    proc.log = log  # type: ignore[attr-defined]
    return proc


def output(proc: subprocess.Popen) -> str:
    proc.log.seek(0)  # type: ignore[attr-defined]
    return proc.log.read().decode()  # type: ignore[attr-defined]


async def wait_healthy(session: aiohttp.ClientSession, port: int, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"persona serve exited {proc.returncode}: {output(proc)}")
        try:
            async with session.get(f"http://127.0.0.1:{port}/healthz") as resp:
                if resp.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.1)
    raise AssertionError("persona serve did not become healthy")


def stop(proc: subprocess.Popen) -> str:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    text = output(proc)
    proc.log.close()  # type: ignore[attr-defined]
    return text


async def test_a_retry_storm_on_two_processes_moves_once_and_answers_identically(redis_url):
    name = f"desk{uuid.uuid4().hex[:8]}"
    ports = [free_port(), free_port()]
    procs = [start(name, port, redis_url, "--no-delivery") for port in ports]
    try:
        async with aiohttp.ClientSession() as session:
            for port, proc in zip(ports, procs):
                await wait_healthy(session, port, proc)

            async def post(i: int, xml: str) -> tuple[int, str]:
                query, body = plain(xml, nonce=str(i))
                async with session.post(f"http://127.0.0.1:{ports[i % 2]}/wechat/{name}", params=query,
                                        data=body) as resp:
                    return resp.status, await resp.text()

            together = text_xml("hi", msg_id="7000000000000000001")
            concurrent = await asyncio.gather(*(post(i, together) for i in range(4)))
            one_by_one = text_xml("你好", msg_id="7000000000000000002")
            sequential = [await post(i, one_by_one) for i in range(4)]
            for answers in (concurrent, sequential):
                assert {status for status, _ in answers} == {200}
                assert len({frozenset(reply_fields(body).items()) for _, body in answers}) == 1
                assert reply_fields(answers[0][1])["Content"] == HELLO

            pages = []
            for port in ports:
                async with session.get(f"http://127.0.0.1:{port}/metrics") as resp:
                    pages.append(await resp.text())

        def total(metric: str) -> float:
            return sum(float(line.rsplit(" ", 1)[1]) for page in pages for line in page.splitlines()
                       if line.startswith(metric))

        assert total(f'persona_inputs_total{{kind="text",outcome="done",persona="{name}"}}') == 2
        assert total(f'persona_dedupe_hits_total{{kind="text",persona="{name}"}}') == 6
        assert total(f'persona_transitions_total{{dest="greeted",persona="{name}",source="new"}}') == 1
        store = open_store(redis_url, name)
        try:
            loaded = await store.load(CUSTOMER)
            from persona.model.customer import Customer

            record = Customer.load(CUSTOMER, loaded.record, loaded.version)
            assert record.state == "greeted" and record.counters == {"hellos": 2}
            assert loaded.version == 2  # two messages, two commits
            assert await store.outbox_size() == 0
        finally:
            await store.close()
            await store.redis.connection_pool.disconnect()  # close() leaves the pool's connections open
    finally:
        logs = [stop(proc) for proc in procs]
        await drop_namespace(redis_url, name)
    assert all("Traceback" not in log for log in logs), logs


async def test_serve_several_bots_workers_and_a_graceful_stop(tmp_path):
    port = free_port()
    proc = start("desk", port, f"sqlite:///{tmp_path}/persona.db", "--workers", "2", "--log-format", "json",
                 bots=("tests.service.desk", "tests.service.annex"), env_extra={"ANNEX_WECHAT_TOKEN": "annex-token"})
    try:
        async with aiohttp.ClientSession() as session:
            await wait_healthy(session, port, proc)
            for bot, token in (("desk", TOKEN), ("annex", "annex-token")):
                for _ in range(3):  # a few, so both worker processes likely take some
                    query, body = plain(text_xml("hi"), token=token)
                    async with session.post(f"http://127.0.0.1:{port}/wechat/{bot}", params=query,
                                            data=body) as resp:
                        assert resp.status == 200 and reply_fields(await resp.text())["Content"] == HELLO
            query, body = plain(text_xml("hi"))  # the desk's token is not the annex's
            async with session.post(f"http://127.0.0.1:{port}/wechat/annex", params=query, data=body) as resp:
                assert resp.status == 403
    finally:
        output = stop(proc)
    assert proc.returncode == 0, output
    assert '"msg":"callback"' in output and '"bot":"desk"' in output and HELLO not in output


@pytest.mark.parametrize("args,message", [
    (["tests.service.desk", "--deadline", "7"], "--deadline"),
    (["tests.service.nothing_here"], "cannot import bot"),
    (["tests.service.desk", "--store", "ftp://x"], "store URL"),
])
def test_bad_options_exit_2_with_a_message(args, message):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "persona", "serve", *args, "--port", str(free_port())],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and message in done.stderr, done.stderr


def test_serve_runs_the_loop_outside_the_uvloop_import_check(monkeypatch):
    """Without uvloop, a traceback logged while serving must not carry the ImportError."""
    import argparse

    from persona.cli import serve as serve_cli

    seen: list[object] = []

    async def fake_serve(args, *, reuse_port=False):
        seen.append(sys.exc_info()[1])
        try:
            raise RuntimeError("a handler broke")
        except RuntimeError as exc:
            seen.append(exc.__context__)
        return 0

    monkeypatch.setitem(sys.modules, "uvloop", None)  # import uvloop -> ImportError
    monkeypatch.setattr(serve_cli, "serve", fake_serve)
    assert serve_cli._serve_process(argparse.Namespace(), reuse_port=False) == 0
    assert seen == [None, None]


@pytest.mark.skipif(sys.platform == "win32", reason="uvloop is a dependency everywhere but Windows")
def test_serve_runs_on_uvloop_where_the_platform_has_it(monkeypatch):
    """uvloop is installed with persona (a platform marker, not an extra), and serve uses it."""
    import argparse

    from persona.cli import serve as serve_cli

    loops: list[str] = []

    async def fake_serve(args, *, reuse_port=False):
        loops.append(type(asyncio.get_running_loop()).__module__)
        return 0

    monkeypatch.setattr(serve_cli, "serve", fake_serve)
    assert serve_cli._serve_process(argparse.Namespace(), reuse_port=False) == 0
    assert loops and loops[0].startswith("uvloop")


async def test_bots_served_together_keep_one_token_per_account(tmp_path, monkeypatch):
    """Two bots on one appid: their channels read and write one token, not one each."""
    import persona.engine.bot
    from persona.cli import build_parser
    from persona.wechat.channels.tokens import ACCOUNTS_NAMESPACE
    from persona.cli import serve as serve_cli

    made: list[persona.engine.bot.Bot] = []

    class Recorded(persona.engine.bot.Bot):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(persona.engine.bot, "Bot", Recorded)
    for name, value in (("WECHAT_APPID", "wxshared"), ("WECHAT_APPSECRET", "s"),
                        ("WECHAT_API_BASE", f"http://127.0.0.1:{free_port()}")):
        monkeypatch.setenv(name, value)
    args = build_parser().parse_args(["serve", "bots.xiaowanzi", "bots.fitness_coach", "--host", "127.0.0.1",
                                      "--port", str(free_port()), "--store", f"sqlite:///{tmp_path}/p.db",
                                      "--no-scheduler", "--no-delivery"])
    stop = asyncio.Event()
    task = asyncio.create_task(serve_cli.serve(args, stop=stop))
    try:
        while len(made) < 2 or not all(b.deliverer for b in made):
            await asyncio.sleep(0.05)
        caches = [b.deliverer.router.official.tokens for b in made]
        assert caches[0].store is caches[1].store and caches[0].key == caches[1].key == "token:mp:wxshared"
        assert caches[0].store.namespace == ACCOUNTS_NAMESPACE
    finally:
        stop.set()
        assert await asyncio.wait_for(task, 30) == 0


async def test_serve_warns_at_start_up_when_staff_messages_have_no_wecom(tmp_path, monkeypatch, caplog):
    from persona.cli import build_parser
    from persona.cli import serve as serve_cli

    monkeypatch.setenv("WECHAT_APPID", "wxonly")
    monkeypatch.setenv("WECHAT_APPSECRET", "s")
    for name in ("WECOM_CORPID", "WECOM_SECRET", "SHOP_WECOM_CORPID", "SHOP_WECOM_SECRET"):
        monkeypatch.delenv(name, raising=False)
    args = build_parser().parse_args(["serve", "tests.core.shop", "--host", "127.0.0.1", "--port", str(free_port()),
                                      "--store", f"sqlite:///{tmp_path}/p.db", "--no-scheduler", "--no-delivery"])
    stop = asyncio.Event()
    caplog.set_level("WARNING", logger="persona.cli.serve")
    task = asyncio.create_task(serve_cli.serve(args, stop=stop))
    try:
        deadline = time.monotonic() + 20
        while "WECOM_CORPID" not in caplog.text and time.monotonic() < deadline and not task.done():
            await asyncio.sleep(0.05)
        assert "bot=shop sends messages to staff (tests/core/shop/__init__.py:" in caplog.text
        assert "dead-lettered as unroutable" in caplog.text
    finally:
        stop.set()
        assert await asyncio.wait_for(task, 30) == 0
