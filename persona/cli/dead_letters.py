"""``persona dead-letters BOT --store URL [--retry ID ...|--retry-all]``: messages that were
not delivered, why, and a way to send them again once the cause is fixed.

A message becomes a dead letter when the platform refused it for good (a bad template id, a
customer who blocked the account) or delivery kept failing. Retrying puts it back in the
outbox, where the running service's delivery loop sends it like any other message; the move is
one atomic store step, so two people retrying at once cannot send it twice.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from ..engine.dead_letters import decoded, recipient, requeue, summary
from ..model.persona import load_persona
from ..store import Store
from ..store.base import OutboxItem
from .arguments import add_bot, add_store, open_for

def arguments(p: argparse.ArgumentParser) -> None:
    """``persona dead-letters``'s arguments (its help texts are in ``commands.toml``)."""
    add_bot(p)
    add_store(p)
    group = p.add_mutually_exclusive_group()
    group.add_argument("--retry", action="append", default=[], metavar="ID",
                       help="put this dead letter back in the outbox (repeatable)")
    group.add_argument("--retry-all", action="store_true", help="put every dead letter back in the outbox")
    p.add_argument("--json", action="store_true", help="list as JSON lines")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    cls = load_persona(args.bot)
    store = open_for(args.store, args.namespace or cls.name)
    return asyncio.run(_main(args, store))


async def _main(args: argparse.Namespace, store: Store) -> int:
    try:
        letters = await store.dead_letters()
        if not (args.retry or args.retry_all):
            _list(letters, args.json)
            return 0
        ids = [item.id for item, _ in letters] if args.retry_all else list(dict.fromkeys(args.retry))
        failed = 0
        for item_id in ids:
            ok, message = await requeue(store, item_id)
            print(message, file=sys.stdout if ok else sys.stderr)
            failed += not ok
        if not ids:
            print("no dead letters")
        else:
            print(f"{len(ids) - failed} put back in the outbox" + (f", {failed} not" if failed else ""))
        return 1 if failed else 0
    finally:
        await store.close()


def _list(letters: list[tuple[OutboxItem, str]], as_json: bool) -> None:
    if as_json:
        for item, reason in letters:
            print(json.dumps({"id": item.id, "user": item.user, "attempts": item.attempts, "reason": reason,
                              "payload": decoded(item)}, ensure_ascii=False))
        return
    if not letters:
        print("no dead letters")
        return
    for item, reason in letters:
        print(f"{item.id}  to {recipient(item)}  attempts {item.attempts}")
        print(f"    reason: {reason}")
        print(f"    {summary(item)}")
    print(f"{len(letters)} dead letter{'s' * (len(letters) != 1)}; retry with --retry ID or --retry-all")
