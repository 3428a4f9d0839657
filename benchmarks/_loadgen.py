"""The load generator used when wrk is not installed: an aiohttp client in its own process.

``python -m benchmarks._loadgen BASE_URL REQUEST_FILE SECONDS CONNECTIONS``; prints the same
``WRKJSON {...}`` line as the wrk script. It is slower than wrk, so on two cores it measures
less of the server's capacity; prefer wrk (``apt-get install wrk``).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

import aiohttp
from yarl import URL


async def main(base: str, path: str, seconds: float, connections: int) -> None:
    requests = []
    origin = URL(base).origin()  # each request names its own path, as with wrk
    with open(path, "rb") as f:
        for line in f:
            target, _, body = line.rstrip(b"\n").partition(b"\t")
            requests.append((URL(str(origin) + target.decode(), encoded=True), body))
    latencies: list[float] = []
    errors = {"status": 0, "socket": 0}
    wraps = 0
    cursor = 0
    end = time.perf_counter() + seconds

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal cursor, wraps
        while time.perf_counter() < end:
            if cursor >= len(requests):
                cursor, wraps = 0, wraps + 1
            url, body = requests[cursor]
            cursor += 1
            started = time.perf_counter()
            try:
                async with session.post(url, data=body, headers={"Content-Type": "text/xml"}) as resp:
                    await resp.read()
                    if resp.status > 399:
                        errors["status"] += 1
            except aiohttp.ClientError:
                errors["socket"] += 1
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=connector, skip_auto_headers=("User-Agent",)) as session:
        await asyncio.gather(*(worker(session) for _ in range(connections)))
    duration = time.perf_counter() - started
    latencies.sort()

    def pct(p: float) -> int:
        return int(latencies[min(len(latencies) - 1, int(len(latencies) * p))] * 1e6) if latencies else 0

    print("WRKJSON " + json.dumps({
        "requests": len(latencies), "duration_us": int(duration * 1e6), "status_errors": errors["status"],
        "socket_errors": errors["socket"], "timeouts": 0, "p50_us": pct(0.5), "p99_us": pct(0.99),
        "wraps": wraps}))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])))
