"""Benchmark 5: a broadcast to a segment — select, gate, enqueue — in customers per second.

``--sizes`` segments (default 10⁴ and 10⁶ customers in state ``a``, beside a tenth as many in
state ``b`` that the segment leaves out) are written into a private redis-server through the
store's own commit (``benchmarks/_seed.py``). Each is then broadcast the ``sale`` script of
``benchmarks.benchpersona`` through the path ``persona broadcast`` takes
(``persona.cli.broadcast``: :func:`select` the segment, then :func:`broadcast`, one turn per
customer through the gate, its message committed to the outbox with the turn). The rate is the
segment's size over the time from the segment read to the last commit; the measuring process
runs on core 0, Redis on core 1.

Afterwards every customer of the segment must have exactly one outbox item and one journal
line for the broadcast, and nobody outside it any; the smallest size is broadcast again under
the same id, which must reach nobody twice.

Targets: ≥ 10 000 customers/s, and the largest size's rate within 1.2× of the smallest's.

``--processes N`` runs ``persona broadcast --processes N`` instead (not pinned: the processes
share every core, Redis's too).

Run: ``python -m benchmarks.broadcast [--sizes 10000,1000000] [--concurrency N] [--processes N] [--quick]``
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import sys
import time
from collections import Counter
from typing import Any

from benchmarks._common import LOAD_CPU, SERVER_CPU, RedisServer, customer_id, header, unique, verdict

SCRIPT = "sale"
SEGMENT = "state:a"
TARGET = 10_000.0


def pin(cpu: int) -> None:
    """Keep this process on ``cpu`` (as the servers of the other benchmarks are kept)."""
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) >= 2:
        os.sched_setaffinity(0, {cpu})


def reachable(user: str, state: str, now: float) -> Any:
    """A dormant customer (``benchmarks/_seed.py``) who wrote an hour ago: the Official Account's
    48-hour window is open, so a broadcast reaches them (or waits for the end of quiet hours)."""
    from benchmarks._seed import dormant
    from persona.model.customer import Customer
    from persona.engine.gate import Budget

    commit = dormant(user, state, now)
    customer = Customer.load(user, commit.record, 0)
    customer.budget[Budget.KF_CHAT] = [now - 3600, 0]
    commit.record = customer.dump()
    return commit


async def seed(url: str, namespace: str, size: int) -> None:
    """``size`` customers in state ``a`` and a tenth as many in ``b``, interleaved."""
    from benchmarks._seed import bulk_commit
    from persona.store import open_store

    store = open_store(url, namespace)
    now = time.time()
    outside = size // 10
    try:
        await bulk_commit(store, (reachable(customer_id(i), "b" if i % 11 == 10 and i // 11 < outside else "a", now)  # type: ignore[arg-type]
                                  for i in range(size + outside)), chunk=2000)
    finally:
        await store.close()


def in_segment(size: int) -> set[str]:
    outside = size // 10
    return {customer_id(i) for i in range(size + outside) if not (i % 11 == 10 and i // 11 < outside)}


def cpu_seconds() -> float:
    """CPU of this process and of the processes it waited for (``--processes``)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


async def run_once(url: str, namespace: str, run_id: str, concurrency: int | None,
                   processes: int = 1) -> tuple[float, float, Any, int]:
    """One broadcast, as ``persona broadcast`` runs it: seconds, CPU seconds, tally, customers."""
    from benchmarks.benchpersona import Bench
    from persona.cli.broadcast import broadcast, broadcast_in_processes, broadcasting, parse_segment, select
    from persona.clock import Clock
    from persona.engine.runtime import Runtime
    from persona.store import open_store

    persona = broadcasting(Bench)()
    store = open_store(url, namespace)
    options = {} if concurrency is None else {"concurrency": concurrency}
    try:
        started, cpu = time.perf_counter(), cpu_seconds()
        users = await select(store, parse_segment(SEGMENT, Bench))
        if processes > 1:
            tally = await broadcast_in_processes(Bench.__module__, url, namespace, users, SCRIPT, run_id, {},
                                                 processes=processes, **options)
        else:
            tally = await broadcast(Runtime(persona, store, Clock()), users, SCRIPT, run_id, {}, **options)
        return time.perf_counter() - started, cpu_seconds() - cpu, tally, len(users)
    finally:
        await store.close()


async def check(url: str, namespace: str, size: int, run_id: str) -> list[str]:
    """Exactly one outbox item and one journal line per customer of the segment, none elsewhere."""
    from persona.store import open_store

    problems: list[str] = []
    expected = in_segment(size)
    store = open_store(url, namespace)
    try:
        items: Counter[str] = Counter()
        while True:
            claimed = await store.claim_outbox(time.time() + 7 * 86400, 10_000, 3600)
            if not claimed:
                break
            items.update(item.user for item in claimed if f'"script":"{SCRIPT}"' in item.payload)
        doubled = [u for u, n in items.items() if n > 1]
        missing = expected - set(items)
        strangers = set(items) - expected
        if doubled or missing or strangers:
            problems.append(f"outbox: {len(doubled)} customers with two items or more, {len(missing)} without, "
                            f"{len(strangers)} outside the segment")
        users = sorted(expected)
        wrong = 0
        for start in range(0, len(users), 2000):
            chunk = users[start:start + 2000]
            journals = await asyncio.gather(*(store.journal(u) for u in chunk))
            wrong += sum(1 for lines in journals if sum(_said(line) for line in lines) != 1)
        if wrong:
            problems.append(f"journal: {wrong} customers without exactly one line for the broadcast")
    finally:
        await store.close()
    return problems


def _said(line: str) -> bool:
    """A journal line recording the gate's decision on the broadcast's message."""
    return '"k":"out"' in line and f'"script":"{SCRIPT}"' in line


def redis_cpu(redis: RedisServer) -> float:
    info = dict(line.split(":", 1) for line in redis.cli("INFO", "cpu").splitlines() if ":" in line)
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="10000,1000000", help="segment sizes, comma-separated (default 10000,1000000)")
    p.add_argument("--concurrency", type=int, default=None,
                   help="customers at a time (default: persona broadcast's own default)")
    p.add_argument("--processes", type=int, default=1,
                   help="persona broadcast --processes: processes sharing the segment, not pinned (default 1)")
    p.add_argument("--quick", action="store_true", help="a tiny run that only proves it works")
    args = p.parse_args(argv)
    sizes = [200, 2000] if args.quick else [int(s) for s in args.sizes.split(",")]
    header("broadcast: select a segment → one turn per customer through the gate → outbox")
    if args.processes == 1:
        pin(SERVER_CPU)
    figures: dict[str, Any] = {}
    with RedisServer(cpu=LOAD_CPU) as redis:
        url = redis.url()
        where = f"on core {SERVER_CPU}" if args.processes == 1 else f"in {args.processes} processes, any core"
        print(f"segments of {', '.join(f'{s:,}' for s in sizes)} customers (+10 % outside) on a private "
              f"redis-server on core {LOAD_CPU}; broadcasting {where}", flush=True)
        for size in sizes:
            namespace = f"bcast{unique()}"
            began = time.perf_counter()
            asyncio.run(seed(url, namespace, size))
            print(f"  {size:>9,}: seeded in {time.perf_counter() - began:.1f} s", flush=True)
            run_id = f"bench-{unique()}"
            redis_before = redis_cpu(redis)
            seconds, cpu, tally, selected = asyncio.run(run_once(url, namespace, run_id, args.concurrency, args.processes))
            redis_used = redis_cpu(redis) - redis_before
            rate = size / seconds
            figures[size] = rate
            print(f"  {size:>9,}: {rate:9.0f} customers/s  ({seconds:.2f} s; client CPU {cpu / size * 1e6:.0f} µs, "
                  f"Redis CPU {redis_used / size * 1e6:.0f} µs per customer); sent {tally.sent}, "
                  f"deferred {tally.deferred}, dropped {dict(tally.dropped) or 0}, "
                  f"errors {sum(tally.errors.values())}", flush=True)
            problems = [] if selected == size else [f"the segment held {selected} customers, not {size}"]
            if tally.sent + tally.deferred != size:
                problems.append(f"{size - tally.sent - tally.deferred} customers got nothing")
            if size == sizes[0]:
                _, _, again, _ = asyncio.run(run_once(url, namespace, run_id, args.concurrency, args.processes))
                if again.done_before != size or again.sent or again.deferred:
                    problems.append(f"run again: {again.done_before} done before, {again.sent} sent again")
            began = time.perf_counter()
            problems += asyncio.run(check(url, namespace, size, run_id))
            print(f"  {size:>9,}: {'checked' if not problems else 'FAILED'}: one outbox item and one journal "
                  f"line per customer ({time.perf_counter() - began:.0f} s)", flush=True)
            if problems:
                for problem in problems:
                    print(f"  ERROR: {problem}")
                raise SystemExit(1)
            redis.cli("FLUSHALL")
    small, large = sizes[0], sizes[-1]
    figures["flat"] = figures[large] / figures[small]
    for size in (small, large):
        print(verdict(f"customers/s at {size:,}", figures[size], TARGET, unit="/s"))
    print(verdict(f"rate at {large:,} / rate at {small:,}", figures["flat"], round(1 / 1.2, 2)))
    return figures


if __name__ == "__main__":
    main()
    sys.exit(0)
