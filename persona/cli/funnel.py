"""``persona funnel BOT --store URL [--since 30d]``: entries per state, in the persona's order,
and the conversion from each state to the next (see :mod:`persona.migrate.funnel`)."""

from __future__ import annotations

import argparse
import asyncio
import json
from dataclasses import asdict

from ..engine import acquisition, census
from ..clock import Clock, parse_duration
from ..errors import PersonaError
from ..migrate.funnel import Step, funnel
from ..model.persona import Persona, load_persona
from ..store import Store, open_store
from .arguments import add_bot, add_store


def arguments(p: argparse.ArgumentParser) -> None:
    """``persona funnel``'s arguments (its help texts are in ``commands.toml``)."""
    add_bot(p)
    add_store(p)
    p.add_argument("--since", metavar="DURATION", help="only entries within this long, e.g. 30d (default: all)")
    p.add_argument("--json", action="store_true", help="print the steps as a JSON list")
    p.add_argument("--channels", action="store_true",
                   help="the funnel by channel instead: customers added through each channel (by staff "
                        "member), welcomed and converted (entered Persona.converted)")
    p.add_argument("--recount", action="store_true",
                   help="first count customers per state from the records (once, for a store written "
                        "before they were counted; reads every customer)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    cls = load_persona(args.bot)
    try:
        since = parse_duration(args.since).total_seconds() if args.since else None
        store = open_store(args.store, args.namespace or cls.name)
    except ValueError as exc:
        raise PersonaError(str(exc)) from None

    async def read() -> list[Step]:
        try:
            if args.recount:
                await census.recount(store)
            return await funnel(cls, store, since=since, now=Clock().now())
        finally:
            await store.close()

    if args.channels:
        return channels(cls, store, since, args)
    steps = asyncio.run(read())
    if args.json:
        print(json.dumps([asdict(s) for s in steps], ensure_ascii=False))
        return 0
    print(render(steps, f"{cls.name}, " + (f"entries in the last {args.since}" if args.since else "all entries")))
    return 0


def render(steps: list[Step], title: str) -> str:
    width = max([len(s.state) for s in steps] + [5])
    lines = [title, f"{'state':<{width}}  {'entered':>8}  {'now':>8}  conversion"]
    for s in steps:
        conversion = "" if s.conversion is None else f"{s.conversion:.1%}"
        lines.append(f"{s.state:<{width}}  {s.entered:>8}  {s.now:>8}  {conversion}")
    return "\n".join(lines)


def channels(cls: type[Persona], store: Store, since: float | None, args: argparse.Namespace) -> int:
    """``--channels``: added, welcomed and converted per channel (one read of the tallies)."""
    goal = acquisition.goal(cls)
    first_day = census.day_of(Clock().now() - since, cls.timezone) if since is not None else None

    async def read() -> list[acquisition.ChannelFigures]:
        try:
            return await acquisition.by_channel(store, goal, first_day)
        finally:
            await store.close()

    rows = asyncio.run(read())
    if args.json:
        print(json.dumps({"converted": goal, "channels": [r.to_dict() for r in rows]}, ensure_ascii=False))
        return 0
    span = f"the last {args.since}" if args.since else "all days"
    print(f"{cls.name}, customers by channel over {span} (converted: entered {goal})")
    width = max([len(r.channel) for r in rows] + [7])
    print(f"{'channel':<{width}}  {'added':>6}  {'welcomed':>8}  {'converted':>9}  staff")
    for r in rows:
        staff = ", ".join(f"{name} {n}" for name, n in r.staff.items())
        print(f"{r.channel:<{width}}  {r.added:>6}  {r.welcomed:>8}  {r.converted:>9}  {staff}")
    if not rows:
        print("(no customer has arrived through a channel yet)")
    return 0
