"""``persona campaigns BOT list|show ID|cancel ID --store URL``: the campaigns kept in the store.

``list`` is one line per campaign (newest first) with its status and counts; ``show`` is one
campaign's audience, scripts, time and progress per gate outcome; ``cancel`` stops one before its
time or between two customers (customers already reached keep what they got).
"""

from __future__ import annotations

import argparse
from datetime import datetime
from zoneinfo import ZoneInfo

from ..engine.campaigns import Book, Progress, Status
from ..engine.loop import run_loop
from ..errors import PersonaError
from ..model.persona import load_persona
from .arguments import add_bot, add_store, open_for


def arguments(p: argparse.ArgumentParser) -> None:
    """``persona campaigns``'s arguments (its help texts are in ``commands.toml``)."""
    add_bot(p)
    p.add_argument("action", choices=("list", "show", "cancel"), help="list, show ID or cancel ID")
    p.add_argument("id", nargs="?", metavar="ID", help="the campaign (show, cancel)")
    add_store(p)
    p.add_argument("--by", default="cli", metavar="NAME", help="who cancels it (kept with the campaign)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    cls = load_persona(args.bot)
    if args.action != "list" and not args.id:
        raise PersonaError(f"persona campaigns {args.action} needs the campaign's ID (persona campaigns BOT list)")
    store = open_for(args.store, args.namespace or cls.name)

    async def main() -> int:
        book = Book(store)
        try:
            if args.action == "list":
                ids = await book.ids()
                if not ids:
                    print("no campaigns yet: persona broadcast BOT AUDIENCE SCRIPT --at TIME schedules one")
                for campaign_id in ids:
                    print(summary(await book.progress(campaign_id), cls.timezone))
            elif args.action == "show":
                for line in details(await book.progress(args.id), cls.timezone):
                    print(line)
            else:
                before = await book.status(args.id)
                await book.cancel(args.id, args.by)
                print(f"campaign {args.id} cancelled" + (" (it was running: it stops between two customers)"
                                                         if before is Status.RUNNING else ""))
        finally:
            await store.close()
        return 0

    return run_loop(main())


def summary(progress: Progress, tz: str) -> str:
    c, t = progress.campaign, progress.tally
    return (f"{c.id:<8} {progress.status:<10} {c.when.describe(tz):<40} {c.split}  to {c.audience}  "
            f"(sent {t.sent}, deferred {t.deferred}, dropped {sum(t.dropped.values())})")


def details(progress: Progress, tz: str) -> list[str]:
    c, run = progress.campaign, progress.run
    rows = [("audience", c.audience), ("scripts", str(c.split)), ("when", c.when.describe(tz)), ("by", c.by),
            ("started", _time(run.started, tz)), ("finished", _time(run.finished, tz)),
            ("next", f"{_time(run.next, tz)} (customers in later time zones)"
             if progress.status is Status.RUNNING and run.next else ""),
            ("cancelled", f"by {progress.cancelled_by}" if progress.cancelled_by else "")]
    lines = [f"campaign {c.id}: {progress.status}"] + [f"  {label:<12}{value}" for label, value in rows if value]
    lines += [f"  {line}" for line in progress.tally.lines()]
    if len(progress.scripts) > 1 or len(c.split.weights) > 1:
        lines += [f"  script {name}: {progress.scripts.get(name, 0)} customers" for name in c.split.scripts]
    return lines


def _time(epoch: float | None, tz: str) -> str:
    if not epoch:
        return ""
    return datetime.fromtimestamp(epoch, ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M:%S")
