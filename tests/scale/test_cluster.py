"""The store conformance suite, unchanged, against a three-master Redis Cluster.

Every customer's keys share one hash tag (its shard), so each commit, claim and segment
query touches one slot; namespace-wide keys (token cache, leaderboards, dead letters) live
in another. The cluster is started for the session by ``tests/scale/conftest.py``.
"""

from __future__ import annotations

from typing import AsyncIterator

import pytest

from persona.store import Store, open_store
from persona.store.redis import RedisStore
from tests.core.test_store_conformance import *  # noqa: F401,F403  (the suite, collected here)


@pytest.fixture
async def store(redis_cluster: str, namespace: str) -> AsyncIterator[Store]:
    """Replaces the memory/SQLite/Redis ``store`` of tests/conftest.py for this module."""
    s = open_store(redis_cluster, namespace)
    assert isinstance(s, RedisStore)
    yield s
    await s.close()


async def test_the_shards_are_spread_over_every_master(store):
    from redis.asyncio.cluster import RedisCluster

    assert isinstance(store.redis, RedisCluster)
    await store.ping()  # connects, and learns which master serves which slot
    owners = {store.redis.nodes_manager.get_node_from_slot(store.redis.keyslot(store._k(shard, "c"))).name
              for shard in range(store.shards)}
    assert len(owners) == 3, owners
