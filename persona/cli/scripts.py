"""``persona scripts list|publish|history|rollback|report BOT ... --store URL``: live scripts.

For content writers: change what customers read in a running bot without a deploy. Every
publish is linted against the bot first (``publish`` exits 1 with lint's findings and stores
nothing), kept as a numbered version, and live in every ``persona serve`` and ``persona
worker`` process on the store within seconds. ``rollback`` brings back any version (0 is the
file) as a new one. ``--variant b --weight 50`` publishes an A/B variant; ``report`` tells a
win from noise.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Awaitable

from ..clock import parse_duration
from ..content.scripts.report import HORIZON
from ..errors import PersonaError, ScriptRejected
from .arguments import add_bot, add_store

if TYPE_CHECKING:
    from ..content.scripts.versions import ScriptVersion

EXIT_OK, EXIT_REFUSED = 0, 1
TIME = "%Y-%m-%d %H:%M"


def arguments(p: argparse.ArgumentParser) -> None:
    """``persona scripts``'s arguments (its help texts are in ``commands.toml``)."""
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)

    def action(name: str, help: str, run: Any, script: bool = True) -> argparse.ArgumentParser:
        a: argparse.ArgumentParser = sub.add_parser(name, help=help, description=help)
        add_bot(a)
        if script:
            a.add_argument("script", metavar="SCRIPT", help="script name without .j2, e.g. welcome")
        add_store(a)
        a.set_defaults(run=run)
        return a

    action("list", "every script with its live version, variants and who published it when", _list, script=False)
    pub = action("publish", "publish FILE as the new live text of SCRIPT (linted first)", _publish)
    pub.add_argument("file", metavar="FILE", help="the new text ('-' reads stdin)")
    pub.add_argument("--note", default="", help="why (shown in history)")
    pub.add_argument("--author", default=None, help="who (default: the login name)")
    pub.add_argument("--variant", default=None, metavar="V", help="publish as variant V of an A/B test (e.g. b)")
    pub.add_argument("--weight", type=float, default=None, metavar="W",
                     help="the variant's share, relative to the others (the script's own text is "
                          "variant a at 50); 0 stops a variant")
    hist = action("history", "versions of SCRIPT, newest first, with diff stats", _history)
    hist.add_argument("--diff", action="store_true", help="print each version's diff too")
    back = action("rollback", "bring back an earlier version of SCRIPT (as a new version)", _rollback)
    back.add_argument("--to", type=int, default=None, metavar="N",
                      help="the version to bring back (default: the one before the live one; 0 is the file)")
    back.add_argument("--author", default=None, help="who (default: the login name)")
    back.add_argument("--note", default="", help="why (shown in history)")
    rep = action("report", "per variant: customers, messages and who reached the goal", _report)
    rep.add_argument("--goal", required=True, metavar="state:NAME|event:NAME",
                     help="success: entering a state or a business event")
    rep.add_argument("--within", default="7d", metavar="DURATION",
                     help="after the customer's first message of the script (default 7d)")
    rep.add_argument("--confidence", type=float, default=0.95, help="of the intervals (default 0.95)")
    rep.add_argument("--horizon", type=int, default=HORIZON, metavar="N",
                     help="customers per variant a verdict waits for, fixed before the test starts; the "
                          f"verdict reads the first N of each (default {HORIZON})")


def _catalog(args: argparse.Namespace) -> Any:
    from ..content.scripts.catalog import open_catalog

    return open_catalog(args.bot, args.store, args.namespace)


def _author(args: argparse.Namespace) -> str:
    if args.author:
        return str(args.author)
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _when(at: float) -> str:
    return datetime.fromtimestamp(at).strftime(TIME) if at else "-"


def _list(args: argparse.Namespace) -> int:
    async def go() -> int:
        async with _catalog(args) as catalog:
            rows = await catalog.scripts()
        print(f"{'script':<24} {'live':>5}  {'variants':<20} who / when")
        for row in rows:
            v = row.version
            variants = " ".join(f"{name}:{weight:g}" for name, weight in row.variants) if len(row.variants) > 1 else "-"
            who = f"{v.author or '-'} {_when(v.at)}" + (f"  {v.note}" if v.note else "") if v.number else "the file"
            print(f"{row.script:<24} {'v' + str(v.number):>5}  {variants:<20} {who}")
        return EXIT_OK
    return asyncio.run(go())


def _publish(args: argparse.Namespace) -> int:
    text = _read(args.file)

    async def go() -> int:
        async with _catalog(args) as catalog:
            return await _new_version(catalog.publish(args.script, text, author=_author(args), note=args.note,
                                                      variant=args.variant, weight=args.weight))
    return asyncio.run(go())


async def _new_version(change: Awaitable[ScriptVersion]) -> int:
    """Print the version a publish or rollback made (exit 0), or lint's refusal (exit 1)."""
    try:
        version = await change
    except ScriptRejected as exc:
        print(f"persona: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    print(version.number)
    return EXIT_OK


def _history(args: argparse.Namespace) -> int:
    async def go() -> int:
        async with _catalog(args) as catalog:
            entries = await catalog.history(args.script)
        for entry in entries:
            v = entry.version
            variants = " ".join(f"{x.name}:{x.weight:g}" for x in v.variants) if len(v.variants) > 1 else ""
            what = "the file" if v.number == 0 else f"{v.action}" + (
                f" of v{v.restores}" if v.restores is not None else "")
            print(f"v{v.number:<4} {_when(v.at):<16} {v.author or '-':<12} +{entry.added} -{entry.removed}"
                  f"  {what}" + (f"  [{variants}]" if variants else "") + (f"  {v.note}" if v.note and v.number else ""))
            if args.diff and entry.diff:
                print("    " + entry.diff.replace("\n", "\n    "))
        return EXIT_OK
    return asyncio.run(go())


def _rollback(args: argparse.Namespace) -> int:
    async def go() -> int:
        async with _catalog(args) as catalog:
            return await _new_version(catalog.rollback(args.script, to=args.to, author=_author(args),
                                                       note=args.note))
    return asyncio.run(go())


def _report(args: argparse.Namespace) -> int:
    from ..content.scripts.report import Goal, script_report

    goal = Goal.parse(args.goal)
    try:
        within = parse_duration(args.within).total_seconds()
    except ValueError as exc:
        raise PersonaError(f"--within: {exc}") from None

    async def go() -> int:
        async with _catalog(args) as catalog:
            report = await script_report(catalog.store, args.script, goal, within,
                                         args.confidence, args.horizon)
        pct = f"{report.confidence:.0%}"
        print(f"{args.script}: goal {goal} within {args.within} of the first message ({pct} intervals)")
        print(f"{'variant':<8} {'customers':>9} {'messages':>8} {'reached':>7} {'rate':>7}  interval")
        for f in report.variants:
            print(f"{f.variant:<8} {f.customers:>9} {f.messages:>8} {f.reached:>7} {f.rate:>7.1%}  "
                  f"{f.low:.1%} .. {f.high:.1%}")
        if not report.variants:
            print("(no customer has been sent this script yet)")
        for c in report.comparisons:
            print(f"{c.variant} vs {c.control}: {c.difference:+.1%} ({c.low:+.1%} .. {c.high:+.1%}): {c.says}")
        return EXIT_OK
    return asyncio.run(go())


def _read(path: str) -> str:
    try:
        return sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PersonaError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None
