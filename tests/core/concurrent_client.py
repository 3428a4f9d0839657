"""Run as a separate OS process: hammer a few customers with inputs through one Runtime."""

from __future__ import annotations

import asyncio
import sys

from persona import BusinessEvent, FakeClock, Runtime, TextMessage
from persona.store import open_store
from tests.core.shop import Shop


async def main(url: str, namespace: str, tag: str, count: int) -> None:
    store = open_store(url, namespace)
    runtime = Runtime(Shop(), store, FakeClock("2026-11-23 10:00"))
    users = [f"u{i}" for i in range(5)]

    async def one(i: int) -> None:
        user = users[i % len(users)]
        # every input is sent twice (a WeChat retry) — the second must change nothing
        inp = (TextMessage(user=user, dedupe_key=f"m:{tag}{i}", text="hello") if i % 2 else
               BusinessEvent(user=user, dedupe_key=f"{tag}{i}", name="order_placed", data={"amount": 1}))
        await asyncio.gather(runtime.handle(inp), runtime.handle(inp))

    await asyncio.gather(*(one(i) for i in range(count)))
    await store.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])))
