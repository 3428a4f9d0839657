"""``persona worker``: a process that only does the clock's work: timers and due 群发 campaigns.

A brand with millions of customers runs the webhook service for callbacks and as many workers
as the clock needs, all on one Redis store; each worker claims due timers with a lease, so
they share the work and a worker that dies loses nothing. Messages the timers produce are
committed to the store's outbox; delivering them is another loop's job (``persona serve``),
or this process's if an ``on_commit`` hook is given::

    python -m persona.worker bots.xiaowanzi --store redis://127.0.0.1:6379/0

SIGTERM or SIGINT stops it gracefully: the batch in hand is finished, then it exits (a second
signal stops it at once; unfinished timers are claimed again when their lease runs out).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from typing import Sequence

from .clock import Clock
from .errors import PersonaError
from .engine.loop import run_loop
from .metrics import Metrics
from .migrate.shape import ensure_compatible
from .model.persona import load_persona
from .service.context import bot_environ
from .engine.broadcast import speaker
from .engine.campaigns import CampaignRunner
from .engine.runtime import CommitHook, Runtime
from .engine.scheduler import Scheduler
from .content.scripts.checking import check_scripts
from .content.scripts.live import ScriptPoller
from .store import DEFAULT_URL, open_store
from .store.versions import ScriptVersionStore

log = logging.getLogger("persona.worker")  # by its module name also when run as __main__

DEFAULT_BATCH = 500
DEFAULT_LEASE = 60.0
DEFAULT_CONCURRENCY = 64


def build_runtime(bot_path: str, store_url: str = DEFAULT_URL, *, clock: Clock | None = None,
                  metrics: Metrics | None = None, namespace: str | None = None) -> Runtime:
    """The persona at ``bot_path`` on the store at ``store_url``, namespaced by the persona's name
    (the same namespace ``persona serve`` uses, so both see the same customers and timers)."""
    persona_cls = load_persona(bot_path)
    store = open_store(store_url, namespace=namespace or persona_cls.name)
    persona = persona_cls.for_brand(bot_environ(os.environ, persona_cls.name))
    return Runtime(persona, store, clock, metrics=metrics)


async def run_worker(bot_path: str, store_url: str = DEFAULT_URL, *, stop: asyncio.Event | None = None,
                     batch: int = DEFAULT_BATCH, lease: float = DEFAULT_LEASE,
                     concurrency: int = DEFAULT_CONCURRENCY, idle: float = 0.5,
                     clock: Clock | None = None, metrics: Metrics | None = None,
                     on_commit: CommitHook | None = None, namespace: str | None = None,
                     handle_signals: bool = True) -> int:
    """Fire the timers of the bot at ``bot_path`` until ``stop`` is set (or SIGTERM/SIGINT).

    ``on_commit`` is called with the outbox items of every turn that committed some (the
    place to wake a delivery loop); without it they wait in the store for ``persona serve``.
    ``namespace`` overrides the persona's name as the store namespace. Returns how many timer
    turns this worker ran.
    """
    runtime = build_runtime(bot_path, store_url, clock=clock, metrics=metrics, namespace=namespace)
    if on_commit is not None:
        runtime.commit_hooks.append(on_commit)
    scheduler = Scheduler(runtime, batch=batch, lease=lease, concurrency=concurrency, idle=idle)
    # campaigns are claimed with a lease like timers: any number of workers and serves share them
    campaigns = CampaignRunner(Runtime(speaker(runtime.persona), runtime.store, runtime.clock, metrics=runtime.metrics))
    if on_commit is not None:
        campaigns.runtime.commit_hooks.append(on_commit)
    stop = stop if stop is not None else asyncio.Event()
    main = asyncio.current_task()
    installed: list[signal.Signals] = []

    def on_signal(sig: signal.Signals) -> None:
        if not stop.is_set():
            log.info("%s: finishing the batch in hand, then stopping (again to stop at once)", sig.name)
            stop.set()
        elif main is not None:
            log.warning("%s again: stopping now; unfinished timers return after their lease", sig.name)
            main.cancel()

    loop = asyncio.get_running_loop()
    if handle_signals:
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                loop.add_signal_handler(sig, on_signal, sig)
                installed.append(sig)
            except (NotImplementedError, RuntimeError, ValueError):  # not the main thread / Windows
                pass
    poller = _script_poller(runtime)
    try:
        await runtime.store.ping()
        await ensure_compatible(type(runtime.persona), runtime.store)
        if poller is not None:
            await poller.refresh()
        check_scripts(type(runtime.persona), runtime.persona.scripts,
                      f"worker for {runtime.name!r} does not start: its scripts fail lint")
        log.info("worker for %s on %s: batch=%d lease=%gs", runtime.name, store_url, batch, lease)
        polling = asyncio.create_task(poller.run(stop)) if poller is not None else None
        running = asyncio.create_task(campaigns.run(stop), name=f"{runtime.name}-campaigns")
        try:
            await scheduler.run(stop)
        finally:
            stop.set()  # the campaign in hand stops between two customers; its lease lets another finish it
            await asyncio.gather(running, return_exceptions=True)
            if polling is not None:
                polling.cancel()
                await asyncio.gather(polling, return_exceptions=True)
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
        await runtime.store.close()
    log.info("worker for %s stopped after %d timers", runtime.name, scheduler.fired)
    return scheduler.fired


def _script_poller(runtime: Runtime) -> ScriptPoller | None:
    """Timers render scripts too: a worker follows the published versions like ``serve`` does."""
    if not isinstance(runtime.store, ScriptVersionStore):
        return None
    return ScriptPoller(runtime.persona.scripts, runtime.store, name=runtime.name)


def build_parser(parser: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    """The worker's arguments (``persona worker`` adds the same ones to its subcommand)."""
    parser = parser or argparse.ArgumentParser(
        prog="python -m persona.worker", description="Fire a persona's timers until stopped.")
    parser.add_argument("bot", help="the bot's import path, e.g. bots.xiaowanzi")
    parser.add_argument("--store", default=DEFAULT_URL,
                        help=f"store URL: sqlite:///PATH, redis://HOST:PORT/DB, memory:// (default {DEFAULT_URL})")
    parser.add_argument("--batch", type=int, default=DEFAULT_BATCH, help="timers claimed per store call")
    parser.add_argument("--lease", type=float, default=DEFAULT_LEASE,
                        help="seconds a claimed timer is hidden from other workers")
    parser.add_argument("--concurrency", type=int, default=DEFAULT_CONCURRENCY,
                        help="customers processed at once")
    parser.add_argument("--namespace", default=None,
                        help="store namespace (default: the persona's name, as persona serve uses)")
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING...")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        run_loop(run_worker(args.bot, args.store, batch=args.batch, lease=args.lease,
                            concurrency=args.concurrency, namespace=args.namespace))
    except (PersonaError, ValueError) as exc:  # a bot that does not load, a bad store URL
        print(f"persona worker: {exc}", file=sys.stderr)
        return 2
    except (KeyboardInterrupt, asyncio.CancelledError):
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
