"""``persona inspect BOT USER --store URL``: one customer as the bot sees them.

State, tags, attributes, counters, pending timers (in the customer's local time) and the last
journal lines: what came in and which handler took it, every message and the gate's decision
(sent, deferred until when, dropped and why), transitions and errors. The first place to look
when someone asks "why did this customer get that message (or not)?".
"""

from __future__ import annotations

import argparse
import asyncio
import json
from datetime import datetime
from typing import Any

from ..engine.identity import find
from ..engine.merge import journal as merged_journal
from ..model.customer import Customer
from ..model.persona import load_persona
from ..model.templates import FALLBACK_NOTE
from ..model.timers import zone
from .arguments import add_bot, add_store, open_for

TIME = "%Y-%m-%d %H:%M"


def arguments(p: argparse.ArgumentParser) -> None:
    """``persona inspect``'s arguments (its help texts are in ``commands.toml``)."""
    add_bot(p)
    p.add_argument("user", metavar="USER", help="the customer's id (openid / external user id)")
    add_store(p)
    p.add_argument("-n", "--lines", type=int, default=30, metavar="N", help="journal lines to show (default 30)")
    p.add_argument("--json", action="store_true", help="print everything as one JSON object")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    cls = load_persona(args.bot)
    return asyncio.run(_inspect(args, cls.name, cls.timezone))


async def _inspect(args: argparse.Namespace, name: str, default_tz: str) -> int:
    store = open_for(args.store, args.namespace or name)
    try:
        customer = await find(store, args.user)
        if customer is None:
            print(f"persona: no customer {args.user!r} in {name} (store {args.store}, namespace "
                  f"{args.namespace or name})")
            return 1
        pending = await store.pending_timers(customer.id)
        journal = await merged_journal(store, customer, max(args.lines, 0)) if args.lines else []
    finally:
        await store.close()
    tz = str(customer.attrs.get("tz") or default_tz)
    if args.json:
        print(json.dumps(_as_json(customer, pending, journal, tz), ensure_ascii=False, indent=2, default=str))
        return 0
    for line in render(customer, pending, journal, tz):
        print(line)
    return 0


def local(epoch: float | None, tz: str) -> str:
    return datetime.fromtimestamp(epoch, zone(tz)).strftime(TIME) if epoch else "-"


def render(customer: Customer, pending: dict[str, float], journal: list[str], tz: str) -> list[str]:
    """The text ``persona inspect`` prints."""
    out = [f"customer   {customer.id}"]
    if len(customer.ids) > 1 or customer.unionid:  # one person on several platforms
        current = customer.address()[0]
        out.append("ids        " + ", ".join(f"{i} ({p}{', current' if i == current else ''})"
                                             for i, p in sorted(customer.ids.items()))
                   + (f"; unionid {customer.unionid}" if customer.unionid else ""))
    out += [f"state      {customer.state}",
            f"seen       first {local(customer.first_seen, tz)}, last {local(customer.last_seen, tz)} "
            f"({tz})",
            f"messages   last from them {local(customer.last_inbound, tz)}, last to them "
            f"{local(customer.last_outbound, tz)}"]
    tags = "  ".join(f"{k}={v}" if v else k for k, v in sorted(customer.tags.items()))
    out.append(f"tags       {tags or '-'}")
    if customer.opted_out:
        out.append("           (opted out: marketing messages are not sent)")
    held = customer.handoff
    if held is not None:
        out.append(f"handoff    held by {held.agent or 'an agent'} since {local(held.since, tz)} ({held.reason}); "
                   + (f"waiting since {local(held.waiting, tz)}" if held.waiting else "answered")
                   + ": the bot's own replies are paused")
    out.append("attrs" + ("      -" if not customer.attrs else ""))
    for key, value in sorted(customer.attrs.items()):
        out.append(f"  {key:<20} {json.dumps(value, ensure_ascii=False, default=str)}")
    counters = "  ".join(f"{k}={v}" for k, v in sorted(customer.counters.items()))
    out.append(f"counters   {counters or '-'}")
    out.append("timers" + ("     -" if not pending and not customer.timers else ""))
    for timer_name in sorted(set(pending) | set(customer.timers), key=lambda n: pending.get(n, 0)):
        timer = customer.timers.get(timer_name)
        due = pending.get(timer_name, timer.due if timer else None)
        extra = []
        if timer and timer.state:
            extra.append(f"while {timer.state}")
        if timer and timer.data:
            extra.append(json.dumps(timer.data, ensure_ascii=False, default=str))
        if timer_name not in pending:
            extra.append("not in the timer index")
        out.append(f"  {timer_name:<20} {local(due, tz)}" + (f"  ({'; '.join(extra)})" if extra else ""))
    out.append(f"journal (last {len(journal)})" if journal else "journal    -")
    for raw in journal:
        out.append("  " + journal_line(raw, tz))
    return out


def journal_line(raw: str, tz: str) -> str:
    """One journal entry, for people: ``2026-11-23 09:00  out  welcome: send``."""
    try:
        entry = json.loads(raw)
    except ValueError:
        return raw
    if not isinstance(entry, dict):
        return raw
    when = local(entry.pop("t", None), tz)
    kind = str(entry.pop("k", "?"))
    entry.pop("i", None)  # the input as data and a message's digest are for persona replay
    entry.pop("h", None)
    if kind == "in":
        handler = entry.pop("handler", None)
        text = f"{entry.pop('input', '?')} → {handler or 'no handler'}"
        if "due" in entry:
            text += f" (due {local(entry.pop('due'), tz)})"
    elif kind == "out":
        script = str(entry.pop("script", "?"))
        version, variant = entry.pop("v", None), entry.pop("variant", None)
        script += (f" v{version}" if version else "") + (f" variant {variant}" if variant else "")
        to = entry.pop("to", None)
        action = entry.pop("action", "?")
        reason = entry.pop("reason", None)
        due = entry.pop("due", None)
        text = f"{script}{f' to {to}' if to else ''}: {action}"
        if reason:
            text += f" ({reason})"
        if due:
            text += f" until {local(due, tz)}"
    elif kind == "transition":
        text = f"{entry.pop('trigger', '?')}: {entry.pop('from', '?')} → {entry.pop('to', '?')}"
    elif kind == "error":
        text = f"{entry.pop('input', '?')}: {entry.pop('error', '?')}"
    elif kind == FALLBACK_NOTE:
        script = f"{entry.pop('script', '?')} v{entry.pop('v', '?')}"
        variant = entry.pop("variant", None)
        text = (f"{script}{f' variant {variant}' if variant else ''} failed, v{entry.pop('used', '?')} said "
                f"instead: {entry.pop('error', '?')}")
    else:
        text = ""
    rest = " ".join(f"{k}={json.dumps(v, ensure_ascii=False) if not isinstance(v, str) else v}"
                    for k, v in entry.items())
    return f"{when}  {kind:<10} {' '.join(p for p in (text, rest) if p)}".rstrip()


def _as_json(customer: Customer, pending: dict[str, float], journal: list[str], tz: str) -> dict[str, Any]:
    entries = []
    for raw in journal:
        try:
            entries.append(json.loads(raw))
        except ValueError:
            entries.append(raw)
    return {"id": customer.id, "state": customer.state, "tags": customer.tags, "attrs": customer.attrs,
            "counters": customer.counters, "tz": tz, "first_seen": customer.first_seen,
            "last_seen": customer.last_seen, "last_inbound": customer.last_inbound,
            "last_outbound": customer.last_outbound,
            "timers": {n: {"due": d, "local": local(d, tz),
                           "state": customer.timers[n].state if n in customer.timers else None}
                       for n, d in pending.items()},
            "ids": customer.ids, "current": customer.address()[0] if customer.ids else None,
            "unionid": customer.unionid, "journal": entries}
