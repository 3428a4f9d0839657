"""``persona store-upgrade BOT --store URL``: convert a bot's Redis data to the current layout.

A Redis store written before compact records refuses to open (its customers would look new);
this converts it in place, keeping every customer's version, timers and segments. Stop the
bot's processes first: the conversion reads and rewrites each shard without locking it. An
interrupted run is simply run again.
"""

from __future__ import annotations

import argparse
import asyncio

from ..model.persona import load_persona
from .arguments import add_bot, add_store, open_for


def arguments(p: argparse.ArgumentParser) -> None:
    """``persona store-upgrade``'s arguments (its help texts are in ``commands.toml``)."""
    add_bot(p)
    add_store(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    namespace = args.namespace or load_persona(args.bot).name
    return asyncio.run(_main(args.store, namespace))


async def _main(url: str, namespace: str) -> int:
    from ..store.redis import RedisStore
    from ..store.redis.legacy import legacy, upgrade

    store = open_for(url, namespace)
    try:
        if not isinstance(store, RedisStore) or not await legacy(store):
            print(f"{namespace}: nothing to convert")
            return 0
        n = await upgrade(store)
        print(f"{namespace}: {n} customers converted to the current layout")
        return 0
    finally:
        await store.close()
