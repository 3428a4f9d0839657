"""``persona agent send|close|queue|figures``: a human agent's desk on the command line.

``persona agent send BOT USER TEXT --as NAME --store URL`` sends like the agent page does: the
message passes the gate (a service reply inside the platform's window), is journaled with the
agent's name and goes to the outbox, which the running service (``persona serve``) delivers.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os

from ..clock import Clock, parse_duration
from ..engine import census, quality
from ..engine.desk import Desk, DeskError
from ..errors import PersonaError
from ..model.persona import Persona, load_persona
from ..service.context import bot_environ
from ..engine.runtime import Runtime
from ..store import DEFAULT_URL, Store, open_store
from . import EXIT_OK, EXIT_PROBLEMS


def arguments(p: argparse.ArgumentParser) -> None:
    """``persona agent``'s arguments (its help texts are in ``commands.toml``)."""
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    send = sub.add_parser("send", help="send TEXT to a customer as an agent (holds the conversation)")
    send.add_argument("bot", metavar="BOT")
    send.add_argument("user", metavar="USER")
    send.add_argument("text", metavar="TEXT")
    send.add_argument("--candidate", metavar="FAQ_ID",
                      help="the FAQ entry the message started from (journaled with the edit distance)")
    close = sub.add_parser("close", help="give the conversation back to the bot")
    close.add_argument("bot", metavar="BOT")
    close.add_argument("user", metavar="USER")
    queue = sub.add_parser("queue", help="customers an agent holds, the longest-waiting first")
    queue.add_argument("bot", metavar="BOT")
    figures = sub.add_parser("figures", help="质检: handoffs, handbacks, and per agent replies, conversations "
                                             "handled, first-response time, messages blocked")
    figures.add_argument("bot", metavar="BOT")
    figures.add_argument("--since", metavar="DURATION", help="only the last DURATION, e.g. 7d (default: all)")
    figures.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    for q in (send, close, queue, figures):
        q.add_argument("--store", default=DEFAULT_URL, help=f"store URL (default {DEFAULT_URL})")
        if q in (send, close):
            q.add_argument("--as", dest="agent", required=True, metavar="NAME", help="the agent's name")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    return asyncio.run(_run(args))


async def _run(args: argparse.Namespace) -> int:
    cls = load_persona(args.bot)
    try:
        store = open_store(args.store, cls.name)
    except ValueError as exc:
        raise PersonaError(str(exc)) from None
    persona = cls.for_brand(bot_environ(os.environ, cls.name))
    runtime = Runtime(persona, store)
    try:
        if args.action == "figures":
            return await _figures(args, cls, store)
        desk = Desk.with_knowledge(runtime, os.environ) if args.action == "send" else Desk(runtime)
        if args.action == "queue":
            for w in await desk.queue():
                print(f"{w.user}  waiting {int(w.waiting)}s  reason {w.reason}  agent {w.agent or '-'}")
            return EXIT_OK
        if args.action == "close":
            await desk.close(args.user, args.agent)
            print(f"{args.user}: back to the bot")
            return EXIT_OK
        base = await _candidate_text(desk, args.user, args.candidate) if args.candidate else None
        result = await desk.send(args.user, args.agent, args.text, candidate=args.candidate, base=base)
    except DeskError as exc:
        print(f"persona: {exc}")
        return EXIT_PROBLEMS
    finally:
        await store.close()
    print(f"{args.user}: {result.action}{f' ({result.reason})' if result.reason else ''}, "
          f"{result.edits} characters edited; the running service delivers it")
    return EXIT_OK


async def _candidate_text(desk: Desk, user: str, faq_id: str) -> str:
    """The named entry's answer as it renders for this customer."""
    assert desk.suggester is not None
    entry = next((e for e in desk.suggester.knowledge.entries if e.id == faq_id), None)
    if entry is None:
        raise DeskError(f"no FAQ entry {faq_id!r} in {desk.name}")
    answer = desk.suggester.answer(entry, await desk.customer(user))
    if answer is None:
        raise DeskError(f"FAQ entry {faq_id!r} does not render for {user!r} (see persona lint)")
    return answer


async def _figures(args: argparse.Namespace, cls: type[Persona], store: Store) -> int:
    """``persona agent figures``: the desk's 质检 figures from the store's tallies."""
    since = None
    if args.since:
        try:
            since = census.day_of(Clock().now() - parse_duration(args.since).total_seconds(), cls.timezone)
        except ValueError as exc:
            raise PersonaError(f"--since: {exc}") from None
    found = await quality.figures(store, cls.initial, since)
    if args.json:
        print(json.dumps(found.to_dict(), ensure_ascii=False))
        return EXIT_OK
    rate = f"{found.handoff_rate:.1%} of new customers" if found.handoff_rate is not None else "no new customers"
    print(f"handoffs: {sum(found.handoffs.values())} ({rate}); by reason: "
          + (", ".join(f"{k} {v}" for k, v in sorted(found.handoffs.items())) or "-"))
    print("handbacks: " + (", ".join(f"{k} {v}" for k, v in sorted(found.handbacks.items())) or "-"))
    print(f"{'agent':<16} {'replies':>7} {'handled':>7} {'first reply':>11} {'avg reply':>9} {'blocked':>7} {'flagged':>7}")
    for a in found.agents:
        print(f"{a.agent:<16} {a.replies:>7} {a.handled:>7} {_seconds(a.first_response):>11} "
              f"{_seconds(a.response):>9} {a.blocked:>7} {a.flagged:>7}")
    return EXIT_OK


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}s"
