"""Benchmark 2: timers on Redis — firing rate per worker, against arq, and claim cost as they pile up.

1. **Fire rate.** ``--timers`` customers each have a no-op timer due now; one
   ``persona worker`` process (``benchmarks.benchpersona``, core 0) claims and fires them all:
   every one is a full turn (load, decide, commit that deletes the timer). The rate is taken
   between 5 % and 95 % fired, so start-up is left out. Target ≥ 10 000/s.
2. **arq.** The same number of deferred no-op jobs, due now, drained by one arq worker
   process (``max_jobs=64``, the scheduler's concurrency), measured the same way. Target:
   persona ≥ 10× arq. Skipped when arq is not installed.
3. **Claim cost.** Claim-only (nothing fires): batches of ``--claim-batch`` due timers from a
   store holding 10³ and one holding 10⁶ pending timers (2·10⁵ with ``--quick``), alternated
   over several rounds; client wall time per claimed timer and Redis' own time per claim
   script. Target: 10⁶ within 1.2× of 10³.

Run: ``python -m benchmarks.timers [--timers 100000] [--large 1000000] [--quick]``
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from typing import Any

from benchmarks._common import (LOAD_CPU, PYTHON, SERVER_CPU, RedisServer, cpu_seconds, customer_id, env,
                                header, spawn, stop, unique, verdict, workdir)

ARQ_WORKER = """
import sys
from arq.connections import RedisSettings
from arq.worker import run_worker

async def noop(ctx):
    return None

class Settings:
    functions = [noop]
    redis_settings = RedisSettings(host="127.0.0.1", port=int(sys.argv[1]))
    max_jobs = 64
    poll_delay = 0.05
    burst = True
    handle_signals = False

run_worker(Settings)
"""


async def _seed_due(url: str, namespace: str, n: int, due: float) -> None:
    from benchmarks._seed import bulk_commit, dormant
    from persona.store import open_store

    store = open_store(url, namespace)
    try:
        await bulk_commit(store, (dormant(customer_id(i), "a", due, due=due) for i in range(n)))  # type: ignore[arg-type]
    finally:
        await store.close()


def _count_keys(client: Any, keys: list[str]) -> int:
    """Timers left: arq's queue (a sorted set) or the store's per-shard timer counts."""
    pipe = client.pipeline(transaction=False)
    for key in keys:
        if key.endswith(":tn"):
            pipe.get(key)
        else:
            pipe.zcard(key)
    return int(sum(int(n or 0) for n in pipe.execute()))


def _drain(client: Any, keys: list[str], total: int, proc: Any, timeout: float) -> tuple[float, float]:
    """Poll until ``keys`` hold nothing; (seconds between 5 % and 95 % drained, overall seconds)."""
    low, high = total * 0.95, total * 0.05
    t_low = t_high = None
    started = time.perf_counter()
    deadline = started + timeout
    while True:
        left = _count_keys(client, keys)
        now = time.perf_counter()
        if t_low is None and left <= low:
            t_low = now
        if t_high is None and left <= high:
            t_high = now
        if left == 0:
            break
        if proc.poll() is not None:
            raise RuntimeError(f"the worker exited ({proc.returncode}) with {left} left")
        if now > deadline:
            raise RuntimeError(f"{left} of {total} left after {timeout:.0f} s")
        time.sleep(0.005)
    assert t_low is not None and t_high is not None
    return max(t_high - t_low, 1e-6), now - started


def fire_rate(redis: RedisServer, n: int, tmp: Any) -> dict[str, float]:
    import redis as redis_sync

    from persona.store.redis import RedisStore

    namespace = f"bench{unique()}"
    asyncio.run(_seed_due(redis.url(), namespace, n, time.time() - 1))
    client = redis_sync.Redis(port=redis.port)
    probe = RedisStore(redis.url(), namespace, client=client)  # for its key layout only
    shards = probe.shards
    keys = [probe._k(shard, "tn") for shard in range(shards)]
    assert _count_keys(client, keys) == n
    proc = spawn([PYTHON, "-m", "persona.worker", "benchmarks.benchpersona", "--store", redis.url(),
                  "--namespace", namespace, "--log-level", "WARNING"], cpu=SERVER_CPU,
                 environ=env(PERSONA_BENCH_NAME=namespace), log=tmp / "worker.log")
    try:
        before = cpu_seconds(proc.pid)
        window, overall = _drain(client, keys, n, proc, timeout=600)
        cpu = cpu_seconds(proc.pid) - before
    finally:
        stop(proc)
    client.close()
    fired = asyncio.run(_check_fired_once(redis.url(), namespace, n))
    return {"rate": 0.9 * n / window, "overall": n / overall, "cpu_us": cpu / n * 1e6, "fired": fired}


async def _check_fired_once(url: str, namespace: str, n: int) -> int:
    """Every customer was committed exactly twice: seeded (version 1), fired (version 2)."""
    from persona.store.redis import RedisStore

    store = RedisStore(url, namespace)
    versions: dict[int, int] = {}
    try:
        async for _, version, _ in store.records():
            versions[version] = versions.get(version, 0) + 1
    finally:
        await store.close()
    if versions != {2: n}:
        raise RuntimeError(f"timers did not fire exactly once: customers by version {versions}")
    return n


def arq_missing() -> str | None:
    try:
        import arq  # noqa: F401
    except ImportError:
        return "arq comparison skipped: arq is not installed (pip install arq into the venv, for the benchmark only)"
    return None


def arq_rate(redis: RedisServer, n: int) -> dict[str, float]:
    import redis as redis_sync
    from arq.constants import default_queue_name, job_key_prefix
    from arq.jobs import serialize_job

    client = redis_sync.Redis(port=redis.port)
    now_ms = int(time.time() * 1000)
    pipe = client.pipeline(transaction=False)
    for i in range(n):  # what ArqRedis.enqueue_job writes, without a round trip per job
        job_id = f"bench{i}"
        pipe.psetex(job_key_prefix + job_id, 86_400_000, serialize_job("noop", (), {}, None, now_ms))
        pipe.zadd(default_queue_name, {job_id: now_ms})
        if i % 2000 == 1999:
            pipe.execute()
    pipe.execute()
    proc = spawn([PYTHON, "-c", ARQ_WORKER, str(redis.port)], cpu=SERVER_CPU)
    try:
        before = cpu_seconds(proc.pid)
        window, overall = _drain(client, [default_queue_name], n, proc, timeout=900)
        cpu = cpu_seconds(proc.pid) - before
    finally:
        stop(proc)
    client.close()
    return {"rate": 0.9 * n / window, "overall": n / overall, "cpu_us": cpu / n * 1e6}


async def _claim_round(store: Any, claims: int, batch: int, lease: float, start: float) -> tuple[float, int]:
    """``claims`` claim calls, ``now`` moving past the lease each time so everything stays due."""
    now = start
    claimed = 0
    began = time.perf_counter()
    for _ in range(claims):
        claimed += len(await store.claim_timers(now, batch, lease))
        now += lease + 1
    return time.perf_counter() - began, claimed


def _eval_usec(redis: RedisServer) -> tuple[int, float]:
    for line in redis.cli("INFO", "commandstats").splitlines():
        if line.startswith("cmdstat_evalsha:"):
            fields = dict(kv.split("=") for kv in line.split(":", 1)[1].split(","))
            return int(fields["calls"]), float(fields["usec"])
    return 0, 0.0


async def _fill_timers(redis: RedisServer, namespace: str, n: int) -> None:
    """``n`` pending timers, long due, written through the store's commit (claim-only: the
    records are empty)."""
    from benchmarks._seed import bulk_commit
    from persona.store import Commit
    from persona.store.redis import RedisStore

    store = RedisStore(redis.url(), namespace)
    try:
        await bulk_commit(store, (Commit(customer_id(i), 0, b"", timers_set={"tick": 1_000_000.0 + i})
                                  for i in range(n)), chunk=2000)
    finally:
        await store.close()


def claim_cost(redis: RedisServer, small: int, large: int, batch: int, claims: int, rounds: int
               ) -> dict[str, Any]:
    from persona.store import open_store

    spaces = {small: f"small{unique()}", large: f"large{unique()}"}
    for size, namespace in spaces.items():
        asyncio.run(_fill_timers(redis, namespace, size))

    async def measure() -> dict[int, dict[str, list[float]]]:
        stores = {size: open_store(redis.url(), ns) for size, ns in spaces.items()}
        out: dict[int, dict[str, list[float]]] = {size: {"client": [], "redis": []} for size in stores}
        start = 2_000_000_000.0
        try:
            for store in stores.values():  # warm connections and the script cache
                await _claim_round(store, 20, batch, 60.0, start)
            for _ in range(rounds):
                for size, store in stores.items():
                    start += (claims + 1) * 61
                    redis.cli("CONFIG", "RESETSTAT")
                    seconds, claimed = await _claim_round(store, claims, batch, 60.0, start)
                    calls, usec = _eval_usec(redis)
                    out[size]["client"].append(seconds / claimed * 1e6)
                    out[size]["redis"].append(usec / max(calls, 1))
        finally:
            for store in stores.values():
                await store.close()
        return out

    return asyncio.run(measure())


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--timers", type=int, default=100_000, help="timers fired per system (default 100000)")
    p.add_argument("--small", type=int, default=1000, help="pending timers, small store (default 1000)")
    p.add_argument("--large", type=int, default=1_000_000, help="pending timers, large store (default 10^6)")
    p.add_argument("--claim-batch", type=int, default=50, help="timers per claim call (default 50)")
    p.add_argument("--claims", type=int, default=400, help="claim calls per measurement (default 400)")
    p.add_argument("--rounds", type=int, default=5, help="alternated measurements per size (default 5)")
    p.add_argument("--quick", action="store_true", help="a tiny run that only proves it works")
    args = p.parse_args(argv)
    if args.quick:
        args.timers, args.large, args.claims, args.rounds = 2000, 200_000, 50, 2
    figures: dict[str, Any] = {}
    header("timers on Redis: claim and fire, one worker process, no-op handler")
    with workdir() as tmp:
        with RedisServer(cpu=LOAD_CPU) as redis:
            ours = fire_rate(redis, args.timers, tmp)
        print(f"persona worker: {args.timers} timers   {ours['rate']:8.0f} fired/s (5–95 %)   "
              f"{ours['overall']:8.0f}/s overall   worker CPU {ours['cpu_us']:5.0f} µs/timer   "
              f"each fired exactly once", flush=True)
        figures["persona"] = ours["rate"]
        why = arq_missing()
        if why is None:
            with RedisServer(cpu=LOAD_CPU) as redis:
                theirs = arq_rate(redis, args.timers)
            print(f"arq worker:     {args.timers} jobs     {theirs['rate']:8.0f} done/s  (5–95 %)   "
                  f"{theirs['overall']:8.0f}/s overall   worker CPU {theirs['cpu_us']:5.0f} µs/job", flush=True)
            figures["arq"] = theirs["rate"]
        else:
            print(why)
        with RedisServer(cpu=LOAD_CPU) as redis:
            cost = claim_cost(redis, args.small, args.large, args.claim_batch, args.claims, args.rounds)
        for size, found in cost.items():
            print(f"claim {args.claim_batch} of {size:>9} pending: "
                  f"{statistics.median(found['client']):6.2f} µs/timer (client, median of {args.rounds})   "
                  f"Redis {statistics.median(found['redis']):6.1f} µs per claim script", flush=True)
        small = statistics.median(cost[args.small]["client"])
        large = statistics.median(cost[args.large]["client"])
        redis_small = statistics.median(cost[args.small]["redis"])
        redis_large = statistics.median(cost[args.large]["redis"])
    figures.update(claim_ratio=large / small, claim_ratio_redis=redis_large / redis_small)
    print(verdict("persona fired/s per worker", ours["rate"], 10_000, unit="/s"))
    if "arq" in figures:
        print(verdict("persona / arq", figures["persona"] / figures["arq"], 10.0))
    print(verdict(f"claim cost {args.large} / {args.small} pending (Redis time)", redis_large / redis_small,
                  1.2, at_most=True))
    print(verdict(f"claim cost {args.large} / {args.small} pending (client time)", large / small, 1.2,
                  at_most=True))
    return figures


if __name__ == "__main__":
    main()
