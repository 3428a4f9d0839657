"""Benchmark 4: does a callback cost more when the store holds a million customers?

Two namespaces on one private redis-server: one with 10³ customers, one with 10⁶ (2·10⁴
with ``--quick``), both written through ``RedisStore.commit``. One ``persona serve``
process per namespace (core 0, started once); the load generator alternates between them
for ``--rounds`` rounds, with callbacks from customers spread over each store's whole range.
The figure is the median server CPU per callback (and requests/s), large over small.

Target: within 1.2×.

Run: ``python -m benchmarks.growth [--large 1000000] [--seconds 5] [--rounds 3] [--quick]``
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from typing import Any

from benchmarks._common import LOAD_CPU, RedisServer, header, load, measured, unique, verdict, workdir, write_requests
from benchmarks.callback import callbacks, check_reply, run_load, seed, start_persona


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--small", type=int, default=1000, help="customers in the small store (default 1000)")
    p.add_argument("--large", type=int, default=1_000_000, help="customers in the large store (default 10^6)")
    p.add_argument("--seconds", type=float, default=5.0, help="each load run (default 5)")
    p.add_argument("--rounds", type=int, default=3, help="alternated runs per store (default 3)")
    p.add_argument("--connections", type=int, default=32)
    p.add_argument("--quick", action="store_true", help="a tiny run that only proves it works")
    args = p.parse_args(argv)
    if args.quick:
        args.large, args.seconds, args.rounds = 20_000, 1.0, 1
    header("callback cost at 10³ vs 10⁶ stored customers")
    sizes = (args.small, args.large)
    with RedisServer(cpu=LOAD_CPU) as redis, workdir() as tmp:
        names = {size: f"bench{unique()}" for size in sizes}
        for size, name in names.items():
            started = time.perf_counter()
            asyncio.run(seed(redis.url(), name, size, chunk=2000))
            print(f"{size} customers written in {time.perf_counter() - started:.1f} s", flush=True)
        servers = {size: start_persona(redis.url(), names[size], tmp / f"{size}.log") for size in sizes}
        cpu: dict[int, list[float]] = {size: [] for size in sizes}
        rps: dict[int, list[float]] = {size: [] for size in sizes}
        try:
            for size, (proc, port) in servers.items():
                check_reply(port, names[size], "o" + "0" * 27)
                warm = tmp / f"warm{size}.txt"
                write_requests(warm, callbacks(1000, min(size, 1000), f"warm{size}", spread=size, bot=names[size]))
                load(f"http://127.0.0.1:{port}", warm, seconds=1, connections=args.connections)
            per_run = 6000 if args.quick else int(4000 * args.seconds) + 2000
            for r in range(args.rounds):
                for size, (proc, port) in servers.items():
                    path = tmp / f"run{size}-{r}.txt"
                    # 1000 distinct customers per run, spread over the store's whole id range
                    write_requests(path, callbacks(per_run, 1000, f"r{r}s{size}{unique()}", spread=size,
                                                   bot=names[size]))
                    result, seconds = run_load(port, path, proc, args.seconds, args.connections, names[size])
                    print(measured(f"round {r + 1}: {size:>8} customers", result, seconds), flush=True)
                    if result["wraps"]:
                        print("  note: the request file ran out; repeats were dedupe hits")
                    cpu[size].append(seconds / max(result["requests"], 1) * 1e6)
                    rps[size].append(result["rps"])
        finally:
            for proc, _ in servers.values():
                from benchmarks._common import stop

                stop(proc)
    small_cpu, large_cpu = (statistics.median(cpu[s]) for s in sizes)
    small_rps, large_rps = (statistics.median(rps[s]) for s in sizes)
    print(f"median server CPU per callback: {small_cpu:.0f} µs ({args.small}) vs {large_cpu:.0f} µs ({args.large})")
    print(f"median requests/s:              {small_rps:.0f} ({args.small}) vs {large_rps:.0f} ({args.large})")
    print(verdict(f"CPU per callback {args.large} / {args.small}", large_cpu / small_cpu, 1.2, at_most=True))
    print(verdict(f"requests/s {args.small} / {args.large}", small_rps / large_rps, 1.2, at_most=True))
    return {"cpu_ratio": large_cpu / small_cpu, "rps_ratio": small_rps / large_rps}


if __name__ == "__main__":
    main()
