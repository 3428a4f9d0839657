"""A writer publishes to running ``persona serve`` processes: real processes, the real CLI."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import aiohttp
import pytest

from tests.conftest import drop_namespace
from tests.service.conftest import plain, reply_fields, text_xml
from tests.service.test_serve import HELLO, ROOT, free_port, output, start, stop, wait_healthy

LIVE_WITHIN = 3.0


def cli(*args: str, name: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PERSONA_TEST_DESK_NAME": name}
    return subprocess.run([sys.executable, "-m", "persona", "scripts", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60, input=stdin)


async def reply(session: aiohttp.ClientSession, port: int, name: str) -> str:
    query, body = plain(text_xml("hi"))
    async with session.post(f"http://127.0.0.1:{port}/wechat/{name}", params=query, data=body) as resp:
        assert resp.status == 200
        return reply_fields(await resp.text())["Content"]


async def until_reply(session: aiohttp.ClientSession, port: int, name: str, expected: str) -> float:
    """Seconds until the reply is ``expected`` (fails after LIVE_WITHIN)."""
    started = time.monotonic()
    while True:
        got = await reply(session, port, name)
        waited = time.monotonic() - started
        if got == expected:
            return waited
        assert waited < LIVE_WITHIN, f"still {got!r} after {waited:.1f}s"
        await asyncio.sleep(0.1)


@pytest.mark.parametrize("kind", ["redis", "sqlite"])
async def test_publish_reaches_a_running_serve_refuses_a_broken_text_and_rolls_back(kind, redis_url, tmp_path):
    name = f"desk{uuid.uuid4().hex[:8]}"
    store = redis_url if kind == "redis" else f"sqlite:///{tmp_path}/persona.db"
    new_text = tmp_path / "hello.j2"
    new_text.write_text('{% set category = "service" %}\n在的！今天想了解点什么？\n', encoding="utf-8")
    broken = tmp_path / "broken.j2"
    broken.write_text('{% set category = "service" %}\n{{ customer.attrs.name }，你好\n', encoding="utf-8")
    port = free_port()
    proc = start(name, port, store, "--no-delivery")
    try:
        async with aiohttp.ClientSession() as session:
            await wait_healthy(session, port, proc)
            assert await reply(session, port, name) == HELLO

            started = time.monotonic()
            done = cli("publish", "tests.service.desk", "hello", str(new_text), "--store", store,
                       "--author", "amy", "--note", "warmer", name=name)
            publishing = time.monotonic() - started
            assert (done.returncode, done.stdout.strip()) == (0, "1"), done.stderr
            waited = await until_reply(session, port, name, "在的！今天想了解点什么？")
            print(f"{kind}: publish took {publishing:.2f}s (a new process, lint included); the next "
                  f"reply used it {waited:.2f}s after it returned")

            done = cli("publish", "tests.service.desk", "hello", str(broken), "--store", store, name=name)
            assert done.returncode == 1 and "hello.j2:2: error:" in done.stderr, done.stderr
            await asyncio.sleep(1.5)  # more than a poll: the old text is still what customers get
            assert await reply(session, port, name) == "在的！今天想了解点什么？"

            done = cli("rollback", "tests.service.desk", "hello", "--store", store, name=name)
            assert (done.returncode, done.stdout.strip()) == (0, "2"), done.stderr
            await until_reply(session, port, name, HELLO)

            history = cli("history", "tests.service.desk", "hello", "--store", store, name=name)
            lines = history.stdout.splitlines()
            assert [line.split()[0] for line in lines] == ["v2", "v1", "v0"], history.stdout
            assert "rollback of v0" in lines[0] and "amy" in lines[1] and "warmer" in lines[1]
            listing = cli("list", "tests.service.desk", "--store", store, name=name)
            assert any(line.split()[:2] == ["hello", "v2"] for line in listing.stdout.splitlines()), listing.stdout
    finally:
        log = stop(proc)
        if kind == "redis":
            await drop_namespace(redis_url, name)
    assert waited < LIVE_WITHIN
    assert "Traceback" not in log, log


def test_a_bot_whose_script_fails_lint_does_not_start(tmp_path):
    bot = tmp_path / "brokenbot"
    (bot / "scripts").mkdir(parents=True)
    (bot / "__init__.py").write_text(
        "from persona import Persona, Turn, on\n\n\n"
        "class Broken(Persona):\n"
        "    states = ['new']\n\n"
        "    @on.text('hi')\n"
        "    def hello(self, turn: Turn) -> None:\n"
        "        turn.say('hello')\n", encoding="utf-8")
    (bot / "scripts" / "hello.j2").write_text("你好 {{ nickname }}\n", encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{ROOT}"}
    for command in (["serve", "brokenbot", "--port", str(free_port())], ["worker", "brokenbot"]):
        done = subprocess.run([sys.executable, "-m", "persona", *command, "--store", f"sqlite:///{tmp_path}/p.db"],
                              cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 2, (command, done.stdout, done.stderr)
        assert "scripts fail lint" in done.stderr and "hello.j2:1" in done.stderr, done.stderr
        assert "'nickname' is not given" in done.stderr
    assert Path(tmp_path / "p.db").exists()


async def test_serve_reload_swaps_in_an_edited_script_that_passes_lint(tmp_path):
    bot = tmp_path / "desk_dev"
    shutil.copytree(ROOT / "tests" / "service" / "desk", bot, ignore=shutil.ignore_patterns("__pycache__"))
    port = free_port()
    proc = start("desk", port, f"sqlite:///{tmp_path}/p.db", "--reload", bots=("desk_dev",),
                 env_extra={"PYTHONPATH": f"{tmp_path}{os.pathsep}{ROOT}"})
    try:
        async with aiohttp.ClientSession() as session:
            await wait_healthy(session, port, proc)
            assert await reply(session, port, "desk") == HELLO
            hello = bot / "scripts" / "hello.j2"
            hello.write_text('{% set category = "service" %}\n改好了\n', encoding="utf-8")
            await until_reply(session, port, "desk", "改好了")
            hello.write_text('{% set category = "service" %}\n{{ nickname }}\n', encoding="utf-8")
            for _ in range(50):
                if "lint found problems" in output(proc):
                    break
                await asyncio.sleep(0.1)
            assert await reply(session, port, "desk") == "改好了"
    finally:
        log = stop(proc)
    assert "scripts reloaded" in log and "'nickname' is not given" in log, log
