"""``persona.worker``: in-process with a stop event, and two OS processes on Redis, one of them
killed mid-batch — every timer still fires exactly once."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from persona import FakeClock
from persona.model.customer import Customer, Timer
from persona.store import Commit, open_store
from persona.store.redis import RedisStore
from persona.worker import build_parser, run_worker
from tests.conftest import drop_namespace

ROOT = Path(__file__).resolve().parents[2]
BOT = "tests.timers.pinger"


async def seed(store, users: list[str], due: float, *, chunk: int = 500) -> None:
    """Customers with one due timer each, written straight to the store (fast)."""
    async def one(user: str) -> None:
        customer = Customer(user, "idle", first_seen=due, timers={"ping": Timer(due)})
        await store.commit(Commit(user=user, expected_version=0, record=customer.dump(),
                                  timers_set={"ping": due}))

    for i in range(0, len(users), chunk):
        await asyncio.gather(*(one(u) for u in users[i:i + chunk]))


async def all_customers(store: RedisStore) -> dict[str, Customer]:
    return {uid: Customer.load(uid, record, version) async for uid, version, record in store.records()}


async def test_run_worker_fires_due_timers_and_stops_when_told(tmp_path, namespace):
    url = f"sqlite:///{tmp_path}/w.db"
    store = open_store(url, namespace)
    clock = FakeClock("2026-11-23 10:00")
    await seed(store, [f"u{i}" for i in range(20)], clock.now() - 5)
    await store.close()
    committed: list = []
    stop = asyncio.Event()
    task = asyncio.create_task(run_worker(BOT, url, stop=stop, clock=clock, namespace=namespace, idle=0.01,
                                          on_commit=committed.append, handle_signals=False))
    store = open_store(url, namespace)
    for _ in range(500):
        if await store.count_timers() == 0:
            break
        await asyncio.sleep(0.01)
    stop.set()
    assert await asyncio.wait_for(task, 5) == 20
    customers = {u: Customer.load(u, (await store.load(u)).record, 0) for u in await store.users()}
    assert all(c.counters == {"pings": 1} for c in customers.values()) and len(customers) == 20
    assert committed == []  # the pinger says nothing, so no outbox items reach the hook
    await store.close()


def test_the_command_line_takes_the_bot_and_the_store():
    args = build_parser().parse_args(["bots.xiaowanzi", "--store", "redis://h:6379/0", "--lease", "2"])
    assert (args.bot, args.store, args.lease, args.batch) == ("bots.xiaowanzi", "redis://h:6379/0", 2.0, 500)


def test_a_bot_that_does_not_load_exits_with_a_usage_error():
    done = subprocess.run([sys.executable, "-m", "persona.worker", "tests.timers.nowhere", "--store", "memory://"],
                          cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 2 and "cannot import bot 'tests.timers.nowhere'" in done.stderr


def worker(tag: str, url: str, namespace: str, log: Path, delay: float = 0) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "WORKER_TAG": tag, "WORKER_DELAY": str(delay)}
    return subprocess.Popen(
        [sys.executable, "-m", "persona.worker", BOT, "--store", url, "--namespace", namespace,
         "--batch", "200", "--lease", "2", "--concurrency", "32", "--log-level", "WARNING"],
        cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)


async def test_two_worker_processes_one_killed_mid_batch_fire_every_timer_exactly_once(
        redis_url, namespace, tmp_path):
    total = 10_000
    store = open_store(redis_url, namespace)
    assert isinstance(store, RedisStore)
    users = [f"c{i:05d}" for i in range(total)]
    procs: list[subprocess.Popen] = []
    try:
        await seed(store, users, time.time() - 1)
        assert await store.count_timers() == total
        # the doomed worker first, slowed down, so it is surely holding leased timers when it
        # is killed; the survivor once the doomed one fires (start-up takes seconds when loaded)
        deadline = time.monotonic() + 60
        doomed = worker("doomed", redis_url, namespace, tmp_path / "doomed.log", delay=0.05)
        procs = [doomed]
        while not await store.segment("tag:pinged_by=doomed"):
            assert time.monotonic() < deadline, "the doomed worker fired nothing"
            assert doomed.poll() is None, "the doomed worker exited early"
            await asyncio.sleep(0.05)
        survivor = worker("survivor", redis_url, namespace, tmp_path / "survivor.log")
        procs.append(survivor)
        while not await store.segment("tag:pinged_by=survivor"):
            assert time.monotonic() < deadline, "the survivor fired nothing"
            assert doomed.poll() is None and survivor.poll() is None, "a worker exited early"
            await asyncio.sleep(0.02)
        assert await store.count_timers() > 0
        doomed.send_signal(signal.SIGKILL)  # mid-batch: it holds leased, unfired timers
        doomed.wait(timeout=10)
        while await store.count_timers() > 0:  # the survivor takes the orphans after their lease
            assert time.monotonic() < deadline, f"{await store.count_timers()} timers never fired"
            await asyncio.sleep(0.05)
        survivor.send_signal(signal.SIGTERM)
        assert survivor.wait(timeout=15) == 0  # a graceful stop
        customers = await all_customers(store)
        assert len(customers) == total
        doubled = [c.id for c in customers.values() if c.counters.get("pings") != 1]
        assert doubled == [], f"{len(doubled)} customers fired != 1 time, e.g. {doubled[:5]}"
        by = {tag: sum(1 for c in customers.values() if c.tags.get("pinged_by") == tag)
              for tag in ("doomed", "survivor")}
        assert by["doomed"] > 0 and by["survivor"] > 0 and sum(by.values()) == total
    except BaseException:
        for log in tmp_path.glob("*.log"):
            print(f"--- {log.name}\n{log.read_text()[-3000:]}")
        raise
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait(timeout=10)
        await store.close()
        await drop_namespace(redis_url, namespace)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_stops_the_worker_gracefully(tmp_path, sig):
    proc = subprocess.Popen([sys.executable, "-m", "persona.worker", BOT, "--store", f"sqlite:///{tmp_path}/s.db",
                             "--log-level", "INFO"], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        line = proc.stdout.readline()  # the worker logs once it is running
        assert "worker for pinger" in line, line
        proc.send_signal(sig)
        assert proc.wait(timeout=15) == 0
        assert "stopped after 0 timers" in proc.stdout.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


def test_the_worker_runs_on_uvloop_where_the_platform_has_it(monkeypatch):
    """As ``persona serve`` does: every timer is a few dozen loop callbacks."""
    import persona.worker

    loops: list[str] = []

    async def fake_run_worker(*args, **kwargs):
        loops.append(type(asyncio.get_running_loop()).__module__)

    monkeypatch.setattr(persona.worker, "run_worker", fake_run_worker)
    assert persona.worker.main([BOT, "--store", "memory://"]) == 0
    assert loops and loops[0].startswith("uvloop")
