"""The studio as people use it: a real ``persona studio`` process on a real SQLite store, seeded
by the real runtime on a fake clock, driven by a real browser (Playwright with Debian's chromium).
The studio (and every command run on its store) starts its clock at the seed's fake time, through
libfaketime, so what the seed stored is as recent for it as for the seed.

Playwright's own browser download is not used: ``.ci/run`` installs the ``chromium`` package.
"""

from __future__ import annotations

import asyncio
import json
import concurrent.futures
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import expect

from persona.store import OutboxItem

from tests import faketime
from tests.cli.conftest import ROOT, run_persona

CHROMIUM = os.environ.get("PERSONA_TEST_CHROMIUM", "/usr/bin/chromium")
PASSWORD = "correct horse battery"
ACCOUNTS = {"wendy": "writer", "alice": "agent", "root": "admin"}
SHOTS = ROOT / "docs" / "studio"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited early: {proc.stderr.read() if proc.stderr else ''}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {port} after {timeout}s")


def start(*args: str, env: dict[str, str] | None = None, log: Path) -> subprocess.Popen:
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    environment.update({"PYTHONIOENCODING": "utf-8"}, **(env or {}))
    return subprocess.Popen([sys.executable, "-m", "persona", *args], cwd=str(ROOT), env=environment,
                            stdout=log.open("w"), stderr=subprocess.STDOUT, text=True)


def run_async(fn, *args):
    """Run a coroutine function to the end in a thread of its own (Playwright's sync API keeps an
    event loop running in the test's thread)."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, fn(*args)).result()


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


async def seed(url: str) -> float:
    """Customers of 小完子 with a story: a parcel customer who claimed nothing, one who typed a
    phone number, one who opted out; returns the fake clock's time at the end."""
    from persona.testing import Simulation

    async with Simulation("bots.xiaowanzi", store=url, start="2026-11-23 09:00") as sim:
        await sim.wechat("wm_amy", "add_external_contact", key="parcel_lipstick", welcome_code="WC1",
                         staff="xiaowan")
        await sim.text("wm_amy", "有什么口红推荐吗")
        await sim.wechat("wm_bob", "add_external_contact", key="store_sh01", welcome_code="WC2", staff="xiaowan")
        await sim.text("wm_bob", "我的手机是13812345678，快递到了吗")
        await sim.wechat("wm_cat", "add_external_contact", key="parcel_lipstick", welcome_code="WC3",
                         staff="xiaowan")
        await sim.text("wm_cat", "退订")
        await sim.advance("3h")
        # a message the platform refused for good, waiting for a person
        message = {"kind": "text", "text": "你的订单已发货", "script": "order_shipped", "proactive": True,
                   "category": "service"}
        await sim.store.add_dead_letter(OutboxItem("wm_amy:99:0", "wm_amy", sim.clock.now(),
                                                   json.dumps({"type": "message", "user": "wm_amy",
                                                               "message": message}, ensure_ascii=False), 5),
                                        "errcode 45015: the customer has not talked to us for 48 hours")
        return sim.clock.now()


@dataclass(frozen=True)
class Seeded:
    url: str
    now: float  # the seed's fake time: the studio and the CLI run at it

    def run(self, *args: str, **kwargs):
        return run_persona(*args, at=self.now, **kwargs)


@dataclass
class StudioServer:
    url: str
    store: str
    log: Path
    now: float  # where its clock started

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


@pytest.fixture(scope="module")
def seeded(tmp_path_factory) -> Seeded:
    folder = tmp_path_factory.mktemp("studio")
    url = f"sqlite:///{folder}/persona.db"
    done = Seeded(url, run_async(seed, url))
    for name, role in ACCOUNTS.items():
        added = done.run("studio", "adduser", name, "--role", role, "--store", url, input=PASSWORD + "\n")
        assert added.returncode == 0, added.stderr
    return done


@pytest.fixture(scope="module")
def studio_store(seeded) -> str:
    return seeded.url


@pytest.fixture(scope="module")
def studio(seeded, tmp_path_factory) -> Iterator[StudioServer]:
    port = free_port()
    log = tmp_path_factory.mktemp("studio-log") / "studio.log"
    proc = start("studio", "bots.xiaowanzi", "--store", seeded.url, "--port", str(port), log=log,
                 env=faketime.at(seeded.now))
    try:
        wait_for_port(port, proc)
        yield StudioServer(f"http://127.0.0.1:{port}", seeded.url, log, seeded.now)
    finally:
        stop(proc)


# lint reads the whole bot (about 2 s for 小完子, more on a loaded machine): assertions wait for it
expect.set_options(timeout=20_000)


@pytest.fixture(scope="module")
def browser():
    """One chromium per test module: Playwright's sync API keeps an event loop running while it
    is open, which async tests in other modules must not find."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium), "
                    "as .ci/run does; Playwright's own browser download is not used")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1360, "height": 900}, locale="zh-CN")
    pg = context.new_page()
    pg.set_default_timeout(15000)
    yield pg
    context.close()


def login(page, base: str, name: str, password: str = PASSWORD, next: str = "/") -> None:
    page.goto(f"{base}/login?next={next}")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")


def shot(page, name: str) -> None:
    """A screenshot, taken by the test's own browser: into docs/studio/ (the README's pictures)
    when PERSONA_STUDIO_SHOTS=1, otherwise into a scratch folder so a test run leaves the
    checkout clean."""
    folder = SHOTS if os.environ.get("PERSONA_STUDIO_SHOTS") == "1" else Path(tempfile.gettempdir()) / "persona-studio-shots"
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def start_studio(folder: Path, url: str, now: float, env: dict[str, str] | None = None) -> tuple[subprocess.Popen, int]:
    """The studio on ``url`` at the seed's time ``now``, with the test accounts; (process, port)."""
    for name, role in ACCOUNTS.items():
        done = run_persona("studio", "adduser", name, "--role", role, "--store", url, input=PASSWORD + "\n", at=now)
        assert done.returncode == 0, done.stderr
    port = free_port()
    proc = start("studio", "bots.xiaowanzi", "--store", url, "--port", str(port), log=folder / "studio.log",
                 env={**faketime.at(now), **(env or {})})
    return proc, port
