"""Group commit on Redis: concurrent requests share one pipeline and keep every guarantee."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis

from persona.errors import ConflictError
from persona.store.base import Commit
from persona.store.redis import RedisStore

from tests.conftest import drop_namespace


@pytest.fixture
async def redis_store(redis_url, namespace):
    store = RedisStore(redis_url, namespace)
    yield store
    await store.close()
    await drop_namespace(redis_url, namespace)


def counting(store: RedisStore) -> list[int]:
    """How many commands each pipeline the store sends carries."""
    assert store._batch is not None
    sizes: list[int] = []
    send = store._batch._pipeline

    async def pipeline(commands):
        sizes.append(len(commands))
        return await send(commands)

    store._batch._pipeline = pipeline  # type: ignore[method-assign]
    return sizes


def commit(user: str, version: int = 0, key: str | None = None, state: str = "a") -> Commit:
    return Commit(user=user, expected_version=version, record=b'{"s":"%s"}' % state.encode(),
                  dedupe_key=key, dedupe_result='{"status":"done"}', journal=['{"k":"in"}'])


async def test_one_tick_of_loads_and_commits_is_one_pipeline(redis_store):
    sizes = counting(redis_store)
    users = [f"u{i}" for i in range(50)]
    results = await asyncio.gather(*(redis_store.commit(commit(u, key=f"m:{u}")) for u in users))
    assert all(r.ok for r in results)
    assert sizes == [50]  # fifty commit scripts, one write, one round trip
    loaded = await asyncio.gather(*(redis_store.load(u, f"m:{u}") for u in users))
    assert sizes == [50, 150]  # a record (in its bucket or the bucket's big records) and a dedupe marker each
    assert {(l.version, l.duplicate) for l in loaded} == {(1, '{"status":"done"}')}


async def test_two_commits_of_one_customer_in_one_batch_settle_by_version(redis_store):
    """The batch does not weaken the version check: one wins, the other is told it lost."""
    results = await asyncio.gather(redis_store.commit(commit("u", state="a")),
                                   redis_store.commit(commit("u", state="b")), return_exceptions=True)
    assert sum(1 for r in results if isinstance(r, ConflictError)) == 1
    assert (await redis_store.load("u")).version == 1
    assert len(await redis_store.journal("u")) == 1


async def test_the_same_input_twice_in_one_batch_is_committed_once(redis_store):
    first, second = await asyncio.gather(redis_store.commit(commit("u", key="m:1")),
                                         redis_store.commit(commit("v", key="m:1")))
    assert first.ok and second.ok  # the key is per customer: two customers, two inputs
    again = await asyncio.gather(redis_store.commit(commit("u", 1, key="m:1")),
                                 redis_store.commit(commit("u", 1, key="m:1")), return_exceptions=True)
    assert all(not isinstance(r, Exception) and not r.ok and r.duplicate for r in again)
    assert (await redis_store.load("u")).version == 1


async def test_a_refused_command_fails_its_own_request_only(redis_store, redis_url):
    """A commit whose journal key holds the wrong type fails; its batch neighbours commit."""
    client = aioredis.from_url(redis_url)
    try:
        await client.set(redis_store._k(redis_store.shard("bad"), "j:bad"), "not a list")
    finally:
        await client.aclose()
    sizes = counting(redis_store)
    results = await asyncio.gather(*(redis_store.commit(commit(u)) for u in ("ok1", "bad", "ok2")),
                                   return_exceptions=True)
    assert sizes == [3]
    assert isinstance(results[1], Exception) and "WRONGTYPE" in str(results[1])
    assert results[0].ok and results[2].ok
    assert (await redis_store.load("ok1")).version == 1


async def test_a_redis_that_forgot_its_scripts_gets_them_again(redis_store, redis_url):
    """After SCRIPT FLUSH (a restart), refused commits are sent again and applied once."""
    await redis_store.commit(commit("u"))
    client = aioredis.from_url(redis_url)
    try:
        await client.script_flush()
    finally:
        await client.aclose()
    results = await asyncio.gather(redis_store.commit(commit("u", 1, key="m:2")),
                                   redis_store.commit(commit("v", key="m:2")))
    assert all(r.ok for r in results)
    assert (await redis_store.load("u")).version == 2
    assert len(await redis_store.journal("u")) == 2
    claimed = await redis_store.claim_timers(0, 10, 60)  # the claim script is reloaded too
    assert claimed == []


async def test_a_connection_redis_closed_while_idle_is_opened_again(redis_store, redis_url):
    """Redis dropping the batcher's idle connections (a restart, its idle timeout) costs no turn."""
    await redis_store.commit(commit("u"))
    client = aioredis.from_url(redis_url)
    try:
        killed = await client.execute_command("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes")
    finally:
        await client.aclose()
    assert killed >= 1
    result = await redis_store.commit(commit("u", 1, key="m:3"))
    assert result.ok
    assert (await redis_store.load("u", "m:3")).duplicate == '{"status":"done"}'
