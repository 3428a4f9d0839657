"""``persona migrate BOT --store URL --dry-run|--apply``: move stored customers onto the bot's
current shape, as its ``migrations`` say (see :mod:`persona.migrate`).

The dry run reads every customer and prints what the apply would do; the apply does it in
batches through the same atomic per-customer commit as every turn (safe while ``persona
serve`` runs), shows its progress, and can be started again after an interruption.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from dataclasses import asdict
from typing import Any

from ..errors import PersonaError
from ..model.migrations import Late
from ..migrate.plan import DEFAULT_BATCH, DEFAULT_CONCURRENCY, Report, Tally, run as run_plan
from ..model.persona import load_persona
from ..engine.runtime import Runtime
from ..store import DEFAULT_URL, open_store
from . import EXIT_OK, EXIT_PROBLEMS


def arguments(p: argparse.ArgumentParser) -> None:
    """``persona migrate``'s arguments (its help texts are in ``commands.toml``)."""
    p.add_argument("bot", metavar="BOT", help="import path of a bot, e.g. bots.xiaowanzi")
    p.add_argument("--store", default=DEFAULT_URL, help=f"store URL (default {DEFAULT_URL})")
    p.add_argument("--namespace", help="store namespace (default: the bot's name)")
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument("--dry-run", action="store_true", help="only say what would change")
    mode.add_argument("--apply", action="store_true", help="change the customers")
    p.add_argument("--batch", type=int, default=DEFAULT_BATCH, help=f"customers per batch (default {DEFAULT_BATCH})")
    p.add_argument("--concurrency", type=int, default=DEFAULT_CONCURRENCY,
                   help=f"customers migrated at once (default {DEFAULT_CONCURRENCY})")
    p.add_argument("--past-due", choices=[str(x) for x in Late], default=None,
                   help="a backfilled timer whose moment has already passed (day 30 of a customer who "
                        "joined 40 days ago): skip it, or fire it at once; default: what each "
                        "migration's late= says (skip unless set)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    cls = load_persona(args.bot)
    if args.batch < 1 or args.concurrency < 1:
        raise PersonaError("--batch and --concurrency must be at least 1")
    try:
        store = open_store(args.store, args.namespace or cls.name)
    except ValueError as exc:
        raise PersonaError(str(exc)) from None

    async def go() -> Report:
        runtime = Runtime(cls(), store)
        try:
            return await run_plan(runtime, apply=args.apply, batch=args.batch, concurrency=args.concurrency,
                                  progress=None if args.json else _bar,
                                  late=Late(args.past_due) if args.past_due else None)
        finally:
            await store.close()

    report = asyncio.run(go())
    if args.json:
        print(json.dumps(_jsonable(report), ensure_ascii=False))
    else:
        print(render(report, cls.name, applied=args.apply))
    return EXIT_PROBLEMS if report.uncovered else EXIT_OK


def _bar(done: int, total: int) -> None:
    width = 30
    filled = width * done // total if total else width
    sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} customers")
    if done >= total:
        sys.stderr.write("\n")
    sys.stderr.flush()


def _row(label: str, tally: Tally) -> str:
    return f"  {label:<32} {tally.count:>7}   {' '.join(tally.examples)}"


def render(report: Report, name: str, *, applied: bool) -> str:
    """The report ``persona migrate`` prints."""
    verb = "migrated" if applied else "would migrate"
    lines = [f"{name}: generation {report.generation}; {report.customers} customers, {verb} "
             f"{report.migrated}, {report.current} already current"]
    if report.resumed_after is not None:
        lines.append(f"resumed after {report.resumed_after!r}: {report.skipped} customers done by an earlier run")
    sections: list[tuple[str, list[str]]] = [
        ("customers per state (old → new)", [_row(f"{a} → {b}", t) for (a, b), t in sorted(report.states.items())]),
        ("timers renamed", [_row(f"{a} → {b}", t) for (a, b), t in sorted(report.renamed.items())]),
        ("timers cancelled", [_row(n, t) for n, t in sorted(report.cancelled.items())]),
        ("timers newly armed", [_row(n, t) for n, t in sorted(report.armed.items())]),
        ("timers past their moment, not armed (--past-due fire arms them)",
         [_row(n, t) for n, t in sorted(report.late_skipped.items())]),
        ("timers past their moment, firing at once", [_row(n, t) for n, t in sorted(report.late_fired.items())]),
        ("attributes renamed", [_row(f"{a} → {b}", t) for (a, b), t in sorted(report.attrs.items())]),
        ("not covered by any migration (left as they are)", [_row(n, t) for n, t in sorted(report.uncovered.items())]),
    ]
    for title, rows in sections:
        lines.append(title)
        lines += rows or ["  (none)"]
    return "\n".join(lines)


def _jsonable(report: Report) -> dict[str, Any]:
    def pairs(d: dict[Any, Tally]) -> list[dict[str, Any]]:
        return [{"from": k[0], "to": k[1], **asdict(t)} if isinstance(k, tuple) else {"name": k, **asdict(t)}
                for k, t in sorted(d.items())]

    return {"generation": report.generation, "customers": report.customers, "current": report.current,
            "migrated": report.migrated, "resumed_after": report.resumed_after, "skipped": report.skipped,
            "states": pairs(report.states), "renamed": pairs(report.renamed), "cancelled": pairs(report.cancelled),
            "armed": pairs(report.armed), "late_skipped": pairs(report.late_skipped),
            "late_fired": pairs(report.late_fired), "attrs": pairs(report.attrs), "uncovered": pairs(report.uncovered)}
