"""Converting data written before compact records works on a Redis Cluster too: each shard's
keys are read, then rewritten and the old ones deleted in one MULTI/EXEC on the master that
serves its slot."""

from __future__ import annotations

from persona.model.customer import Customer
from persona.store import open_store
from persona.store.redis import RedisStore
from persona.store.redis.legacy import upgrade
from tests.core.test_redis_records import NOW, write_format_1


async def test_data_in_the_earlier_layout_converts_on_a_cluster(redis_cluster, namespace):
    store = open_store(redis_cluster, namespace)
    assert isinstance(store, RedisStore)
    try:
        await write_format_1(store.redis, namespace)
        assert await upgrade(store) == 3
        loaded = await store.load("b|ob")
        assert loaded.version == 1 and Customer.load("b|ob", loaded.record, 1).timers["recall"].due == NOW + 60
        assert await store.segment("state:welcomed") == {"alice", "carol"}
        assert await store.count_timers() == 3
        assert await upgrade(store) == 0 and await store.count_timers() == 3  # a second run changes nothing
        assert sorted(u for u, _, _ in await store.claim_timers(NOW + 60, 10, 30)) == ["alice", "b|ob", "carol"]
    finally:
        keys = [k async for k in store.redis.scan_iter(match=f"p:{{{namespace}*")]
        for key in keys:
            await store.redis.delete(key)
        await store.close()
