"""``persona suggest BOT TEXT [--user ID --store URL] [--faq FILE] [--json]``: the three replies
an agent would be offered for a customer's message, best first.

Offline by default (the bot's ``faq.yaml``, retrieved with jieba and BM25); drafted by a model
when ``PERSONA_LLM_BASE``, ``PERSONA_LLM_KEY`` and ``PERSONA_LLM_MODEL`` are set. With
``--user`` the answers render with that customer's variables.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os

from ..service.context import bot_environ
from ..model.customer import Customer
from ..content.knowledge import Candidate, Suggester
from ..model.persona import load_persona
from ..store import DEFAULT_URL, open_store
from . import EXIT_OK, EXIT_PROBLEMS


def arguments(p: argparse.ArgumentParser) -> None:
    """``persona suggest``'s arguments (its help texts are in ``commands.toml``)."""
    p.add_argument("bot", metavar="BOT", help="import path of a bot, e.g. bots.xiaowanzi")
    p.add_argument("text", metavar="TEXT", help="what the customer said")
    p.add_argument("--user", metavar="ID", help="render the answers with this customer's variables")
    p.add_argument("--store", default=DEFAULT_URL, help=f"store URL for --user (default {DEFAULT_URL})")
    p.add_argument("--faq", metavar="FILE", help="use this faq.yaml instead of the bot's own")
    p.add_argument("--json", action="store_true", help='print {"candidates": [{"text", "faq", "score", "source"}]}')
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    cls = load_persona(args.bot)
    persona = cls.for_brand(bot_environ(os.environ, cls.name))
    suggester = Suggester.for_persona(persona, os.environ, faq=args.faq)
    customer = None
    if args.user:
        customer = asyncio.run(_customer(args.store, cls.name, args.user))
        if customer is None:
            print(f"persona: no customer {args.user!r} in {cls.name} (store {args.store})")
            return EXIT_PROBLEMS
    candidates = asyncio.run(suggester.suggest(args.text, customer=customer))
    print(render(candidates, args.json))
    return EXIT_OK


async def _customer(url: str, namespace: str, user: str) -> Customer | None:
    store = open_store(url, namespace)
    try:
        loaded = await store.load(user)
    finally:
        await store.close()
    return Customer.load(user, loaded.record, loaded.version) if loaded.record else None


def render(candidates: list[Candidate], as_json: bool) -> str:
    if as_json:
        return json.dumps({"candidates": [c.to_dict() for c in candidates]}, ensure_ascii=False)
    if not candidates:
        return "(the bot has no knowledge to suggest from: add faq.yaml beside its persona)"
    return "\n".join(f"{i}. {c.text}\n   ({c.source}{f' {c.faq}' if c.faq else ''}, score {c.score:.2f})"
                     for i, c in enumerate(candidates, 1))
