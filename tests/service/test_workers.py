"""``persona serve --workers N``: real processes on one port, as a brand runs them on a machine
with N cores."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path

import aiohttp
import pytest

from persona.model.customer import Customer
from persona.model.inputs import TextMessage
from persona.store import open_store
from persona.engine.spool import Spool
from tests.conftest import drop_namespace
from tests.service.conftest import plain, reply_fields, text_xml
from tests.service.test_serve import HELLO, ROOT, free_port, output, start, stop, wait_healthy

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="--workers needs Linux")


def children(pid: int) -> set[int]:
    """Processes whose parent is ``pid`` (Linux /proc)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.add(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def worker_pids(proc: subprocess.Popen) -> set[int]:
    """The serving workers (the spawn helper's resource tracker left out)."""
    found = set()
    for pid in children(proc.pid):
        try:
            if b"resource_tracker" not in Path(f"/proc/{pid}/cmdline").read_bytes():
                found.add(pid)
        except OSError:  # gone meanwhile
            pass
    return found


async def wait_for(condition, seconds: float = 20.0, what: str = "") -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.1)


def lines(proc: subprocess.Popen) -> list[dict]:
    return [json.loads(line) for line in output(proc).splitlines() if line.startswith("{")]


async def test_two_workers_share_the_port_and_count_each_other_in_metrics(redis_url, tmp_path):
    name = f"desk{uuid.uuid4().hex[:8]}"
    port = free_port()
    proc = start(name, port, redis_url, "--workers", "2", "--no-delivery", "--log-format", "json",
                 "--spool", str(tmp_path / "spool.db"))
    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as session:
            await wait_healthy(session, port, proc)
            await wait_for(lambda: output(proc).count("listening (pid") == 2, what="both workers listening")
            for i in range(40):  # a new connection each: the kernel spreads them over the workers
                query, body = plain(text_xml("hi", sender=f"oWorker{i:021d}"), nonce=str(i))
                async with session.post(f"http://127.0.0.1:{port}/wechat/{name}", params=query, data=body) as resp:
                    assert resp.status == 200 and reply_fields(await resp.text())["Content"] == HELLO
            served = [line["worker"] for line in lines(proc) if line.get("msg") == "callback"]
            assert len(served) == 40 and set(served) == {1, 2}, served

            await asyncio.sleep(1.5)  # each worker writes its figures at least once a second
            for _ in range(6):  # whichever worker answers, the page counts both
                async with session.get(f"http://127.0.0.1:{port}/metrics") as resp:
                    page = await resp.text()
                done = [float(line.rsplit(" ", 1)[1]) for line in page.splitlines()
                        if line.startswith("persona_inputs_total") and f'persona="{name}"' in line
                        and 'outcome="done"' in line]
                assert sum(done) == 40, page
                assert page.count("# TYPE persona_inputs_total counter") == 1
    finally:
        text = stop(proc)
        await drop_namespace(redis_url, name)
    assert proc.returncode == 0, text
    assert "Traceback" not in text, text


async def test_a_stop_leaves_no_process_behind_and_each_worker_replays_its_own_spool(tmp_path):
    store = f"sqlite:///{tmp_path}/persona.db"
    spool = tmp_path / "spool.db"
    # callbacks answered "success" before they committed, by worker 1, worker 2, and a worker 3
    # of an earlier run with three: each file is replayed, each by one process
    for path, user in ((spool, "oFirst"), (tmp_path / "spool-2.db", "oSecond"), (tmp_path / "spool-3.db", "oThird")):
        written = Spool(path)
        written.add("desk", TextMessage(user=user, dedupe_key=f"m:{user}", text="hi", msg_id=user))
        written.close()
        with sqlite3.connect(path) as db:
            db.execute("UPDATE spool SET ready=0")  # the turn that wrote it is long gone
    port = free_port()
    proc = start("desk", port, store, "--workers", "2", "--no-delivery", "--log-format", "json",
                 "--spool", str(spool))
    try:
        async with aiohttp.ClientSession() as session:
            await wait_healthy(session, port, proc)

            def replays() -> list[int]:
                return sorted(line["worker"] for line in lines(proc) if "replayed" in line["msg"])

            await wait_for(lambda: len(replays()) == 3, what=f"three replays: {output(proc)}")
            assert replays() == [1, 1, 2]  # worker 1: its file and the one left by worker 3
            assert len(worker_pids(proc)) == 2
            assert all(Spool(path).size() == 0 for path in (spool, tmp_path / "spool-2.db", tmp_path / "spool-3.db"))
            opened = open_store(store, "desk")
            try:
                for user in ("oFirst", "oSecond", "oThird"):
                    loaded = await opened.load(user)
                    assert Customer.load(user, loaded.record, loaded.version).state == "greeted"
            finally:
                await opened.close()
        everything = children(proc.pid)
    finally:
        text = stop(proc)
    assert proc.returncode == 0, text
    # the spawn helper's resource tracker sees its parent gone a moment later
    await wait_for(lambda: not any(alive(pid) for pid in everything), seconds=5, what=text)
    assert sum('"msg":"stopping"' in line for line in text.splitlines()) == 2, text


async def test_a_worker_that_dies_is_replaced_and_a_killed_supervisor_takes_its_workers_along(tmp_path):
    port = free_port()
    proc = start("desk", port, f"sqlite:///{tmp_path}/persona.db", "--workers", "2", "--no-delivery",
                 "--spool", str(tmp_path / "spool.db"))
    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as session:
            await wait_healthy(session, port, proc)
            # both listening: a worker of the first start that dies before it listens stops the start
            await wait_for(lambda: output(proc).count("listening (pid") == 2, what=output(proc))
            first = worker_pids(proc)
            assert len(first) == 2
            victim = min(first)
            os.kill(victim, signal.SIGKILL)
            await wait_for(lambda: len(worker_pids(proc) - first) == 1, what=output(proc))
            # the replacement dies too, before it listens (importing takes it well over 0.1 s):
            # it is replaced in turn, the restart budget counting it, instead of stopping everyone
            (replacement,) = worker_pids(proc) - first
            os.kill(replacement, signal.SIGKILL)
            await wait_for(lambda: len(worker_pids(proc) - first - {replacement}) == 1
                           and output(proc).count("listening (pid") == 3, what=output(proc))
            text = output(proc)
            assert text.count("was killed by SIGKILL; starting another") == 2, text
            assert f"listening (pid {replacement})" not in text, text
            for i in range(10):  # both the survivor and the newcomer answer
                query, body = plain(text_xml("hi"), nonce=str(i))
                async with session.post(f"http://127.0.0.1:{port}/wechat/desk", params=query, data=body) as resp:
                    assert resp.status == 200
            workers = worker_pids(proc)
            assert proc.poll() is None and victim not in workers and replacement not in workers

        os.kill(proc.pid, signal.SIGKILL)  # no chance to stop anyone
        proc.wait()
        await wait_for(lambda: not any(alive(pid) for pid in workers), seconds=15,
                       what=f"workers outlived their supervisor: {output(proc)}")
    finally:
        stop(proc)


@pytest.mark.parametrize("extra,message", [
    (["--port", "0"], "fixed --port"),
    (["--store", "memory://"], "memory://"),
])
def test_what_several_workers_cannot_do_is_refused_at_start(extra, message, tmp_path):
    argv = ["tests.service.desk", "--workers", "2", "--host", "127.0.0.1", "--port", str(free_port()),
            "--store", f"sqlite:///{tmp_path}/p.db", *extra]
    done = subprocess.run([sys.executable, "-m", "persona", "serve", *argv], cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and message in done.stderr, done.stderr


async def test_a_port_in_use_stops_the_start_instead_of_being_shared(tmp_path):
    import socket

    with socket.socket() as taken:
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)  # would let a careless worker join
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run([sys.executable, "-m", "persona", "serve", "tests.service.desk", "--workers", "2",
                               "--host", "127.0.0.1", "--port", str(port), "--store", f"sqlite:///{tmp_path}/p.db"],
                              cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True,
                              timeout=60)
    assert done.returncode == 2 and "cannot listen" in done.stderr, done.stderr


class _Exited:
    """A worker process that has already exited with ``exitcode`` (what ``_replace`` reads)."""

    def __init__(self, exitcode: int) -> None:
        self.exitcode, self.pid = exitcode, 4242

    def join(self, timeout: float | None = None) -> None:
        pass


class _Pipe:
    def close(self) -> None:
        pass


@pytest.mark.parametrize("listening,replacement,exitcode,expected", [
    (False, False, -signal.SIGKILL, 1),  # the first start: a worker that never listened stops it
    (False, False, 2, 2),  # ... with exit 2 when the bot or an option is unusable
    (True, False, -signal.SIGKILL, None),  # a serving worker that died: replaced
    (False, True, -signal.SIGKILL, None),  # a replacement killed while starting: replaced again
    (False, True, 2, 2),  # a replacement that finds the bot unusable: starting it again would fail too
], ids=["first-killed", "first-bad-bot", "serving-killed", "replacement-killed", "replacement-bad-bot"])
def test_what_the_supervisor_does_when_a_worker_exits(listening, replacement, exitcode, expected, monkeypatch):
    from persona.cli.supervisor import Supervisor, Worker

    supervisor = Supervisor.__new__(Supervisor)  # no folder, no processes: only the decision
    supervisor.workers, supervisor.deaths = {}, []
    started: list[tuple[int, bool]] = []
    monkeypatch.setattr(supervisor, "start", lambda index, replacement=False: started.append((index, replacement)))
    worker = supervisor.workers[1] = Worker(1, _Exited(exitcode), _Pipe(), listening=listening,  # type: ignore[arg-type]
                                            replacement=replacement)
    assert supervisor._replace(worker) == expected
    assert started == ([] if expected is not None else [(1, True)])
    assert 1 not in supervisor.workers


def test_each_worker_checks_its_claims_against_the_other_workers_spool_files(tmp_path):
    from persona.cli.supervisor import peer_spools

    base = tmp_path / "spool.db"
    Spool(tmp_path / "spool-5.db").record_sent("desk", [("amy:1:0", "amy")], "{}")  # a run with five
    assert peer_spools(str(base), 3, 1) == [str(tmp_path / "spool-2.db"), str(tmp_path / "spool-3.db")]
    assert peer_spools(str(base), 3, 2) == [str(base), str(tmp_path / "spool-3.db"), str(tmp_path / "spool-5.db")]
    assert peer_spools(str(base), 1, 1) == []
