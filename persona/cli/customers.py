"""``persona customers link|show BOT ... --store URL``: one customer's ids across platforms.

``link`` tells the bot that two ids are one person when the platform cannot (no unionid: an
account not bound to the Open Platform, a customer who gave a phone number on both sides). The
customer first seen is kept and absorbs the other (see :mod:`persona.engine.merge`); the other
id reaches the kept customer from then on. ``show`` prints the ids a customer is known by and
which one the current conversation comes through.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from ..engine.identity import find
from ..engine.merge import guess_platform, merge
from ..engine.runtime import Runtime
from ..errors import MergeError
from ..model.customer import Customer
from ..model.persona import Persona, load_persona
from ..store import Store
from .arguments import add_bot, add_store, open_for

EXIT_OK, EXIT_NOT_FOUND = 0, 1


def arguments(p: argparse.ArgumentParser) -> None:
    """``persona customers``'s arguments (its help texts are in ``commands.toml``)."""
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    link = sub.add_parser("link", help="make two ids one customer (the one first seen is kept)",
                          description="make two ids one customer (the one first seen is kept)")
    add_bot(link)
    link.add_argument("ids", nargs=2, metavar="ID", help="an openid or an external_userid")
    add_store(link)
    link.add_argument("--json", action="store_true", help="print the kept customer's ids as JSON")
    link.set_defaults(run=_run_link)
    show = sub.add_parser("show", help="the ids a customer is known by", description="the ids a customer is known by")
    add_bot(show)
    show.add_argument("user", metavar="ID", help="any of the customer's ids")
    add_store(show)
    show.add_argument("--json", action="store_true", help="print the ids as JSON")
    show.set_defaults(run=_run_show)


def _run_link(args: argparse.Namespace) -> int:
    cls = load_persona(args.bot)
    return asyncio.run(_with_store(args, cls, _link))


def _run_show(args: argparse.Namespace) -> int:
    cls = load_persona(args.bot)
    return asyncio.run(_with_store(args, cls, _show))


async def _with_store(args: argparse.Namespace, cls: type[Persona], job: Any) -> int:
    store = open_for(args.store, args.namespace or cls.name)
    try:
        return int(await job(args, cls, store))
    finally:
        await store.close()


async def _link(args: argparse.Namespace, cls: type[Persona], store: Store) -> int:
    first, second = [await find(store, user) for user in args.ids]
    if first is None and second is None:
        print(f"persona: neither {args.ids[0]!r} nor {args.ids[1]!r} is a customer of {cls.name} "
              f"(store {args.store})", file=sys.stderr)
        return EXIT_NOT_FOUND
    a, b = first.id if first else args.ids[0], second.id if second else args.ids[1]
    if a == b:
        print(f"{args.ids[0]} and {args.ids[1]} are one customer already ({a})")
        return EXIT_OK
    keep = min((c.first_seen, c.id) for c in (first, second) if c is not None)[1]
    gone = b if keep == a else a
    try:
        await merge(Runtime(cls(), store), keep, gone, why="linked by hand")
    except MergeError as exc:
        print(f"persona: {exc}", file=sys.stderr)
        return EXIT_NOT_FOUND
    kept = await Customer.read(store, keep)
    assert kept is not None
    if not args.json:
        print(f"{gone} is now part of customer {keep} (state {kept.state})")
    _print_ids(kept, args.json)
    return EXIT_OK


async def _show(args: argparse.Namespace, cls: type[Persona], store: Store) -> int:
    customer = await find(store, args.user)
    if customer is None:
        print(f"persona: no customer {args.user!r} in {cls.name} (store {args.store})", file=sys.stderr)
        return EXIT_NOT_FOUND
    _print_ids(customer, args.json)
    return EXIT_OK


def ids_of(customer: Customer) -> dict[str, Any]:
    """A customer's ids as ``persona customers show --json`` prints them."""
    ids = dict(customer.ids) or {customer.id: guess_platform(customer.id)}
    address, _ = customer.address()
    return {"customer": customer.id, "unionid": customer.unionid or None, "current": address,
            "ids": [{"id": i, "platform": p} for i, p in sorted(ids.items())]}


def _print_ids(customer: Customer, as_json: bool) -> None:
    shown = ids_of(customer)
    if as_json:
        print(json.dumps(shown, ensure_ascii=False))
        return
    print(f"customer   {shown['customer']}")
    print(f"unionid    {shown['unionid'] or '-'}")
    for entry in shown["ids"]:
        mark = "  (current conversation)" if entry["id"] == shown["current"] else ""
        print(f"  {entry['platform']:<7} {entry['id']}{mark}")
