"""A store that answers but refuses writes: full, read-only, locked.

Each is the store's state, not a bug, and gets what an unreachable store gets: a callback or
event answers 503 (WeChat and the brand's system post it again), one log line says why,
``/healthz`` fails with the reason (a load balancer stops sending), nothing is half written, and
once the store takes writes again the retry is processed exactly once.
"""

from __future__ import annotations

import asyncio
import errno
import json
import os
import logging
import shutil
import sqlite3
import subprocess
import time
import uuid

import pytest
import redis.asyncio as aioredis
from redis.exceptions import ClusterDownError, MasterDownError, OutOfMemoryError, ReadOnlyError, ResponseError

from persona import TextMessage
from persona.errors import StoreUnavailable
from persona.engine.runtime import Runtime
from persona.service import SIGNATURE_HEADER, sign
from persona.service.health import HEALTH_TTL
from persona.store.redis.refusals import refusal
from persona.store.sqlite import SQLiteStore
from persona.store.sqlite import refusal as sqlite_refusal
from tests.faults.servers import DurableRedis
from tests.service.conftest import EVENT_SECRET, customer, plain, text_xml
from tests.service.desk import Desk

needs_redis = pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server is not installed")


@pytest.mark.parametrize("reply,says", [
    ("OOM command not allowed when used memory > 'maxmemory'.", "full"),
    ("READONLY You can't write against a read only replica.", "read-only replica"),
    ("MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk.",
     "snapshot failed"),
    ("BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSCRIPT.", "busy"),
    ("LOADING Redis is loading the dataset in memory", "loading"),
    ("Error running script (call to f_1): @user_script:9: OOM command not allowed when used memory > "
     "'maxmemory'.", "full"),
])
def test_a_reply_about_redis_state_is_a_refusal_with_the_reason(reply, says):
    assert says in refusal(ResponseError(reply))


def test_the_errors_redis_py_raises_for_full_and_read_only_are_refusals():
    # redis-py strips the code off these replies and raises its own classes
    assert "full" in refusal(OutOfMemoryError("command not allowed when used memory > 'maxmemory'."))
    assert "read-only replica" in refusal(ReadOnlyError("You can't write against a read only replica."))
    # a MasterDownError is also a ClusterDownError: it is named for what it is
    assert refusal(MasterDownError("Link with MASTER is down")) == (
        "Redis is a replica whose primary is down (MASTERDOWN Link with MASTER is down)")
    assert refusal(ClusterDownError("")) == "Redis is a cluster that is down (CLUSTERDOWN)"


@pytest.mark.parametrize("reply", ["ERR wrong number of arguments for 'hset' command",
                                   "WRONGTYPE Operation against a key holding the wrong kind of value",
                                   "ERR Error running script: attempt to index a nil value (BOOMER)"])
def test_any_other_error_reply_stays_a_bug(reply):
    assert refusal(ResponseError(reply)) is None


async def post_text(client, text: str, msg_id: str, user: str = "oFull0000000000000000000001"):
    query, body = plain(text_xml(text, msg_id=msg_id, sender=user))
    resp = await client.post("/wechat/desk", params=query, data=body)
    return resp.status, await resp.text()


async def post_event(client, event_id: str, user: str = "oFull0000000000000000000001"):
    raw = json.dumps({"id": event_id, "user": user, "event": "joined", "data": {}}).encode()
    resp = await client.post("/events/desk", data=raw, headers={SIGNATURE_HEADER: sign(raw, EVENT_SECRET)})
    return resp.status


async def health(client) -> tuple[int, dict]:
    await asyncio.sleep(HEALTH_TTL + 0.1)  # past the cached answer
    resp = await client.get("/healthz")
    return resp.status, await resp.json()


async def assert_refused_then_recovered(client, bot, caplog, fault, mend, says: str) -> None:
    """The fault: 503 for callbacks and events, /healthz 503 saying ``says``; mended: the
    retried message counts once."""
    user = "oFull0000000000000000000001"
    assert (await post_text(client, "hi", "1"))[0] == 200  # the customer exists before the fault
    await fault()
    caplog.clear()
    assert (await post_text(client, "first words", "2"))[0] == 503
    assert await post_event(client, "e1") == 503
    status, body = await health(client)
    assert status == 503 and body["bots"] == {"desk": "unavailable"} and says in body["reasons"]["desk"]
    assert not [r for r in caplog.records if r.exc_info], "a traceback for the store's state"
    assert "Traceback" not in caplog.text
    await mend()
    assert (await post_text(client, "first words", "2"))[0] == 200  # WeChat's retry, same MsgId
    assert (await post_text(client, "first words", "2"))[0] == 200  # and again: a duplicate
    assert await post_event(client, "e1") in (200, 202)
    status, body = await health(client)
    assert status == 200, body
    c = await customer(bot, user)
    assert (c.counters["hellos"], c.counters["chats"], c.state) == (1, 1, "member")


@needs_redis
async def test_a_full_redis_answers_503_with_the_reason_and_loses_nothing(tmp_path, make_bot, serve, caplog):
    redis = DurableRedis(tmp_path, "--maxmemory-policy", "noeviction", "--appendonly", "no")
    redis.start()
    filler = aioredis.from_url(redis.url)
    try:
        bot = make_bot(store=redis.url)
        client = await serve([bot])

        async def fill() -> None:
            for i in range(32):  # 2 MB of other data, then a limit below what is in use
                await filler.set(f"junk:{i}", b"x" * 65536)
            used = (await filler.info("memory"))["used_memory"]
            await filler.config_set("maxmemory", str(used - 1024 * 1024))
            with pytest.raises(OutOfMemoryError):
                await filler.set("one-more", "x")

        async def empty() -> None:
            keys = [k async for k in filler.scan_iter(match="junk:*")]
            await filler.delete(*keys)

        await assert_refused_then_recovered(client, bot, caplog, fill, empty, "full")
    finally:
        await filler.aclose()
        redis.close()


@needs_redis
async def test_a_redis_demoted_to_a_read_only_replica_answers_503_until_promoted(tmp_path, make_bot, serve, caplog):
    primary = DurableRedis(tmp_path / "p", "--appendonly", "no")
    replica = DurableRedis(tmp_path / "r", "--appendonly", "no")
    (tmp_path / "p").mkdir()
    (tmp_path / "r").mkdir()
    primary.start()
    replica.start()
    admin = aioredis.from_url(replica.url)
    saved: list[tuple[bytes, bytes]] = []
    try:
        bot = make_bot(store=replica.url)
        client = await serve([bot])

        async def demote() -> None:  # a failover elsewhere left this one a replica
            for key in [k async for k in admin.scan_iter()]:
                saved.append((key, await admin.dump(key)))
            await admin.execute_command("REPLICAOF", "127.0.0.1", str(primary.port))
            for _ in range(100):
                if (await admin.info("replication")).get("master_link_status") == "up":
                    return
                await asyncio.sleep(0.05)

        async def promote() -> None:
            await admin.execute_command("REPLICAOF", "NO", "ONE")
            for key, value in saved:  # its data, as the promoted primary would hold it
                await admin.restore(key, 0, value, replace=True)

        await assert_refused_then_recovered(client, bot, caplog, demote, promote, "read-only replica")
    finally:
        await admin.aclose()
        primary.close()
        replica.close()


@pytest.fixture
def tiny_disk(tmp_path):
    """A 2 MB filesystem of the test's own (tmpfs), or skip where mounting is not allowed."""
    folder = tmp_path / "disk"
    folder.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(folder)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small filesystem here: {done.stderr.decode().strip()}")
    yield folder
    subprocess.run(["umount", "-l", str(folder)], check=False)


async def test_sqlite_on_a_full_disk_answers_503_and_loses_nothing(tiny_disk, make_bot, serve, caplog):
    bot = make_bot(store=f"sqlite:///{tiny_disk}/persona.db")
    client = await serve([bot])
    junk = tiny_disk / "junk"

    async def fill() -> None:
        fd = os.open(junk, os.O_WRONLY | os.O_CREAT)
        try:
            while True:
                os.write(fd, b"x" * 4096)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
        finally:
            os.close(fd)

    async def free() -> None:
        junk.unlink()

    await assert_refused_then_recovered(client, bot, caplog, fill, free, "full")


async def test_sqlite_that_turned_read_only_answers_503(tmp_path, make_bot, serve, caplog):
    bot = make_bot(store=f"sqlite:///{tmp_path}/persona.db")
    client = await serve([bot])

    async def read_only() -> None:  # SQLite's own read-only mode: every write is SQLITE_READONLY
        bot.store.db.execute("PRAGMA query_only=ON")

    async def writable() -> None:
        bot.store.db.execute("PRAGMA query_only=OFF")

    await assert_refused_then_recovered(client, bot, caplog, read_only, writable, "readonly")


async def test_sqlite_locked_past_the_busy_timeout_is_unavailable_and_commits_once_released(tmp_path):
    path = tmp_path / "persona.db"
    store = SQLiteStore(f"sqlite:///{path}", "desk", timeout=0.2)
    runtime = Runtime(Desk(), store)
    other = sqlite3.connect(str(path), isolation_level=None)
    try:
        other.execute("BEGIN EXCLUSIVE")  # another process holds the write lock
        message = TextMessage(user="amy", dedupe_key=f"m:{uuid.uuid4()}", text="hi")
        with pytest.raises(StoreUnavailable, match="locked"):
            await runtime.handle(message)
        other.execute("ROLLBACK")
        await runtime.handle(message)
        await runtime.handle(message)  # the retry: a duplicate
        assert (await runtime.customer("amy")).counters == {"hellos": 1}
    finally:
        other.close()
        await store.close()


def test_a_sqlite_error_that_is_a_bug_in_a_statement_stays_itself(tmp_path):
    # a constraint or a bad statement is not the file's state: a 503 and a retry would not mend it
    db = sqlite3.connect(str(tmp_path / "bug.db"), isolation_level=None)
    db.execute("CREATE TABLE t (k PRIMARY KEY)")
    db.execute("INSERT INTO t VALUES (1)")
    for statement in ("INSERT INTO t VALUES (1)", "SELECT nope FROM t", "INSERT INTO t VALUES (?)"):
        with pytest.raises(sqlite3.Error) as raised:
            db.execute(statement)
        assert sqlite_refusal(raised.value, "here") is raised.value
    db.execute("PRAGMA query_only=ON")
    with pytest.raises(sqlite3.OperationalError) as raised:
        db.execute("INSERT INTO t VALUES (2)")
    refused = sqlite_refusal(raised.value, "store x")
    assert isinstance(refused, StoreUnavailable) and "readonly" in str(refused)
    db.close()


async def test_a_bug_inside_a_sqlite_transaction_is_not_answered_as_an_outage(tmp_path):
    store = SQLiteStore(f"sqlite:///{tmp_path}/persona.db", "desk")
    try:
        with pytest.raises(sqlite3.IntegrityError):
            with store._tx() as db:
                db.execute("INSERT INTO tallies VALUES ('desk', 'n', 1)")
                db.execute("INSERT INTO tallies VALUES ('desk', 'n', 1)")
        assert await store.tallies() == {}  # rolled back
    finally:
        await store.close()


async def test_the_health_probe_does_not_wait_out_the_busy_timeout_on_a_locked_file(tmp_path):
    path = tmp_path / "persona.db"
    store = SQLiteStore(f"sqlite:///{path}", "desk", timeout=10.0)
    other = sqlite3.connect(str(path), isolation_level=None)
    try:
        other.execute("BEGIN EXCLUSIVE")
        started = time.monotonic()
        with pytest.raises(StoreUnavailable, match="locked"):
            await store.probe_write()
        assert time.monotonic() - started < 5.0  # the store's own busy timeout is 10 s
        assert store.db.execute("PRAGMA busy_timeout").fetchone()[0] == 10_000  # restored
        other.execute("ROLLBACK")
        await store.probe_write()
    finally:
        other.close()
        await store.close()
