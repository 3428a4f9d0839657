"""Benchmark 3: Redis bytes per dormant customer, against a bare HASH of the same fields.

A dormant customer has a state, five tags, two timestamps and one pending timer (its dedupe
keys and journal have expired). ``--customers`` of them (default 10⁶) are written through
``RedisStore.commit`` (pipelined, see ``benchmarks/_seed.py``) into a private redis-server;
``used_memory`` before and after, divided by the count, is the figure. Then the same
customers as one bare HASH each (``state``, five tag fields, two timestamps, the timer's due
time) in another database of the same server.

``MEMORY USAGE`` of the store's keys shows where the bytes go: record buckets (records carry
their segment entries), big records, timer buckets, timer heads. A ``segment()`` query over all
of them is timed too: the state index is the records themselves, scanned in Redis.

Targets: ≤ 200 bytes per customer, and ≤ 2× the bare HASH.

Run: ``python -m benchmarks.memory [--customers 1000000] [--quick]``
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

from benchmarks._common import LOAD_CPU, RedisServer, customer_id, header, unique, verdict
from benchmarks._seed import TAGS, bulk_commit, dormant


async def _ours(url: str, namespace: str, n: int) -> None:
    from persona.store import open_store

    store = open_store(url, namespace)
    now = time.time()
    try:
        await bulk_commit(store, (dormant(customer_id(i), "a" if i % 3 else "b", now) for i in range(n)),  # type: ignore[arg-type]
                          chunk=2000)
    finally:
        await store.close()


async def _segment(url: str, namespace: str) -> tuple[int, float]:
    """``segment("state:b")`` over everyone: (customers found, seconds)."""
    from persona.store import open_store

    store = open_store(url, namespace)
    try:
        started = time.perf_counter()
        found = await store.segment("state:b")
        return len(found), time.perf_counter() - started
    finally:
        await store.close()


async def _bare(url: str, n: int) -> None:
    import redis.asyncio as aioredis

    client = aioredis.from_url(url)
    now = int(time.time())
    try:
        pipe = client.pipeline(transaction=False)
        for i in range(n):
            pipe.hset(f"c:{customer_id(i)}", mapping={"state": "a" if i % 3 else "b", **TAGS, "first_seen": now - 86400,
                                                     "last_seen": now, "timer_tick": now + 30 * 86400})
            if i % 2000 == 1999:
                await pipe.execute()
        await pipe.execute()
    finally:
        await client.aclose()


#: what each kind of key of the store holds (see persona/store/redis/layout.py)
KINDS = {"c": "record buckets", "C": "big records", "t": "timer buckets", "h": "timer heads",
         "tn": "timer counts", "sc": "segment summaries", "names": "names dictionary", "layout": "layout marker"}


def _breakdown(redis: RedisServer, namespace: str) -> dict[str, int]:
    """Bytes per kind of key (``MEMORY USAGE ... SAMPLES 0``: every element counted)."""
    import redis as redis_sync

    client = redis_sync.Redis(port=redis.port)
    out: dict[str, int] = {}
    try:
        for key in client.scan_iter(match=f"p:{{{namespace}*", count=1000):
            kind = key.decode().split("}:", 1)[1].split(":", 1)[0]
            kind = KINDS.get(kind, kind)
            out[kind] = out.get(kind, 0) + int(client.memory_usage(key, samples=0) or 0)
    finally:
        client.close()
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--customers", type=int, default=1_000_000, help="dormant customers (default 10^6)")
    p.add_argument("--quick", action="store_true", help="a tiny run that only proves it works")
    args = p.parse_args(argv)
    if args.quick:
        args.customers = 20_000
    n = args.customers
    header("Redis memory per dormant customer (state + 5 tags + 2 timestamps + 1 pending timer)")
    with RedisServer(cpu=LOAD_CPU) as redis:
        namespace = f"bench{unique()}"
        before = redis.used_memory()
        started = time.perf_counter()
        asyncio.run(_ours(redis.url(0), namespace, n))
        seconds = time.perf_counter() - started
        ours = (redis.used_memory() - before) / n
        parts = _breakdown(redis, namespace)
        found, scan = asyncio.run(_segment(redis.url(0), namespace))
        redis.cli("FLUSHALL")
        before = redis.used_memory()
        asyncio.run(_bare(redis.url(1), n))
        bare = (redis.used_memory() - before) / n
    print(f"{n} customers written through RedisStore.commit in {seconds:.1f} s ({n / seconds:.0f}/s)")
    print(f"persona RedisStore:        {ours:7.1f} bytes/customer")
    for kind, size in sorted(parts.items(), key=lambda kv: -kv[1]):
        print(f"  {kind:<22} {size / n:7.1f} bytes/customer (MEMORY USAGE)")
    print(f"segment('state:b'): {found} of {n} customers in {scan:.2f} s ({n / scan:.0f} records scanned/s)")
    print(f"bare HASH of the fields:   {bare:7.1f} bytes/customer")
    print(verdict("bytes per dormant customer", ours, 200, at_most=True, unit=" B"))
    print(verdict("persona / bare HASH", ours / bare, 2.0, at_most=True))
    return {"ours": ours, "bare": bare, "parts": {k: v / n for k, v in parts.items()}, "segment_s": scan}


if __name__ == "__main__":
    main()
