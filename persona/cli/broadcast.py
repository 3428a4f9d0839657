"""``persona broadcast BOT AUDIENCE SCRIPT --store URL``: one script to an audience, through the gate.

Every customer of the audience gets a turn of their own (:mod:`persona.engine.broadcast`): opt-out,
caps, quiet hours (the message waits until morning), the platform windows and budgets apply, and
each decision lands in the customer's journal.

AUDIENCE is the audience language (:mod:`persona.model.audience`): ``state:NAME``, ``tag:NAME``,
``tag:NAME=VALUE``, ``attr:NAME > N``, ``attr:NAME within 30d``..., with AND / OR / NOT and
parentheses; the segment syntax ``a+b`` still means AND, ``all`` everyone. ``--split a=50,b=50``
gives each customer one of several scripts, stably.

Without ``--at`` the command sends itself, now, and keeps the broadcast in the store as a done
campaign (listed by ``persona campaigns``); running it again with ``--id`` finishes an
interrupted broadcast without sending anything twice. With ``--at TIME`` it keeps a campaign in
the store (:mod:`persona.engine.campaigns`) that the running service (``persona serve``) sends at
that time, once however many workers run; ``persona campaigns`` lists, shows and cancels them.
Messages are committed to the outbox; the running service delivers them.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from typing import Any, TextIO

from ..clock import Clock
from ..engine.audience import Selector, plan
from ..engine.broadcast import CONCURRENCY, EVENT, Tally, broadcast, broadcasting
from ..engine.campaigns import Book, Campaign, Split, When
from ..engine.loop import run_loop
from ..engine.runtime import Runtime
from ..errors import PersonaError
from ..model.audience import Node, parse_audience
from ..model.persona import Persona, load_persona
from ..model.segments import parse_segment
from ..service.context import bot_environ
from ..store import Store
from .arguments import add_bot, add_store, json_object, open_for

__all__ = ["EVENT", "Tally", "broadcast", "broadcasting", "parse_segment", "select", "broadcast_in_processes"]

#: customers shown by ``--dry-run``
SAMPLE = 10


def arguments(p: argparse.ArgumentParser) -> None:
    """``persona broadcast``'s arguments (its help texts are in ``commands.toml``)."""
    add_bot(p)
    p.add_argument("audience", metavar="AUDIENCE", help="e.g. state:welcomed, tag:source=parcel OR tag:in_group, "
                                                        "attr:spend > 500 AND NOT tag:opted_out, all")
    p.add_argument("script", metavar="SCRIPT", nargs="?", help="the script to say, e.g. flash_sale "
                                                               "(or --split)")
    add_store(p)
    p.add_argument("--split", metavar="A=W,B=W", help="an A/B split of scripts by weight, e.g. sale_a=50,sale_b=50")
    p.add_argument("--at", metavar="TIME", help="schedule it for TIME in brand time (e.g. '2026-12-08 10:00'): "
                                                "persona serve sends it then")
    p.add_argument("--local-time", action="store_true",
                   help="with --at: that clock time in each customer's own time zone (attrs.tz)")
    p.add_argument("--data", default="{}", metavar="JSON", help="data the script sees as data.* (a JSON object)")
    p.add_argument("--id", dest="run_id", metavar="ID",
                   help="the broadcast's id; repeat one to finish it without sending twice (default: new)")
    p.add_argument("--by", default="", metavar="NAME", help="who schedules it (kept with the campaign)")
    p.add_argument("--dry-run", action="store_true", help="count the customers and show a sample, send nothing")
    p.add_argument("--concurrency", type=int, default=CONCURRENCY, metavar="N",
                   help=f"customers at a time, in each process (default {CONCURRENCY})")
    p.add_argument("--processes", type=int, default=1, metavar="N",
                   help="processes sharing the audience, e.g. one per core for a large one (default 1)")
    p.set_defaults(run=run)


def scripts_of(args: argparse.Namespace, persona: Persona) -> Split:
    """SCRIPT or ``--split``, every script checked against the persona."""
    if bool(args.script) == bool(args.split):
        raise PersonaError("give SCRIPT or --split A=50,B=50 (one of the two)")
    split = Split.parse(args.split) if args.split else Split.one(args.script)
    for script in split.scripts:
        if script not in persona.scripts:
            known = ", ".join(persona.scripts.names()) or "none"
            raise PersonaError(f"{type(persona).name} has no script {script!r} (known: {known})")
    return split


def run(args: argparse.Namespace) -> int:
    cls = load_persona(args.bot)
    persona = broadcasting(cls).for_brand(bot_environ(os.environ, cls.name))
    split = scripts_of(args, persona)
    node = parse_audience(args.audience, cls)
    data = json_object(args.data, "--data", """'{"until": "20:00"}'""")
    if args.concurrency < 1:
        raise PersonaError("--concurrency must be at least 1")
    if args.processes < 1:
        raise PersonaError("--processes must be at least 1")
    if args.processes > 1 and args.store.startswith("memory:"):
        raise PersonaError("memory:// keeps customers inside one process; --processes N needs sqlite:// or redis://")
    if args.processes > 1 and len(split.weights) > 1:
        raise PersonaError("--split runs in one process: leave out --processes")
    if args.local_time and not args.at:
        raise PersonaError("--local-time needs --at, e.g. --at '2026-12-08 10:00' --local-time")
    when = When.parse(args.at, cls.timezone, local=args.local_time, now=time.time()) if args.at else None
    store = open_for(args.store, args.namespace or cls.name)
    return run_loop(_main(args, persona, store, node, split, when, data))


async def _main(args: argparse.Namespace, persona: Persona, store: Store, node: Node, split: Split,
                when: When | None, data: dict[str, Any]) -> int:
    cls = type(persona)
    try:
        users = await Selector(store, time.time(), cls.timezone).select(node)
        if args.dry_run:
            await _dry_run(store, node, users, str(split), args)
            return 0
        if when is not None:
            return await _schedule(args, cls, store, split, when, data, len(users))
        run_id = args.run_id or f"{split.scripts[0]}-{time.strftime('%Y%m%d-%H%M%S')}"
        started = time.time()
        if args.processes > 1:
            tally = await broadcast_in_processes(args.bot, args.store, store.namespace, users, split.scripts[0], run_id,
                                                 data, processes=args.processes, concurrency=args.concurrency)
        else:
            runtime = Runtime(persona, store, Clock())
            tally = await broadcast(runtime, users, lambda user: split.pick(run_id, user), run_id, data,
                                    concurrency=args.concurrency, progress=Progress(sys.stderr, len(users)))
        await Book(store).keep_sent(Campaign(run_id, args.audience, split, When.parse(None, cls.timezone, now=started),
                                             data, started, args.by), tally, started, time.time())
    finally:
        await store.close()
    print(f"broadcast {run_id}: {split} to {args.audience}, {len(users)} customer"
          f"{'s' * (len(users) != 1)}")
    for line in tally.lines():
        print(f"  {line}")
    if tally.sent or tally.deferred:
        print("  messages are in the outbox: the running service (persona serve) delivers them")
    print(f"  run it again with --id {run_id} to finish it if it was interrupted; nobody gets it twice")
    return 1 if tally.errors else 0


async def _schedule(args: argparse.Namespace, cls: type[Persona], store: Store, split: Split, when: When,
                    data: dict[str, Any], count: int) -> int:
    book = Book(store)
    campaign = await book.create(Campaign(args.run_id or await book.new_id(), args.audience, split, when, data,
                                          time.time(), args.by))
    print(f"campaign {campaign.id} scheduled: {split} to {args.audience}, {when.describe(cls.timezone)}")
    print(f"  {count} customer{'s' * (count != 1)} in the audience now (it is chosen again when it runs)")
    print(f"  the running service (persona serve) sends it; persona campaigns {args.bot} show {campaign.id}")
    return 0


async def select(store: Store, segments: list[str]) -> list[str]:
    """The customers of ``segments`` (from :func:`parse_segment`), in a stable order: a broadcast
    run again with its id walks them the same way."""
    return sorted(await store.users()) if segments == ["all"] else sorted(await store.segment(*segments))


async def _dry_run(store: Store, node: Node, users: list[str], scripts: str, args: argparse.Namespace) -> None:
    print(f"{len(users)} customer{'s' * (len(users) != 1)} in {args.audience} would get {scripts} "
          "(before opt-out, caps, quiet hours and the persona's own choice)")
    opted = set(users) & await store.segment("tag:opted_out")
    if opted:
        print(f"  {len(opted)} of them opted out and would get nothing")
    if users:
        more = f" and {len(users) - SAMPLE} more" if len(users) > SAMPLE else ""
        print(f"  for example: {', '.join(users[:SAMPLE])}{more}")
    how = plan(node)
    index = ", ".join(how.indexed) or "nothing"
    reads = "every customer's record" if how.reads_everyone and how.reads_records else \
        "the records of the customers the index leaves" if how.reads_records else "no record"
    print(f"  the segment index answers {index}; it reads {reads}")


async def broadcast_in_processes(bot: str, url: str, namespace: str, users: list[str], script: str, run_id: str,
                                 data: dict[str, Any], *, processes: int, concurrency: int = CONCURRENCY) -> Tally:
    """:func:`broadcast` with ``users`` dealt over ``processes`` processes, each with its own
    runtime and store connection: one process's turns keep one core busy.

    Each customer is in one process's share, and the broadcast's dedupe key holds anyway.
    """
    import concurrent.futures
    import multiprocessing

    shares = [users[i::processes] for i in range(processes)]
    loop = asyncio.get_running_loop()
    with concurrent.futures.ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("spawn")) as pool:
        parts = await asyncio.gather(*(loop.run_in_executor(pool, _share, bot, url, namespace, share, script, run_id,
                                                            data, concurrency) for share in shares if share))
    tally = Tally()
    for part in parts:
        tally.merge(part)
    return tally


def _share(bot: str, url: str, namespace: str, users: list[str], script: str, run_id: str, data: dict[str, Any],
           concurrency: int) -> Tally:
    """One process's share of :func:`broadcast_in_processes`."""
    cls = load_persona(bot)
    persona = broadcasting(cls).for_brand(bot_environ(os.environ, cls.name))
    store = open_for(url, namespace)

    async def run() -> Tally:
        try:
            return await broadcast(Runtime(persona, store, Clock()), users, script, run_id, data,
                                   concurrency=concurrency)
        finally:
            await store.close()

    return run_loop(run())


class Progress:
    """A one-line progress bar, drawn only on a terminal."""

    WIDTH = 30

    def __init__(self, stream: TextIO, total: int) -> None:
        self.stream, self.total, self.count = stream, total, 0
        self.on = bool(getattr(stream, "isatty", lambda: False)()) and total > 0
        self._drawn = -1

    def step(self) -> None:
        self.count += 1
        if not self.on:
            return
        filled = self.WIDTH * self.count // self.total
        if filled == self._drawn and self.count != self.total:
            return
        self._drawn = filled
        bar = "#" * filled + "." * (self.WIDTH - filled)
        self.stream.write(f"\r[{bar}] {self.count}/{self.total}")
        self.stream.flush()

    def done(self) -> None:
        if self.on:
            self.stream.write("\n")
            self.stream.flush()
