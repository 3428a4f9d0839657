"""``persona broadcast BOT SEGMENT SCRIPT --store URL``: one script to a segment, through the gate.

A broadcast is not a mass mailing: every customer of the segment gets a turn of their own, like
a business event, so everything that protects customers applies — opt-out, daily and weekly
caps, quiet hours (the message waits until morning), the platform windows — and each decision
lands in the customer's journal. The persona decides what is said: its
``broadcast(turn, script)`` method (to skip customers it cannot reach, or pick variables;
by default the script is said as proactive marketing).

SEGMENT is ``state:NAME``, ``tag:NAME`` or ``tag:NAME=VALUE``, several joined with ``+``
(customers in all of them), or ``all``. Each broadcast has an id; running it again with
``--id`` finishes an interrupted broadcast without sending anything twice. Messages are
committed to the outbox; the running service (``persona serve``) delivers them.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import os
import sys
import time
import types
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, TextIO

from ..clock import Clock
from ..errors import PersonaError
from ..engine.gate import Action
from ..model.handlers import on
from ..model.formlinks import FormLinks
from ..model.inputs import BusinessEvent
from ..engine.loop import run_loop
from ..model.persona import Persona, load_persona
from ..engine.outcome import Outcome, Status
from ..engine.runtime import Runtime
from ..store import Store
from ..service.context import bot_environ
from ..model.segments import parse_segment
from ..model.turn import Turn
from .arguments import add_bot, add_store, json_object, open_for

#: the business event each customer of a broadcast receives (handled by :func:`broadcasting`)
EVENT = "persona:broadcast"
#: customers whose turns run at once (``--concurrency``): enough to fill the store's shared round trips
CONCURRENCY = 64


def arguments(p: argparse.ArgumentParser) -> None:
    """``persona broadcast``'s arguments (its help texts are in ``commands.toml``)."""
    add_bot(p)
    p.add_argument("segment", metavar="SEGMENT", help="e.g. state:welcomed, tag:source=parcel, "
                                                      "tag:in_group+tag:product=lipstick, all")
    p.add_argument("script", metavar="SCRIPT", help="the script to say, e.g. flash_sale")
    add_store(p)
    p.add_argument("--data", default="{}", metavar="JSON", help="data the script sees as data.* (a JSON object)")
    p.add_argument("--id", dest="run_id", metavar="ID",
                   help="the broadcast's id; repeat one to finish it without sending twice (default: new)")
    p.add_argument("--dry-run", action="store_true", help="count the customers, send nothing")
    p.add_argument("--concurrency", type=int, default=CONCURRENCY, metavar="N",
                   help=f"customers at a time, in each process (default {CONCURRENCY})")
    p.add_argument("--processes", type=int, default=1, metavar="N",
                   help="processes sharing the segment, e.g. one per core for a large one (default 1)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    cls = load_persona(args.bot)
    persona = broadcasting(cls)()
    persona.form_links = FormLinks.from_env(bot_environ(os.environ, cls.name))
    if args.script not in persona.scripts:
        known = ", ".join(persona.scripts.names()) or "none"
        raise PersonaError(f"{cls.name} has no script {args.script!r} (known: {known})")
    segments = parse_segment(args.segment, cls)
    data = json_object(args.data, "--data", """'{"until": "20:00"}'""")
    if args.concurrency < 1:
        raise PersonaError("--concurrency must be at least 1")
    if args.processes < 1:
        raise PersonaError("--processes must be at least 1")
    if args.processes > 1 and args.store.startswith("memory:"):
        raise PersonaError("memory:// keeps customers inside one process; --processes N needs sqlite:// or redis://")
    store = open_for(args.store, args.namespace or cls.name)
    return run_loop(_main(args, persona, store, segments, data))


async def _main(args: argparse.Namespace, persona: Persona, store: Store, segments: list[str],
                data: dict[str, Any]) -> int:
    try:
        users = await select(store, segments)
        if args.dry_run:
            await _dry_run(store, segments, users, args)
            return 0
        run_id = args.run_id or f"{args.script}-{time.strftime('%Y%m%d-%H%M%S')}"
        if args.processes > 1:
            tally = await broadcast_in_processes(args.bot, args.store, store.namespace, users, args.script, run_id,
                                                 data, processes=args.processes, concurrency=args.concurrency)
        else:
            runtime = Runtime(persona, store, Clock())
            tally = await broadcast(runtime, users, args.script, run_id, data, concurrency=args.concurrency,
                                    progress=Progress(sys.stderr, len(users)))
    finally:
        await store.close()
    print(f"broadcast {run_id}: {args.script} to {args.segment}, {len(users)} customer"
          f"{'s' * (len(users) != 1)}")
    for line in tally.lines():
        print(f"  {line}")
    if tally.sent or tally.deferred:
        print("  messages are in the outbox: the running service (persona serve) delivers them")
    print(f"  run it again with --id {run_id} to finish it if it was interrupted; nobody gets it twice")
    return 1 if tally.errors else 0


async def select(store: Store, segments: list[str]) -> list[str]:
    """The customers of ``segments`` (from :func:`parse_segment`), in a stable order: a broadcast
    run again with its id walks them the same way."""
    return sorted(await store.users()) if segments == ["all"] else sorted(await store.segment(*segments))


async def _dry_run(store: Store, segments: list[str], users: list[str], args: argparse.Namespace) -> None:
    print(f"{len(users)} customer{'s' * (len(users) != 1)} in {args.segment} would get {args.script} "
          "(before opt-out, caps, quiet hours and the persona's own choice)")
    try:
        opted = await store.segment(*[s for s in segments if s != "all"], "tag:opted_out")
        opted &= set(users)
    except Exception:  # an index without the tag: no estimate
        return
    if opted:
        print(f"  {len(opted)} of them opted out and would get nothing")


def broadcasting(cls: type[Persona]) -> type[Persona]:
    """``cls`` plus a handler for :data:`EVENT`, the input each customer of a broadcast gets.

    A subclass, so the bot's own class never takes broadcasts from elsewhere; it lives in the
    bot's module (so its scripts are found) and keeps its name (so it reads and writes the same
    store namespace). The handler is the persona's :meth:`~persona.model.persona.Persona.broadcast`.
    """
    if EVENT in cls.routes.event:
        return cls
    sub: type[Persona] = types.new_class(cls.__name__, (cls,), exec_body=lambda ns: ns.update(
        __module__=cls.__module__, __qualname__=cls.__qualname__, __doc__=cls.__doc__))
    sub.register(persona_broadcast, on.event(EVENT).route)
    return sub


async def persona_broadcast(persona: Persona, turn: Turn) -> None:
    """Say the broadcast's script to this customer as the persona decides."""
    said = persona.broadcast(turn, str(turn.data["script"]))
    if inspect.isawaitable(said):
        await said


@dataclass
class Tally:
    """What a broadcast did, customer by customer."""

    sent: int = 0
    deferred: int = 0
    dropped: Counter[str] = field(default_factory=Counter)
    silent: int = 0  # the persona chose to say nothing to them
    done_before: int = 0  # the same broadcast id reached them already
    errors: Counter[str] = field(default_factory=Counter)

    def add(self, outcome: Outcome) -> None:
        if outcome.status is Status.DUPLICATE:
            self.done_before += 1
            return
        if outcome.status is Status.ERROR:
            self.errors[outcome.error or "error"] += 1
            return
        mine = [d for m, d in outcome.messages if m.to is None]
        if not mine:
            self.silent += 1
        for decision in mine:
            if decision.action is Action.SEND:
                self.sent += 1
            elif decision.action is Action.DEFER:
                self.deferred += 1
            elif decision.action is Action.DROP:
                self.dropped[decision.reason or "dropped"] += 1

    def merge(self, other: "Tally") -> None:
        """Add what another process of the same broadcast did."""
        self.sent += other.sent
        self.deferred += other.deferred
        self.dropped.update(other.dropped)
        self.silent += other.silent
        self.done_before += other.done_before
        self.errors.update(other.errors)

    def lines(self) -> list[str]:
        out = [f"sent        {self.sent}",
               f"deferred    {self.deferred}" + (" (quiet hours: sent when they end)" if self.deferred else "")]
        dropped = sum(self.dropped.values())
        reasons = ", ".join(f"{reason} {n}" for reason, n in self.dropped.most_common())
        out.append(f"dropped     {dropped}" + (f" ({reasons})" if reasons else ""))
        if self.silent:
            out.append(f"not said    {self.silent} (the persona chose not to)")
        if self.done_before:
            out.append(f"done before {self.done_before} (this broadcast reached them already)")
        if self.errors:
            out.append(f"errors      {sum(self.errors.values())}")
            out += [f"  {n} x {error}" for error, n in self.errors.most_common(5)]
        return out


async def broadcast(runtime: Runtime, users: list[str], script: str, run_id: str, data: dict[str, Any],
                    *, concurrency: int = CONCURRENCY, progress: "Progress | None" = None) -> Tally:
    """One turn per customer, ``concurrency`` at a time (``runtime.persona`` must come from
    :func:`broadcasting`).

    ``concurrency`` workers walk the list together, so a million customers are never a million
    tasks waiting their turn; the turns in flight together are what lets the store send their
    reads and commits in shared round trips.
    """
    tally = Tally()
    key = f"broadcast:{run_id}"
    walk = iter(users)

    async def worker() -> None:
        for user in walk:
            inp = BusinessEvent(user=user, name=EVENT, data={**data, "script": script}, dedupe_key=key)
            try:
                outcome = await runtime.handle(inp)
            except PersonaError as exc:  # the store went away for this one: report, carry on
                outcome = Outcome(status=Status.ERROR, error=str(exc))
            tally.add(outcome)
            if progress:
                progress.step()

    await asyncio.gather(*(worker() for _ in range(max(1, min(concurrency, len(users))))))
    if progress:
        progress.done()
    return tally


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
    persona = broadcasting(load_persona(bot))()
    persona.form_links = FormLinks.from_env(bot_environ(os.environ, persona.name))
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
