"""One suite, three backends: every store keeps the same promises."""

from __future__ import annotations

import asyncio
import time
import zlib

import pytest

from persona.errors import ConflictError
from persona.store import Commit, OutboxItem


def commit(user: str, version: int, record: bytes = b'{"s":"new"}', **kw) -> Commit:
    return Commit(user=user, expected_version=version, record=record, **kw)


async def test_unknown_customer_loads_empty(store):
    loaded = await store.load("nobody", "m:1")
    assert loaded.record is None and loaded.version == 0 and loaded.duplicate is None


async def test_commit_then_load_round_trips_and_bumps_version(store):
    assert (await store.commit(commit("u1", 0, b'{"s":"a"}'))).ok
    loaded = await store.load("u1")
    assert loaded.record == b'{"s":"a"}' and loaded.version == 1
    assert (await store.commit(commit("u1", 1, b'{"s":"b"}'))).ok
    assert (await store.load("u1")).version == 2
    assert await store.users() == ["u1"]


async def test_stale_version_is_a_conflict_and_writes_nothing(store):
    await store.commit(commit("u1", 0, b'{"s":"a"}'))
    with pytest.raises(ConflictError):
        await store.commit(commit("u1", 0, b'{"s":"lost"}', timers_set={"x": 1.0},
                                  outbox=[OutboxItem("u1:9:0", "u1", 0, "{}")]))
    loaded = await store.load("u1")
    assert loaded.record == b'{"s":"a"}'
    assert await store.pending_timers("u1") == {}
    assert await store.outbox_size() == 0


async def test_dedupe_key_is_scoped_to_the_customer_and_returns_first_result(store):
    assert (await store.commit(commit("u1", 0, dedupe_key="m:42", dedupe_result="first"))).ok
    assert (await store.load("u1", "m:42")).duplicate == "first"
    # the same MsgId from another customer is another message
    assert (await store.load("u2", "m:42")).duplicate is None
    again = await store.commit(commit("u1", 1, dedupe_key="m:42", dedupe_result="second"))
    assert not again.ok and again.duplicate == "first"
    assert (await store.load("u1")).version == 1


async def test_concurrent_commits_on_one_version_only_one_wins(store):
    await store.commit(commit("u1", 0))
    results = await asyncio.gather(*(store.commit(commit("u1", 1, f'{{"s":"{i}"}}'.encode()))
                                     for i in range(10)), return_exceptions=True)
    assert sum(1 for r in results if not isinstance(r, Exception)) == 1
    assert all(isinstance(r, ConflictError) for r in results if isinstance(r, Exception))
    assert (await store.load("u1")).version == 2


async def test_timers_claim_with_lease_and_delete_on_commit(store):
    await store.commit(commit("u1", 0, timers_set={"a": 100.0, "b": 200.0, "later": 10_000.0}))
    await store.commit(commit("u2", 0, timers_set={"a": 150.0}))
    assert await store.count_timers() == 4
    claimed = await store.claim_timers(now=300.0, limit=10, lease=30.0)
    assert sorted((u, n) for u, n, _ in claimed) == [("u1", "a"), ("u1", "b"), ("u2", "a")]
    assert dict(((u, n), d) for u, n, d in claimed)[("u1", "a")] == 100.0
    # leased: hidden until the lease runs out, then claimable again (the claimer died)
    assert await store.claim_timers(now=310.0, limit=10, lease=30.0) == []
    again = await store.claim_timers(now=331.0, limit=10, lease=30.0)
    assert len(again) == 3
    await store.commit(commit("u1", 1, timers_del=["a", "b"]))
    assert set((await store.pending_timers("u1"))) == {"later"}
    # rescheduling a leased timer makes it due at its new time
    await store.commit(commit("u2", 1, timers_set={"a": 5000.0}))
    assert await store.claim_timers(now=4000.0, limit=10, lease=30.0) == []
    assert [(u, n) for u, n, _ in await store.claim_timers(now=5000.0, limit=10, lease=30.0)] == [("u2", "a")]


async def test_claim_respects_the_limit(store):
    for i in range(25):
        await store.commit(commit(f"u{i}", 0, timers_set={"t": float(i)}))
    first = await store.claim_timers(now=100.0, limit=10, lease=60.0)
    second = await store.claim_timers(now=100.0, limit=100, lease=60.0)
    assert len(first) == 10 and len(second) == 15
    assert not {(u, n) for u, n, _ in first} & {(u, n) for u, n, _ in second}


async def test_outbox_claim_ack_retry_and_dead_letters(store):
    now = time.time()
    items = [OutboxItem("u1:1:0", "u1", now - 1, '{"n":0}'), OutboxItem("u1:1:1", "u1", now + 3600, '{"n":1}')]
    await store.commit(commit("u1", 0, outbox=items))
    assert await store.outbox_size() == 2
    claimed = await store.claim_outbox(now, 10, lease=60)
    assert [i.id for i in claimed] == ["u1:1:0"] and claimed[0].payload == '{"n":0}'
    assert await store.claim_outbox(now, 10, lease=60) == []
    await store.retry_outbox(claimed[0], now + 5)
    assert await store.claim_outbox(now + 1, 10, lease=60) == []
    retried = await store.claim_outbox(now + 6, 10, lease=60)
    assert [(i.id, i.attempts) for i in retried] == [("u1:1:0", 1)]
    await store.ack_outbox(retried[0])
    assert await store.outbox_size() == 1
    await store.add_dead_letter(retried[0], "45015 window closed")
    dead = await store.dead_letters()
    assert [(i.id, reason) for i, reason in dead] == [("u1:1:0", "45015 window closed")]
    back = await store.remove_dead_letter("u1:1:0")
    assert back is not None and back.payload == '{"n":0}'
    assert await store.dead_letters() == [] and await store.remove_dead_letter("u1:1:0") is None


async def test_a_dead_letter_is_requeued_atomically_with_attempts_reset(store):
    now = time.time()
    item = OutboxItem("group:wr1:3:0", "group:wr1", now, '{"n":1}', attempts=5)
    await store.add_dead_letter(item, "retries_exhausted")
    back = await store.requeue_dead_letter("group:wr1:3:0", now + 10)
    assert back is not None and (back.user, back.payload, back.attempts) == ("group:wr1", '{"n":1}', 0)
    assert await store.dead_letters() == []
    assert await store.requeue_dead_letter("group:wr1:3:0", now) is None
    assert await store.claim_outbox(now + 5, 10, lease=60) == []
    [claimed] = await store.claim_outbox(now + 10, 10, lease=60)
    assert (claimed.id, claimed.user, claimed.payload, claimed.attempts) == ("group:wr1:3:0", "group:wr1", '{"n":1}', 0)


async def test_outbox_ids_may_name_group_users(store):
    now = time.time()
    await store.commit(commit("group:wr123", 0, outbox=[OutboxItem("group:wr123:1:0", "group:wr123", now, "{}")]))
    claimed = await store.claim_outbox(now, 10, lease=60)
    assert [(i.id, i.user) for i in claimed] == [("group:wr123:1:0", "group:wr123")]


async def test_segments_follow_commits(store):
    await store.commit(commit("u1", 0, segments_add=["state:new", "tag:in_group"]))
    await store.commit(commit("u2", 0, segments_add=["state:new"]))
    await store.commit(commit("u3", 0, segments_add=["state:buyer", "tag:in_group"]))
    assert await store.segment("state:new") == {"u1", "u2"}
    assert await store.segment("state:new", "tag:in_group") == {"u1"}
    await store.commit(commit("u1", 1, segments_add=["state:buyer"], segments_del=["state:new"]))
    assert await store.segment("state:buyer", "tag:in_group") == {"u1", "u3"}
    assert await store.segment("state:nothing") == set()


async def test_journal_is_capped(store):
    for v in range(5):
        await store.commit(commit("u1", v, journal=[f"line{v}a", f"line{v}b"], journal_cap=4))
    assert await store.journal("u1") == ["line3a", "line3b", "line4a", "line4b"]
    assert await store.journal("u1", limit=1) == ["line4b"]


async def test_set_if_absent_ttl_and_guarded_delete(store):
    assert await store.set_if_absent("lock", "me", ttl=0.2)
    assert not await store.set_if_absent("lock", "you", ttl=0.2)
    assert await store.get("lock") == "me"
    assert not await store.delete("lock", "you")
    assert await store.delete("lock", "me")
    assert await store.set_if_absent("lock", "you", ttl=0.05)
    await asyncio.sleep(0.1)
    assert await store.get("lock") is None
    assert await store.set_if_absent("lock", "again", ttl=1)
    await store.put("token", "abc", ttl=60)
    assert await store.get("token") == "abc"
    await store.put("token", "def")
    assert await store.get("token") == "def"


async def test_only_the_holder_of_a_lease_extends_it_and_only_while_it_lasts(store):
    assert await store.set_if_absent("lease", "me", ttl=0.5)
    assert not await store.extend("lease", "you", ttl=5)
    assert await store.extend("lease", "me", ttl=1.5)
    await asyncio.sleep(0.8)  # past the first ttl, well inside the extended one
    assert await store.get("lease") == "me"
    await asyncio.sleep(1.2)
    assert await store.get("lease") is None
    assert not await store.extend("lease", "me", ttl=5)  # ran out: not brought back
    assert await store.set_if_absent("lease", "you", ttl=5)
    assert not await store.extend("lease", "me", ttl=5)  # taken: the old holder cannot take it back
    assert await store.get("lease") == "you"


async def test_counters_and_leaderboards(store):
    assert await store.incr("sent") == 1
    assert await store.incr("sent", 4) == 5
    await store.zincr("week", "alice", 3)
    await store.zincr("week", "bob", 5)
    assert await store.zincr("week", "alice", 4) == 7
    assert await store.ztop("week", 1) == [("alice", 7.0)]
    assert await store.ztop("week", 5) == [("alice", 7.0), ("bob", 5.0)]
    await store.zdelete("week")
    assert await store.ztop("week", 5) == []


async def test_a_leaderboard_expires_its_ttl_after_its_first_score(store):
    await store.zincr("day", "alice", 3, ttl=1)
    await store.zincr("forever", "alice", 3)
    await asyncio.sleep(0.5)
    assert await store.zincr("day", "bob", 1, ttl=1) == 1  # a later score does not extend it
    await asyncio.sleep(0.7)
    assert await store.ztop("day", 5) == []
    assert await store.ztop("forever", 5) == [("alice", 3.0)]
    assert await store.zincr("day", "alice", 2, ttl=1) == 2  # a new board, from nothing


async def test_ping_answers_and_an_unreachable_backend_is_store_unavailable(store):
    from persona.errors import StoreUnavailable
    from persona.store import open_store

    await store.ping()
    if store.url.startswith("redis://"):
        gone = open_store("redis://127.0.0.1:1/0", "nobody")
        with pytest.raises(StoreUnavailable, match="unreachable"):
            await gone.ping()
        await gone.close()
    elif store.url.startswith("sqlite"):
        with pytest.raises(StoreUnavailable, match="cannot open"):
            open_store("sqlite:////proc/no-such-dir/p.db", "nobody")


async def test_next_due_times_for_the_simulator(store):
    assert await store.next_timer_due() is None and await store.next_outbox_due() is None
    await store.commit(commit("u1", 0, timers_set={"a": 500.0, "b": 300.0},
                              outbox=[OutboxItem("u1:1:0", "u1", 700.0, "{}")]))
    await store.commit(commit("u2", 0, timers_set={"c": 400.0}))
    assert await store.next_timer_due() == 300.0
    assert await store.next_outbox_due() == 700.0
    await store.claim_timers(now=300.0, limit=10, lease=1000.0)
    assert await store.next_timer_due() == 400.0


# -- ids a store must keep apart, whatever characters they hold ----------------------------
# `|` is legal in a FromUserName, and the events API takes any string as a user id: no
# separator a backend uses inside a key or a value may break one customer's data into another's.
SEPARATORS = ["|", "\x1f", ":", "%", "%7C", "%1F", "%25", "*", "?", "[", "]", "\\", "{", "}", "=", "@", " ", "/"]
CONTROLS = [chr(c) for c in range(32)] + ["\x7f"]
STRANGE_IDS = ([f"victim{s}day7" for s in SEPARATORS] + [f"u{c}x" for c in CONTROLS]
               + ["".join(SEPARATORS + CONTROLS), "*", "用户|一\x1f二", "p:{t.0}:c", "group:wr1:3:0"])


async def test_strange_ids_round_trip_through_records_dedupe_segments_and_journal(store):
    for n, user in enumerate(STRANGE_IDS):
        record = f'{{"n":{n}}}'.encode()
        assert (await store.commit(commit(user, 0, record, dedupe_key="m:1", dedupe_result=f"r{n}",
                                          segments_add=["state:odd"], journal=[f"line{n}"]))).ok
    for n, user in enumerate(STRANGE_IDS):
        loaded = await store.load(user, "m:1")
        assert (loaded.record, loaded.version, loaded.duplicate) == (f'{{"n":{n}}}'.encode(), 1, f"r{n}"), repr(user)
        assert await store.journal(user) == [f"line{n}"], repr(user)
    assert sorted(await store.users()) == sorted(STRANGE_IDS)
    assert await store.segment("state:odd") == set(STRANGE_IDS)


async def test_a_dedupe_key_cannot_be_borrowed_across_a_separator(store):
    # two ids Redis puts in one shard (crc32 mod 16), so their keys would share a hash slot
    victim = next(f"a{k}" for k in range(10_000)
                  if zlib.crc32(f"a{k}".encode()) % 16 == zlib.crc32(f"a{k}\x1fbiz:1".encode()) % 16)
    await store.commit(commit(f"{victim}\x1fbiz:1", 0, dedupe_key="biz:2", dedupe_result="theirs"))
    assert (await store.load(victim, "biz:1\x1fbiz:2")).duplicate is None
    assert (await store.commit(commit(victim, 0, dedupe_key="biz:1\x1fbiz:2", dedupe_result="mine"))).ok
    assert (await store.load(victim, "biz:1\x1fbiz:2")).duplicate == "mine"


async def test_strange_ids_keep_their_timers(store):
    for user in STRANGE_IDS:
        await store.commit(commit(user, 0, timers_set={"recall": 100.0, "day7": 5000.0}))
    await store.commit(commit("victim", 0, timers_set={"recall": 100.0}))
    claimed = await store.claim_timers(now=200.0, limit=1000, lease=30.0)
    assert sorted((u, n) for u, n, _ in claimed) == sorted([(u, "recall") for u in [*STRANGE_IDS, "victim"]])
    for user in STRANGE_IDS:  # a glob character in an id matches nobody else's timers
        assert set(await store.pending_timers(user)) == {"recall", "day7"}, repr(user)
        await store.commit(commit(user, 1, timers_del=["recall", "day7"]))
    assert set(await store.pending_timers("victim")) == {"recall"}
    assert await store.count_timers() == 1


async def test_strange_ids_keep_their_outbox_items_through_retries_and_dead_letters(store):
    now = time.time()
    for n, user in enumerate(STRANGE_IDS):
        await store.commit(commit(user, 0, outbox=[OutboxItem(f"{user}:1:0", user, now - 1, f'{{"n":{n}}}')]))
    expected = sorted((f"{u}:1:0", u, f'{{"n":{n}}}') for n, u in enumerate(STRANGE_IDS))
    claimed = await store.claim_outbox(now, 1000, lease=60)
    assert sorted((i.id, i.user, i.payload) for i in claimed) == expected
    for item in claimed:
        await store.retry_outbox(item, now + 5)
    again = await store.claim_outbox(now + 6, 1000, lease=60)
    assert sorted((i.id, i.user, i.payload, i.attempts) for i in again) == [(*e, 1) for e in expected]
    for item in again:
        await store.ack_outbox(item)
        await store.add_dead_letter(item, "retries_exhausted")
    assert sorted((i.id, i.user, i.payload) for i, _ in await store.dead_letters()) == expected
    for item_id, _, _ in expected:
        assert (await store.requeue_dead_letter(item_id, now + 10)) is not None
    back = await store.claim_outbox(now + 10, 1000, lease=60)
    assert sorted((i.id, i.user, i.payload, i.attempts) for i in back) == [(*e, 0) for e in expected]
