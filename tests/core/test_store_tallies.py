"""The tallies role on every backend: counters that move only inside a commit."""

from __future__ import annotations

import asyncio

import pytest

from persona.errors import ConflictError
from persona.store import Commit


def commit(user: str, version: int, **kw) -> Commit:
    return Commit(user=user, expected_version=version, record=b'{"s":"a"}', **kw)


async def test_commits_move_tallies_and_reads_filter_by_prefix(store):
    await store.commit(commit("u1", 0, tallies={"state:a": 1, "entered:a:20261130": 1}))
    await store.commit(commit("u2", 0, tallies={"state:a": 1, "entered:a:20261130": 1}))
    await store.commit(commit("u1", 1, tallies={"state:a": -1, "state:b": 1}))
    assert await store.tallies("state:") == {"state:a": 1, "state:b": 1}
    assert await store.tallies("entered:") == {"entered:a:20261130": 2}
    assert len(await store.tallies()) == 3


async def test_a_conflicting_commit_moves_no_tally(store):
    await store.commit(commit("u1", 0, tallies={"state:a": 1}))
    with pytest.raises(ConflictError):
        await store.commit(commit("u1", 0, tallies={"state:a": 5}))
    assert await store.tallies("state:") == {"state:a": 1}


async def test_a_duplicate_commit_moves_no_tally(store):
    await store.commit(commit("u1", 0, dedupe_key="m:1", dedupe_result="x", tallies={"state:a": 1}))
    again = await store.commit(commit("u1", 1, dedupe_key="m:1", tallies={"state:a": 1}))
    assert not again.ok
    assert await store.tallies("state:") == {"state:a": 1}


async def test_concurrent_commits_of_many_customers_all_count(store):
    await asyncio.gather(*(store.commit(commit(f"u{i}", 0, tallies={"state:a": 1})) for i in range(60)))
    assert await store.tallies("state:") == {"state:a": 60}


async def test_reset_replaces_only_its_prefix(store):
    for i in range(5):
        await store.commit(commit(f"u{i}", 0, tallies={"state:a": 1, "entered:a:1": 1}))
    await store.reset_tallies("state:", {"state:a": 2, "state:c": 3})
    assert await store.tallies("state:") == {"state:a": 2, "state:c": 3}
    assert await store.tallies("entered:") == {"entered:a:1": 5}
    await store.commit(commit("u9", 0, tallies={"state:a": 1}))
    assert (await store.tallies("state:"))["state:a"] == 3
