"""``persona serve BOT [BOT...]``: the webhook service plus each bot's scheduler and delivery.

One process can serve several bots, each on ``/wechat/{name}`` and ``/events/{name}``. A small
brand runs one process on the embedded SQLite store; a large one runs many, on many machines,
all on one Redis (``--store redis://HOST:PORT/DB``): every process takes callbacks, fires
timers and delivers messages, and the store keeps them from doing anything twice.
``--workers N`` starts N such processes on one port for a machine with N cores
(:mod:`persona.cli.supervisor`). Before listening, each bot's persona is checked against the
shape its store's customers are in: a state or timer that disappeared with customers in it and no migration covering it stops
the start (see ``persona migrate``). SIGTERM or SIGINT stops gracefully: requests in hand are answered, turns still running finish,
then the bots stop.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
from typing import TYPE_CHECKING, Any, Callable

from ..errors import PersonaError, StoreLayoutError
from ..engine.loop import run_loop
from ..wechat.channels.tokens import ACCOUNTS_NAMESPACE
from ..engine.spool import DEFAULT_PATH as DEFAULT_SPOOL, MAX_WORKERS, Spool, leftovers
from ..store import DEFAULT_URL, open_store
from .arguments import add_bot

if TYPE_CHECKING:
    from ..engine.bot import Bot

log = logging.getLogger(__name__)

DEFAULT_HOST = "0.0.0.0"
DEFAULT_PORT = 8080


def arguments(p: argparse.ArgumentParser) -> None:
    """``persona serve``'s arguments (its help texts are in ``commands.toml``)."""
    add_bot(p, many=True)
    p.add_argument("--host", default=DEFAULT_HOST, help=f"address to listen on (default {DEFAULT_HOST})")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    p.add_argument("--store", default=DEFAULT_URL,
                   help=f"sqlite:///PATH, redis://HOST:PORT/DB or memory:// (default {DEFAULT_URL})")
    p.add_argument("--no-scheduler", action="store_true",
                   help="do not fire timers here (run `persona worker` processes instead)")
    p.add_argument("--no-delivery", action="store_true",
                   help="do not deliver queued messages from this process")
    p.add_argument("--workers", type=_workers, default=1, metavar="N",
                   help="processes sharing the port, each with its own spool file (PATH, PATH-2, ...); "
                        "auto: one per core (default 1; Linux)")
    p.add_argument("--deadline", type=float, default=4.0, metavar="SECONDS",
                   help="how long a callback waits for its turn before answering 'success' and "
                        "leaving the messages to delivery (default 4; WeChat gives up at 5)")
    p.add_argument("--read-timeout", type=float, default=10.0, metavar="SECONDS",
                   help="how long a client may take to send a request's headers, and then its "
                        "body, before the connection is closed (default 10)")
    p.add_argument("--reload", action="store_true",
                   help="development: watch each bot's scripts/ folder and swap in an edited script "
                        "that passes lint (lint's findings are logged otherwise)")
    p.add_argument("--spool", default=DEFAULT_SPOOL, metavar="PATH",
                   help="a local file keeping callbacks answered 'success' before their turn "
                        f"committed, replayed until the store takes them (default {DEFAULT_SPOOL}; "
                        "created when first needed)")
    p.add_argument("--log-format", choices=("kv", "json"), default="kv",
                   help="one key=value or JSON line per request (default kv)")
    p.add_argument("--log-level", default="INFO", help="default INFO")
    # set for each process of --workers N by the supervisor
    p.set_defaults(run=run, worker=None, metrics_dir=None, peer_spools=[])


def _workers(text: str) -> int:
    if text == "auto":
        return os.cpu_count() or 1
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of processes (or auto)") from None


def run(args: argparse.Namespace) -> int:
    """Check the options, then serve until SIGTERM/SIGINT."""
    if not 1 <= args.workers <= MAX_WORKERS:
        raise PersonaError(f"--workers must be between 1 and {MAX_WORKERS}")
    if args.deadline <= 0 or args.deadline >= 5:
        raise PersonaError("--deadline must be between 0 and 5 seconds: WeChat stops waiting at 5")
    if args.read_timeout <= 0:
        raise PersonaError("--read-timeout must be a positive number of seconds")
    if not 0 <= args.port <= 65535:
        raise PersonaError(f"--port {args.port} is not a port number")
    from ..service import logs

    logs.configure(args.log_format, args.log_level)
    if args.workers == 1:
        return _serve_process(args, reuse_port=False)
    from .supervisor import supervise

    return supervise(args, serve)


def _serve_process(args: argparse.Namespace, *, reuse_port: bool) -> int:
    return run_loop(serve(args, reuse_port=reuse_port))


async def serve(args: argparse.Namespace, *, reuse_port: bool = False,
                stop: asyncio.Event | None = None, ready: Callable[[], None] | None = None) -> int:
    """Build the bots and the app, listen, and wait for ``stop`` (or a signal).

    ``ready`` is called once the port is listening (the supervisor of ``--workers`` waits for it).
    """
    from aiohttp import web

    from ..engine.bot import Bot
    from ..engine.delivery import SentLog
    from ..metrics import Metrics
    from ..migrate.shape import ensure_compatible
    from ..model.persona import load_persona
    from ..service import create_app
    from ..service.context import bot_environ
    from ..service.siblings import Siblings

    metrics = Metrics()
    bots: list[Bot] = []
    try:
        # every bot keeps its accounts' tokens in one namespace: bots on one appid share one
        accounts = open_store(args.store, ACCOUNTS_NAMESPACE)
    except ValueError as exc:
        raise PersonaError(str(exc)) from None
    spool = Spool(args.spool)  # the inputs answered before they committed, the sends not yet acked
    peers: list[SentLog] = [Spool(p) for p in args.peer_spools]  # the other workers' (--workers N)
    try:
        for path in args.bots:
            cls = load_persona(path)
            # <BOTNAME>_WECHAT_APPID etc. apply to sending as well as to callbacks
            bots.append(Bot(cls, args.store, metrics=metrics, environ=bot_environ(os.environ, cls.name),
                            accounts=accounts, sent_log=spool))
            bots[-1].deliverer.peers = peers
        app = create_app(bots, deadline=args.deadline, metrics=metrics,
                         scheduler=not args.no_scheduler, delivery=not args.no_delivery,
                         read_timeout=args.read_timeout, spool=spool,
                         # the first process replays what workers no longer started left behind
                         adopt=[str(p) for p in leftovers(args.spool, args.workers)] if args.worker in (None, 1) else [],
                         siblings=Siblings(args.metrics_dir) if args.metrics_dir else None)
    except ValueError as exc:  # a store URL or option the store refuses
        for bot in bots:
            await bot.store.close()
        await accounts.close()
        raise PersonaError(str(exc)) from None
    except BaseException:
        for bot in bots:
            await bot.store.close()
        await accounts.close()
        raise
    for bot in bots:
        _warn_unroutable(bot)
        try:
            await asyncio.wait_for(bot.store.ping(), 5)
        except StoreLayoutError:  # data this version does not read: the message names the command
            for each in bots:
                await each.store.close()
            await accounts.close()
            raise
        except Exception as exc:
            from ..service.logs import redact

            log.warning("bot=%s store is not reachable yet (%s); /healthz answers 503 until it is; "
                        "its customers' shape is not checked", bot.name, redact(str(exc)))
            continue
        try:
            await ensure_compatible(type(bot.persona), bot.store)
        except PersonaError:
            for each in bots:
                await each.store.close()
            raise
    try:
        for bot in bots:
            await bot.load_scripts()  # a bot whose scripts fail lint does not start
    except PersonaError:
        for bot in bots:
            await bot.store.close()
        raise
    # keepalive_timeout bounds a connection's idle time, and so how long its next request's
    # headers may take: aiohttp closes a connection still waiting for a whole request then
    runner = web.AppRunner(app, access_log=None, handle_signals=False,
                           shutdown_timeout=args.deadline + 1, keepalive_timeout=args.read_timeout)
    await runner.setup()
    try:
        site = web.TCPSite(runner, args.host, args.port, reuse_port=reuse_port or None)
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        await accounts.close()
        raise PersonaError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}") from None
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):  # not the main thread, or not POSIX
            pass
    watchers = [asyncio.create_task(_watch(bot, stop), name=f"{bot.name}-watch") for bot in bots
                if args.reload]
    if ready is not None:
        ready()
    names = ", ".join(f"/wechat/{b.name} /events/{b.name}" for b in bots)
    log.info("serving %s on http://%s:%s (store %s)", names, args.host, args.port,
             _store_label(args.store))
    try:
        await stop.wait()
    finally:
        log.info("stopping")
        await asyncio.gather(*watchers, return_exceptions=True)
        await runner.cleanup()
        await accounts.close()
    return 0


async def _watch(bot: Any, stop: asyncio.Event) -> None:
    """``--reload``: swap in edited scripts that pass lint; log lint's findings otherwise."""
    from ..content.scripts.live import watch_folder

    await watch_folder(type(bot.persona), bot.persona.scripts, stop,
                       lambda line: log.info("bot=%s %s", bot.name, line))


def _warn_unroutable(bot: "Bot") -> None:
    """Say at start-up what would otherwise only show as dead letters: staff messages on a bot
    without WeCom credentials have no way out."""
    if bot.environ.get("WECOM_CORPID") and bot.environ.get("WECOM_SECRET"):
        return
    from ..content.lint.reach import staff_messages

    sites = staff_messages(type(bot.persona))
    if sites:
        where = ", ".join(f"{s.file}:{s.line}" for s in sites[:3]) + (" ..." if len(sites) > 3 else "")
        log.warning("bot=%s sends messages to staff (%s) but has no WeCom credentials: set WECOM_CORPID, "
                    "WECOM_SECRET and WECOM_AGENTID, or those messages are dead-lettered as unroutable",
                    bot.name, where)


def _store_label(url: str) -> str:
    from ..service.logs import redact

    return redact(url)
