"""The script-version role, one suite on the three backends."""

from __future__ import annotations

import asyncio

from persona.store import open_store
from persona.store.versions import ScriptVersionStore


async def test_every_backend_plays_the_role(store):
    assert isinstance(store, ScriptVersionStore)


async def test_versions_are_numbered_in_order_and_kept(store):
    assert await store.script_versions("welcome") == []
    assert await store.versioned_scripts() == []
    assert await store.script_generation() == 0
    assert await store.append_script_version("welcome", 0, '{"n":1}')
    assert await store.append_script_version("welcome", 1, '{"n":2}')
    assert await store.append_script_version("partials/offer", 0, "中文也行")
    assert await store.script_versions("welcome") == ['{"n":1}', '{"n":2}']
    assert await store.script_versions("partials/offer") == ["中文也行"]
    assert await store.versioned_scripts() == ["partials/offer", "welcome"]
    assert await store.latest_script_versions() == {"welcome": (2, '{"n":2}'), "partials/offer": (1, "中文也行")}


async def test_an_append_on_a_stale_number_writes_nothing(store):
    assert await store.append_script_version("welcome", 0, "first")
    before = await store.script_generation()
    assert not await store.append_script_version("welcome", 0, "lost")
    assert not await store.append_script_version("welcome", 5, "from the future")
    assert await store.script_versions("welcome") == ["first"]
    assert await store.script_generation() == before


async def test_concurrent_appends_on_one_number_only_one_wins(store):
    results = await asyncio.gather(*(store.append_script_version("welcome", 0, f"v{i}") for i in range(8)))
    assert sum(results) == 1
    assert len(await store.script_versions("welcome")) == 1


async def test_the_generation_moves_with_every_append(store):
    seen = [await store.script_generation()]
    for i in range(3):
        await store.append_script_version("s", i, str(i))
        seen.append(await store.script_generation())
    assert seen == sorted(set(seen)) and len(seen) == 4


async def test_versions_belong_to_their_namespace(store, tmp_path):
    if store.url.startswith("memory"):
        return  # one MemoryStore is one namespace by construction
    await store.append_script_version("welcome", 0, "mine")
    other = open_store(store.url, store.namespace + "x")
    try:
        assert await other.script_versions("welcome") == []
        assert await other.script_generation() == 0
    finally:
        await other.close()
