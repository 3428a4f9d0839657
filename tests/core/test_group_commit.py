"""Group commit on Redis: concurrent requests share one pipeline and keep every guarantee."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis

from persona.errors import ConflictError, StoreUnavailable
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

    async def pipeline(payload, count):
        sizes.append(count)
        return await send(payload, count)

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



async def test_the_claim_script_is_given_again_too(redis_store, redis_url):
    await redis_store.commit(Commit(user="u", expected_version=0, record=b'{"s":"a","m":{"t":[10.0,null]}}',
                                    timers_set={"t": 10.0}))
    client = aioredis.from_url(redis_url)
    try:
        await client.script_flush()
    finally:
        await client.aclose()
    assert await redis_store.claim_timers(20.0, 10, 60) == [("u", "t", 10.0)]


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


async def test_an_argument_that_cannot_be_sent_fails_its_own_request_only(redis_store):
    batch = redis_store._batch
    assert batch is not None
    key = redis_store._g("k:x")
    results = await asyncio.gather(batch.run([("SET", key, "1")]), batch.run([("SET", key, None)]),
                                   batch.run([("GET", key)]), return_exceptions=True)
    assert results[0] == [b"OK"] and results[2] == [b"1"]
    assert isinstance(results[1], TypeError)


async def test_batches_in_flight_never_exceed_the_pool_size(redis_url, namespace):
    """With Redis slower than the turns, requests wait for a connection instead of opening more."""
    store = RedisStore(redis_url, namespace, max_connections=2)
    batch = store._batch
    assert batch is not None
    most = 0
    send = batch._pipeline

    async def slow(payload, count):
        nonlocal most
        most = max(most, batch._busy)
        await asyncio.sleep(0.01)
        return await send(payload, count)

    batch._pipeline = slow  # type: ignore[method-assign]

    async def customer(i: int) -> None:
        await asyncio.sleep(0.002 * i)  # arriving while earlier batches are in flight
        for n in range(5):
            await store.commit(commit(f"c{i}", n))
            await asyncio.sleep(0)

    try:
        await asyncio.gather(*(customer(i) for i in range(20)))
        assert most == 2
        assert len(batch._idle) <= 2
        assert all([(await store.load(f"c{i}")).version == 5 for i in range(20)])
    finally:
        await store.close()
        await drop_namespace(redis_url, namespace)


async def test_a_closed_store_refuses_and_finishes_what_it_was_asked(redis_url, namespace):
    store = RedisStore(redis_url, namespace)
    try:
        batch = store._batch
        assert batch is not None
        pending = asyncio.ensure_future(batch.run([("SET", store._g("k:x"), "1")]))
        await asyncio.sleep(0)  # queued, not yet sent
        assert batch._queue
        await store.close()
        assert await pending == [b"OK"]
        with pytest.raises(StoreUnavailable):
            await store.load("u")
    finally:
        await drop_namespace(redis_url, namespace)
