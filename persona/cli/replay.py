"""``persona replay BOT USER --store URL [--sample N] [--scripts then|now]``: a customer's
journaled inputs run again against the bot as it is now, with the published script versions of
each turn's time (``--scripts now``: those live now), on a memory store and a fake clock,
printed side by side with what was sent then (see :mod:`persona.migrate.replay`). Nothing is
written and nothing is sent."""

from __future__ import annotations

import argparse
import asyncio
from datetime import datetime

from ..errors import PersonaError
from ..model.persona import load_persona
from ..migrate.replay import Replay, Said, ScriptsAt, replay, sample
from ..store import DEFAULT_URL, open_store
from ..model.timers import zone
from . import EXIT_OK, EXIT_PROBLEMS

WIDTH = 38


def arguments(p: argparse.ArgumentParser) -> None:
    """``persona replay``'s arguments (its help texts are in ``commands.toml``)."""
    p.add_argument("bot", metavar="BOT", help="import path of a bot, e.g. bots.xiaowanzi")
    p.add_argument("user", metavar="USER", nargs="?", help="the customer's id (omit with --sample)")
    p.add_argument("--store", default=DEFAULT_URL, help=f"store URL (default {DEFAULT_URL})")
    p.add_argument("--namespace", help="store namespace (default: the bot's name)")
    p.add_argument("--sample", type=int, metavar="N", help="replay N random customers and summarise")
    p.add_argument("--seed", type=int, help="the random pick of --sample, to repeat it")
    p.add_argument("--scripts", choices=[s.value for s in ScriptsAt], default=ScriptsAt.THEN.value,
                   help="published script versions to speak with: those live at each turn's time "
                        "(then, the default) or those live now")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    cls = load_persona(args.bot)
    if (args.user is None) == (args.sample is None):
        raise PersonaError("give either a customer id or --sample N")
    if args.sample is not None and args.sample < 1:
        raise PersonaError("--sample must be at least 1")
    try:
        store = open_store(args.store, args.namespace or cls.name)
    except ValueError as exc:
        raise PersonaError(str(exc)) from None

    async def go() -> list[Replay]:
        try:
            scripts = ScriptsAt(args.scripts)
            if args.sample is not None:
                return await sample(cls, store, args.sample, seed=args.seed, scripts=scripts)
            return [await replay(cls, store, args.user, scripts=scripts)]
        finally:
            await store.close()

    replays = asyncio.run(go())
    if args.sample is None:
        [one] = replays
        if not one.steps:
            print(f"persona: no journal for {args.user!r} in {cls.name} (store {args.store})")
            return EXIT_PROBLEMS
        print("\n".join(side_by_side(one, cls.timezone)))
        return EXIT_OK
    print("\n".join(summary(replays)))
    return EXIT_OK


def _cell(said: list[Said] | None, now: bool) -> list[str]:
    if said is None:
        return ["(no such turn)"]
    if not said:
        return ["(nothing)"]
    return [f"{s.label()}: {s.text}" if now and s.text else s.label() for s in said]


def side_by_side(result: Replay, tz: str) -> list[str]:
    """What ``persona replay BOT USER`` prints."""
    lines = [f"replay of {result.user}: {len(result.steps)} turns, {len(result.differences)} differ"]
    if result.scripts is ScriptsAt.NOW:
        lines.append("scripts: the versions live now, for every turn")
    if not result.complete:
        lines.append("note: the journal no longer reaches the customer's first turn; the replay starts "
                     "from a new customer at the oldest kept input")
    lines.append(f"{'':<18}{'then':<{WIDTH}}  now")
    for step in result.steps:
        when = datetime.fromtimestamp(step.at, zone(tz)).strftime("%Y-%m-%d %H:%M")
        lines.append(f"{when}  {step.input}{'   ≠' if step.differs else ''}")
        left, right = _cell(step.then, False), _cell(step.now, True)
        for i in range(max(len(left), len(right))):
            a = left[i] if i < len(left) else ""
            b = right[i] if i < len(right) else ""
            lines.append(f"{'':<18}{a:<{WIDTH}}  {b}")
    return lines


def summary(replays: list[Replay]) -> list[str]:
    """What ``persona replay BOT --sample N`` prints."""
    differing = [r for r in replays if r.differences]
    lines = [f"{len(replays)} customers replayed, {len(differing)} with differences"]
    if replays and replays[0].scripts is ScriptsAt.NOW:
        lines.append("scripts: the versions live now, for every turn")
    counts: dict[str, int] = {}
    for r in replays:
        for step in r.differences:
            counts[step.input] = counts.get(step.input, 0) + 1
    for what, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        lines.append(f"  {n:>5}  {what}")
    for r in differing:
        note = "" if r.complete else " (journal truncated)"
        lines.append(f"{r.user}: {len(r.differences)} of {len(r.steps)} turns differ{note}: "
                     + ", ".join(dict.fromkeys(s.input for s in r.differences)))
    return lines
