"""The webhook service as an aiohttp application, for ``persona serve`` or any aiohttp app.

Routes (``{bot}`` is the persona's ``name``)::

    GET  /wechat/{bot}   URL verification (Official Account or WeCom)
    POST /wechat/{bot}   callbacks
    POST /events/{bot}   business events (JSON, HMAC-signed)
    GET  /forms/{bot}/{form}   a form, for the customer its signed link names
    POST /forms/{bot}/{form}   its answers: a business event for that customer
    GET  /healthz        200 when every store answers, else 503
    GET  /metrics        Prometheus text

To serve persona beside an existing site, mount it: ``site.add_subapp("/persona/",
create_app(bots))``; the bots start and stop with the parent application.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping, Sequence

from aiohttp import web

from ..engine.bot import Bot
from ..metrics import Metrics, merge
from ..wechat.protocol import MAX_BODY_BYTES
from ..engine.spool import Spool, replay
from . import codes, events, forms, health, wechat
from .context import STATE, Mounted, ServiceState
from .siblings import Siblings

log = logging.getLogger(__name__)

#: WeChat waits 5 s for an answer; 4 s leaves room for the network and the reply itself.
DEFAULT_DEADLINE = 4.0

#: Seconds a client may take to send a request's headers, and then its body. WeChat sends a
#: few hundred bytes at once; a connection dribbling bytes is holding a slot, not sending.
DEFAULT_READ_TIMEOUT = 10.0


def create_app(bots: Sequence[Bot], *, deadline: float = DEFAULT_DEADLINE,
               environ: Mapping[str, str] | None = None, metrics: Metrics | None = None,
               run_bots: bool = True, scheduler: bool = True, delivery: bool = True,
               max_body: int = MAX_BODY_BYTES, max_event_body: int = MAX_BODY_BYTES,
               max_batch: int = 1000, ping_timeout: float = 2.0,
               read_timeout: float = DEFAULT_READ_TIMEOUT,
               spool: Spool | str | None = None, adopt: Sequence[Spool | str] = (),
               siblings: Siblings | None = None) -> web.Application:
    """An application serving ``bots``, each under ``/wechat/{name}`` and ``/events/{name}``.

    ``deadline``: seconds a callback waits for its turn before answering ``success`` and
    leaving every message to delivery. ``environ``: where callback and event credentials come
    from (default: each bot's own ``bot.environ``); ``<BOTNAME>_WECHAT_TOKEN`` and friends
    override the plain names per bot (build the Bot with ``environ=bot_environ(os.environ,
    name)`` so its delivery uses the same account). ``run_bots``: start each bot's scheduler and delivery with the app (turn
    off when the caller runs the bots itself); ``scheduler``/``delivery`` pick which.
    ``read_timeout``: seconds a request's body may take to arrive before the answer is 408
    (the headers' timeout belongs to the server: ``persona serve`` sets aiohttp's
    ``keepalive_timeout`` to the same value). ``metrics``: where the service counts callbacks (default: the first bot's, so a shared
    Metrics renders as one page). ``spool``: this process's spool file; ``adopt``: spool files
    no process writes any more (those of workers a smaller ``--workers`` no longer starts),
    replayed here until empty. ``siblings``: the other processes of ``persona serve --workers``,
    whose figures ``/metrics`` adds to this process's.
    """
    if deadline <= 0:
        raise ValueError("deadline must be positive (seconds)")
    if read_timeout <= 0:
        raise ValueError("read_timeout must be positive (seconds)")
    mounted: dict[str, Mounted] = {}
    for bot in bots:
        if bot.name in mounted:
            raise ValueError(f"two bots are named {bot.name!r}; each needs its own path")
        mounted[bot.name] = Mounted.build(bot, bot.environ if environ is None else environ)
        m = mounted[bot.name]
        if m.wechat is None and m.wecom is None:
            log.warning("bot=%s has no WECHAT_TOKEN or WECOM_TOKEN: /wechat/%s answers 404",
                        bot.name, bot.name)
        if m.event_secret is None:
            log.warning("bot=%s has no PERSONA_EVENT_SECRET: /events/%s refuses every event",
                        bot.name, bot.name)
        if bot.persona.forms and bot.persona.form_links is None:
            log.warning("bot=%s declares forms but PERSONA_PUBLIC_URL or PERSONA_FORM_SECRET is not set: "
                        "scripts with form_link() do not render and /forms/%s refuses every link",
                        bot.name, bot.name)
    state = ServiceState(
        bots=mounted, metrics=metrics or (bots[0].metrics if bots else Metrics()),
        deadline=deadline, max_body=max_body, max_event_body=max_event_body, max_batch=max_batch,
        run_bots=run_bots, scheduler=scheduler, delivery=delivery, ping_timeout=ping_timeout,
        read_timeout=read_timeout, spool=Spool(spool) if isinstance(spool, str) else spool,
        adopted=[Spool(s) if isinstance(s, str) else s for s in adopt], siblings=siblings)
    app = web.Application(client_max_size=max(max_body, max_event_body))
    app[STATE] = state
    app.router.add_get("/wechat/{bot}", wechat.verify, allow_head=False)
    app.router.add_post("/wechat/{bot}", wechat.callback)
    app.router.add_post("/events/{bot}", events.post_event)
    forms.add_routes(app)
    app.router.add_get("/healthz", health.healthz, allow_head=False)
    app.router.add_get("/metrics", health.metrics, allow_head=False)
    app.router.add_get("/c/{bot}/{channel}", codes.landing, allow_head=False)
    app.cleanup_ctx.append(_lifecycle)
    return app


async def _lifecycle(app: web.Application) -> AsyncIterator[None]:
    """Start the bots with the app; on shutdown let deferred turns finish, then stop them."""
    state = app[STATE]
    started: list[Bot] = []
    for mounted in state.bots.values():  # sends left unacked by workers no longer started
        mounted.bot.deliverer.adopted += state.adopted
    if state.run_bots:
        for mounted in state.bots.values():
            await mounted.bot.start(scheduler=state.scheduler, delivery=state.delivery)
            started.append(mounted.bot)
    stop_replay = asyncio.Event()
    runtimes = {name: mounted.bot.runtime for name, mounted in state.bots.items()}
    spools = ([state.spool] if state.spool is not None else []) + state.adopted
    background = [asyncio.create_task(replay(spool, runtimes, stop_replay, metrics=state.metrics),
                                      name=f"persona-spool-replay-{spool.path.name}") for spool in spools]
    if state.siblings is not None:
        background.append(asyncio.create_task(
            state.siblings.run(lambda: merge(state.metric_sources()), stop_replay),
            name="persona-metrics-snapshot"))
    try:
        yield
    finally:
        if state.background:
            # a turn answered "success" at the deadline must still commit, or its messages are lost
            _, pending = await asyncio.wait(set(state.background), timeout=state.deadline + 10)
            for task in pending:
                log.error("a turn was still running at shutdown; %s", "it is replayed from the spool "
                          "at the next start" if state.spool else "WeChat will not retry it")
                task.cancel()
            if pending:
                await asyncio.wait(pending)
        stop_replay.set()
        for task, result in zip(background, await asyncio.gather(*background, return_exceptions=True)):
            if isinstance(result, Exception):  # the rest of the shutdown still runs
                log.error("%s ended with %s: %s", task.get_name(), type(result).__name__, result)
        for bot in started:
            try:
                await bot.stop()
            except Exception:
                log.exception("bot=%s did not stop cleanly", bot.name)
        for spool in spools:  # after the bots: delivery forgets its acked sends as it stops
            spool.close()
