"""The Redis store's compact layout: small records in listpack buckets, names as codes, data
written by an earlier layout converted rather than lost."""

from __future__ import annotations

import asyncio
from typing import AsyncIterator

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from persona.cli import main as cli
from persona.model.customer import Customer, Handoff, Timer
from persona.errors import StoreLayoutError
from persona.store import Commit
from persona.store.redis import RedisStore, records
from persona.store.redis.layout import EVERYONE
from tests.conftest import REDIS_URL, drop_namespace

TAGS = {"source": "parcel", "product": "lipstick", "discount": "coupon", "first_price": "99", "spend": "mid"}
NOW = 1_796_000_000.0


@pytest.fixture
async def store(namespace: str) -> AsyncIterator[RedisStore]:
    s = RedisStore(REDIS_URL, namespace)
    yield s
    await s.close()
    await drop_namespace(REDIS_URL, namespace)


def dormant(user: str) -> Customer:
    return Customer(user, "welcomed", tags=dict(TAGS), first_seen=NOW - 86400, last_seen=NOW,
                    timers={"recall": Timer(NOW + 30 * 86400)})


async def stored_value(store: RedisStore, user: str) -> tuple[str, bytes]:
    shard, bucket = store.layout.place(user)
    for key in (store.layout.records(shard, bucket), store.layout.big(shard, bucket)):
        value = await store.redis.hget(key, user)
        if value is not None:
            return key, value
    raise AssertionError(f"{user} is stored nowhere")


async def test_a_dormant_customer_is_a_listpack_entry_of_its_bucket(store):
    customer = dormant("o" + "1" * 27)
    await store.commit(Commit(customer.id, 0, customer.dump(), timers_set={"recall": NOW + 30 * 86400},
                              segments_add=sorted(customer.segments())))
    key, value = await stored_value(store, customer.id)
    assert len(value) <= 64 and len(value) < len(customer.dump()) / 2
    assert await store.redis.object("encoding", key) == b"listpack"
    loaded = await store.load(customer.id)
    assert (loaded.record, loaded.version) == (customer.dump(), 1)


RECORDS = [
    dormant("a").dump(),
    Customer("b", "claimed", tags={"in_group": "", "名字": "小完子"}, attrs={"plan": [1, 2], "x": None},
             counters={"pings": 3, "debt": -2}, first_seen=NOW, last_seen=NOW + 5, last_inbound=NOW + 4,
             last_outbound=NOW + 5, timers={"t1": Timer(NOW + 0.123, "claimed", {"n": 1}), "t2": Timer(7)},
             budget={"d": [1, 2]}, handoff=Handoff(NOW, "asked", NOW, NOW, "amy"), variants={"welcome": "b"},
             generation=2).dump(),
    Customer("c", "new").dump(),
    b'{"s":"a"}',
    b'{"n":0}',
    b'{"t":{},"s":"x"}',  # another key order
    b'{"s":"a","f":1.5}',  # a float timestamp
    b'{"s":"a","m":{"x":[1.23456,null]}}',  # a due finer than a millisecond
    b'{"s":"a","zz":1}',  # an unknown key
    b'{"s": "a"}',  # other spacing
    b"not json at all",
    b"",
]


@pytest.mark.parametrize("record", RECORDS)
async def test_every_record_reads_back_byte_for_byte(store, record):
    await store.commit(Commit("u1", 0, record))
    assert (await store.load("u1")).record == record
    await store.commit(Commit("u1", 1, record, segments_add=["state:a"]))
    assert (await store.load("u1")).record == record


def test_the_compact_form_is_taken_by_customer_records_only():
    assert records.encode(dormant("a").dump(), lambda name: 1)[0] is not None
    assert all(records.encode(r, lambda name: 1) == (None, []) for r in RECORDS[4:])


async def test_a_large_record_lives_apart_and_its_bucket_stays_a_listpack(store):
    small, large = dormant("o" + "2" * 27), dormant("o" + "2" * 26 + "3")
    await store.commit(Commit(small.id, 0, small.dump()))
    large.attrs = {"note": "x" * 300}
    await store.commit(Commit(large.id, 0, large.dump(), segments_add=["state:welcomed"]))
    key, _ = await stored_value(store, large.id)
    assert ":C:" in key
    small_key, _ = await stored_value(store, small.id)
    assert await store.redis.object("encoding", small_key) == b"listpack"
    large.attrs = {}
    await store.commit(Commit(large.id, 1, large.dump()))
    key, _ = await stored_value(store, large.id)
    assert ":C:" not in key and await store.redis.hlen(store.layout.big(*store.layout.place(large.id))) == 0
    assert (await store.load(large.id)).record == large.dump()
    assert await store.segment("state:welcomed") == {large.id}


async def test_processes_naming_new_states_at_once_agree_on_their_codes(namespace):
    stores = [RedisStore(REDIS_URL, namespace) for _ in range(4)]
    try:
        async def one(i: int, s: RedisStore) -> None:
            for j in range(20):
                c = Customer(f"u{i}-{j}", f"state{j % 7}", tags={f"tag{j % 5}": "v"})
                await s.commit(Commit(c.id, 0, c.dump(), segments_add=sorted(c.segments())))

        await asyncio.gather(*(one(i, s) for i, s in enumerate(stores)))
        fresh = RedisStore(REDIS_URL, namespace)  # learns every code from Redis
        for i in range(4):
            for j in range(20):
                raw = orjson.loads((await fresh.load(f"u{i}-{j}")).record)
                assert (raw["s"], raw["t"]) == (f"state{j % 7}", {f"tag{j % 5}": "v"})
        assert len(await fresh.segment("state:state3")) == 4 * 3
        await fresh.close()
        # states, their segment entries, and tag:tagN, tag:tagN=v (an indexed tag is written as
        # the code of its entry: its name needs none of its own)
        assert len(await stores[0].redis.hgetall(stores[0].names.key)) == 1 + 7 + 7 + 5 + 5  # and EVERYONE
    finally:
        for s in stores:
            await s.close()
        await drop_namespace(REDIS_URL, namespace)


async def test_a_namespace_opened_with_other_sizes_is_refused(store, namespace):
    await store.commit(Commit("u1", 0, b'{"s":"a"}'))
    other = RedisStore(REDIS_URL, namespace, buckets=16)
    with pytest.raises(StoreLayoutError, match="sizes it was written with"):
        await other.load("u1")
    await other.close()


async def write_format_1(r, namespace: str) -> None:
    """Customers as persona wrote them before compact records (one hash, one timer set and
    one set per segment entry per shard)."""
    from persona.store.redis.layout import Layout

    layout = Layout(namespace)
    for user, version, state in [("alice", 3, "welcomed"), ("b|ob", 1, "claimed"), ("carol", 7, "welcomed")]:
        shard, _ = layout.place(user)
        customer = Customer(user, state, tags={"source": "parcel"}, timers={"recall": Timer(NOW + 60)})
        await r.hset(layout.key(shard, "c"), user, f"{version}|".encode() + customer.dump())
        await r.zadd(layout.key(shard, "t"), {f"{user.replace('|', '%7C')}\x1frecall": NOW + 60})
        for segment in customer.segments():
            await r.sadd(layout.key(shard, f"s:{segment}"), user)


async def test_data_in_the_layout_before_compact_records_is_refused_then_converted(store, namespace, capsys):
    await write_format_1(store.redis, namespace)
    with pytest.raises(StoreLayoutError, match="persona store-upgrade"):
        await store.ping()  # what persona serve and persona worker ask first
    with pytest.raises(StoreLayoutError, match="persona store-upgrade"):
        await store.load("alice")
    assert await asyncio.to_thread(cli, ["store-upgrade", "bots.xiaowanzi", "--store", REDIS_URL,
                                         "--namespace", namespace]) == 0
    assert "3 customers converted" in capsys.readouterr().out
    store = RedisStore(REDIS_URL, namespace)
    try:
        loaded = await store.load("b|ob")
        assert loaded.version == 1 and Customer.load("b|ob", loaded.record, 1).timers["recall"].due == NOW + 60
        assert (await store.load("carol")).version == 7
        assert await store.segment("state:welcomed", "tag:source=parcel") == {"alice", "carol"}
        assert await store.pending_timers("b|ob") == {"recall": NOW + 60}
        assert await store.count_timers() == 3
        assert sorted(u for u, _, _ in await store.claim_timers(NOW + 60, 10, 30)) == ["alice", "b|ob", "carol"]
        assert (await store.commit(Commit("alice", 3, b'{"s":"claimed"}', timers_del=["recall"]))).ok
        assert await store.users() == ["alice", "b|ob", "carol"]
    finally:
        await store.close()
    assert await asyncio.to_thread(cli, ["store-upgrade", "bots.xiaowanzi", "--store", REDIS_URL,
                                         "--namespace", namespace]) == 0
    assert "nothing to convert" in capsys.readouterr().out


async def summed(store: RedisStore, segment: str) -> int:
    """How many customers the segment summaries count in ``segment``, over every chunk."""
    layout, code = store.layout, str(store.names.code(segment))
    keys = {layout.summary(s, b) for s in range(layout.shards) for b in range(layout.buckets)}
    return sum([int(await store.redis.hget(key, code) or 0) for key in keys])


async def test_an_upgrade_run_again_after_more_old_data_counts_each_timer_and_entry_once(store, namespace):
    """As after a run stopped halfway: some shards converted, one still holding old keys."""
    from persona.store.redis.layout import Layout
    from persona.store.redis.legacy import upgrade

    await write_format_1(store.redis, namespace)
    assert await upgrade(store) == 3
    layout = Layout(namespace)
    shard, _ = layout.place("dave")  # written in the old layout after the first run
    dave = Customer("dave", "welcomed", tags={"source": "parcel"}, timers={"recall": Timer(NOW + 90)})
    await store.redis.hset(layout.key(shard, "c"), "dave", b"2|" + dave.dump())
    await store.redis.zadd(layout.key(shard, "t"), {"dave\x1frecall": NOW + 90})
    for segment in dave.segments():
        await store.redis.sadd(layout.key(shard, f"s:{segment}"), "dave")

    assert await upgrade(store) == 1  # only dave: the converted shards are left alone
    assert await store.count_timers() == 4  # the others' counts were not reset, dave's added once
    assert await store.segment("state:welcomed", "tag:source=parcel") == {"alice", "carol", "dave"}
    assert await upgrade(store) == 0
    assert await store.count_timers() == 4
    assert await summed(store, "state:welcomed") == 3  # alice, carol, dave: each counted once


async def test_an_upgrade_stopped_halfway_is_finished_by_running_it_again(store, namespace, monkeypatch):
    from redis.asyncio.client import Pipeline

    from persona.store.redis.legacy import upgrade

    await write_format_1(store.redis, namespace)
    shards = {store.layout.place(u)[0] for u in ("alice", "b|ob", "carol")}
    assert len(shards) > 1  # else nothing could stop between two shards
    execute, done = Pipeline.execute, []

    async def lost_on_the_second_shard(self, raise_on_error=True):
        if self.is_transaction:
            if done:
                raise ConnectionError("the connection dropped before EXEC")
            done.append(True)
        return await execute(self, raise_on_error)

    monkeypatch.setattr(Pipeline, "execute", lost_on_the_second_shard)
    with pytest.raises(ConnectionError):
        await upgrade(store)
    monkeypatch.setattr(Pipeline, "execute", execute)
    assert await upgrade(store) == 3 - sum(1 for u in ("alice", "b|ob", "carol")
                                           if store.layout.place(u)[0] == min(shards))
    assert await store.count_timers() == 3
    assert await store.segment("state:welcomed", "tag:source=parcel") == {"alice", "carol"}
    assert await summed(store, "state:welcomed") == 2 and await summed(store, "tag:source=parcel") == 3
    assert sorted(u for u, _, _ in await store.claim_timers(NOW + 60, 10, 30)) == ["alice", "b|ob", "carol"]


async def test_segment_summaries_count_exactly_what_the_records_carry(store):
    import random

    rng = random.Random(7)
    users = [f"u{i}" for i in range(300)]
    versions = dict.fromkeys(users, 0)
    members: dict[str, set[str]] = {u: set() for u in users}
    names = ["state:a", "state:b", "handoff", "tag:vip"]
    for _ in range(1500):
        user = rng.choice(users)
        add = rng.sample(names, rng.randint(0, 2))  # sometimes what the record already carries
        remove = [n for n in rng.sample(names, rng.randint(0, 2)) if n not in add]  # sometimes what it lacks
        await store.commit(Commit(user, versions[user], b'{"s":"x"}', segments_add=add, segments_del=remove))
        versions[user] += 1
        members[user] = (members[user] | set(add)) - set(remove)
    assert await store.users() == sorted(u for u in users if versions[u])
    for name in names:
        assert await store.segment(name) == {u for u in users if name in members[u]}
    assert await store.segment("state:a", "tag:vip") == {u for u in users if {"state:a", "tag:vip"} <= members[u]}
    layout = store.layout
    expected: dict[str, dict[bytes, bytes]] = {}
    for user in [u for u in users if versions[u]]:  # a customer never committed is nowhere
        shard, bucket = layout.place(user)
        counts = expected.setdefault(layout.summary(shard, bucket), {})
        for name in [EVERYONE, *members[user]]:
            code = str(store.names.code(name)).encode()
            counts[code] = str(int(counts.get(code, b"0")) + 1).encode()
    for key, counts in expected.items():
        assert await store.redis.hgetall(key) == counts, key


_json = st.recursive(st.none() | st.booleans() | st.integers(-2**63, 2**63 - 1)
                     | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8),
                     lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
                     max_leaves=8)


@settings(max_examples=300, deadline=None)
@given(attrs=st.dictionaries(st.text(max_size=6), _json, max_size=4),
       budget=st.dictionaries(st.sampled_from(["d", "w", "md", "mm"]), st.tuples(st.text(max_size=8), st.integers(0, 9))
                              .map(list), max_size=4),
       data=st.none() | st.dictionaries(st.text(max_size=4), _json, max_size=3),
       reason=st.text(max_size=10))
def test_attributes_budget_handoff_and_timer_data_read_back_byte_for_byte(attrs, budget, data, reason):
    customer = Customer("u", "s", attrs=attrs, budget=budget, first_seen=NOW,
                        handoff=Handoff(NOW, reason, NOW + 1, None, reason or None),
                        timers={"t": Timer(NOW + 1.5, None, data)})
    record = customer.dump()
    codes: dict[str, int] = {}
    payload, missing = records.encode(record, codes.get)
    for name in missing:
        codes.setdefault(name, len(codes))
    payload, missing = records.encode(record, codes.get)
    assert payload is not None and not missing
    names = {c: n for n, c in codes.items()}
    assert records.decode(payload, names.__getitem__) == record


def test_attributes_written_as_json_by_the_first_compact_form_still_read():
    out = bytearray()
    records.varint(1 << records.BITS["a"], out)
    records.varint(0, out)
    blob = b'{"plan":"A","n":1.5}'
    records.varint(len(blob), out)
    out += blob
    assert records.decode(bytes(out), {0: "welcomed"}.__getitem__) == b'{"s":"welcomed","a":{"plan":"A","n":1.5}}'


async def test_a_turn_cancelled_while_naming_does_not_cancel_the_others_asking(store):
    """Turns asking for the same new name share one request; cancelling one (shutdown) leaves
    the request, and the others' answers, alone."""
    first = asyncio.ensure_future(store.names.codes(["brand-new-state"]))
    second = asyncio.ensure_future(store.names.codes(["brand-new-state"]))
    await asyncio.sleep(0)
    first.cancel()
    code = (await second)["brand-new-state"]
    assert first.cancelled()
    assert (await store.names.codes(["brand-new-state"]))["brand-new-state"] == code


async def test_a_code_the_dictionary_lost_is_named_as_such_for_records_and_timers_alike(store, namespace):
    customer = Customer("u1", "welcomed", tags={"vip": ""}, timers={"recall": Timer(NOW + 60)})
    assert (await store.commit(Commit("u1", 0, customer.dump(), timers_set={"recall": NOW + 60}))).ok
    # as after a failover to a replica the dictionary's latest writes never reached
    await store.redis.hdel(store.names.key, "welcomed", "recall")
    fresh = RedisStore(REDIS_URL, namespace)
    try:
        with pytest.raises(StoreLayoutError, match=r"a record names code \d+ that the namespace's dictionary"):
            await fresh.load("u1")
        with pytest.raises(StoreLayoutError, match=r"a timer names code \d+ that the namespace's dictionary"):
            await fresh.pending_timers("u1")
    finally:
        await fresh.close()
