"""Converting a namespace written before compact records (layout format 1) to this layout.

Format 1 kept, per shard, one hash of ``<version>|<record JSON>``, one sorted set of
``<quoted id>\\x1f<timer>`` -> due (seconds) and one set per segment entry. A store opened on
such a namespace refuses to run (a turn would not find its customer and start it afresh), and
names ``persona store-upgrade``, which calls :func:`upgrade` with the bot's processes stopped.

Versions are kept (outbox item ids carry them). Each shard is written in the new layout and
its old keys deleted in one transaction, and the layout marker is set last, so an interrupted
run is simply run again.
Dedupe keys, outbox, journal, tallies and dead letters keep their keys and are not touched.
"""

from __future__ import annotations

import re
from typing import Any

from . import records
from .layout import EVERYONE
from .store import SEP, RedisStore, quote, unquote

_GLOB = re.compile(r"([\\*?\[\]])")


async def legacy(store: RedisStore) -> bool:
    """Whether the namespace still holds customers in format 1."""
    return await store._legacy()


async def upgrade(store: RedisStore) -> int:
    """Convert every shard still in format 1; returns how many customers were converted.

    Each shard is written and its old keys deleted in one MULTI/EXEC (all its keys share the
    shard's hash tag, so this holds on a Redis Cluster too): a run stopped halfway leaves every
    shard either converted or untouched, and running it again converts the rest, counting each
    customer, segment entry and timer once.
    """
    layout, r = store.layout, store.redis
    await store.names.codes([EVERYONE])
    converted = 0
    for shard in range(layout.shards):
        old_records, old_timers = layout.key(shard, "c"), layout.key(shard, "t")
        segments: dict[str, list[str]] = {}
        seg_keys = [key async for key in r.scan_iter(match=_GLOB.sub(r"\\\1", layout.key(shard, "s:")) + "*",
                                                       count=1000)]
        if not seg_keys and not await r.exists(old_records, old_timers):
            continue  # converted by an earlier run, or never written
        for key in seg_keys:
            name = key.decode().split(":s:", 1)[1]
            async for uid in r.sscan_iter(key, count=1000):
                segments.setdefault(uid.decode(), []).append(name)
        timers: dict[str, dict[str, float]] = {}
        async for member, due in r.zscan_iter(old_timers, count=1000):
            quid, _, name = member.decode().partition(SEP)
            timers.setdefault(unquote(quid), {})[name] = due
        values: dict[str, bytes] = {}
        async for uid_b, value in r.hscan_iter(old_records, count=1000):
            uid = uid_b.decode()
            version, _, record = value.partition(b"|")
            codes = await store.names.codes(segments.get(uid, []))
            payload = await store.encode(record)
            values[uid] = records.envelope(int(version), payload is not None,
                                           [codes[s] for s in segments.get(uid, [])], payload or record)
        # gathered per key first, so a shard is a few commands per bucket inside its MULTI,
        # not a few per customer (a shard of 10⁵ customers would queue 10⁵ commands)
        hashes: dict[str, dict[str, bytes]] = {}
        counts: dict[str, dict[str, int]] = {}
        for uid, value in values.items():
            _, bucket = layout.place(uid)
            small = len(value) <= store.listpack_value and len(uid.encode()) <= store.listpack_value
            hashes.setdefault(layout.records(shard, bucket) if small else layout.big(shard, bucket), {})[uid] = value
            summary = counts.setdefault(layout.summary(shard, bucket), {})
            for segment in [EVERYONE, *segments.get(uid, [])]:
                code = str(store.names.code(segment))
                summary[code] = summary.get(code, 0) + 1
        members: dict[int, dict[Any, float]] = {}
        count = 0
        for uid, named in timers.items():
            _, bucket = layout.place(uid)
            codes = await store.names.codes(named)
            members.setdefault(bucket, {}).update(
                {f"{quote(uid)}{SEP}{codes[n]}": round(due * 1000) for n, due in named.items()})
            count += len(named)
        pipe = r.pipeline(transaction=True)
        for key, mapping in hashes.items():
            pipe.hset(key, mapping=mapping)
        for key, by_code in counts.items():
            for code, n in by_code.items():
                pipe.hincrby(key, code, n)
        for bucket, scored in members.items():
            pipe.zadd(layout.timers(shard, bucket), scored)
            pipe.zadd(layout.key(shard, "h"), {bucket: min(scored.values())}, lt=True)
        pipe.incrby(layout.key(shard, "tn"), count)
        pipe.delete(old_records, old_timers, *seg_keys)
        await pipe.execute()
        converted += len(values)
    await r.set(layout.wide("layout"), layout.marker())
    return converted
