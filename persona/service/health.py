"""``GET /healthz`` and ``GET /metrics``.

Health means "every store takes a write": a load balancer should stop sending callbacks to
a process whose store is gone, full or read-only (those callbacks would get 503 anyway). A PING
is not enough — a full Redis answers it and refuses every commit — so each check rewrites one
small key, at most once a second per bot, and the answer says why a store is not healthy. Metrics merge the
service's counters with each bot's (runtime, gate, scheduler, delivery) into one Prometheus
text page, whether the bots share one :class:`~persona.metrics.Metrics` or not.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from aiohttp import web

from ..engine import census
from ..metrics import merge
from ..store import Store
from ..engine.spool import SpoolError
from . import logs
from .context import ServiceState, state_of

log = logging.getLogger(__name__)

PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


#: Seconds one store check answers for.
HEALTH_TTL = 1.0


async def healthz(request: web.Request) -> web.Response:
    """200 when every bot's store takes a write within the timeout, else 503 with the reasons:
    ``{"status", "bots": {name: "ok"|"unavailable"}, "reasons": {name: why}}``."""
    state = state_of(request)
    names = list(state.bots)
    results = await asyncio.gather(*(_check(state, name) for name in names))
    healthy = all(r is None for r in results)
    body: dict[str, Any] = {"status": "ok" if healthy else "unavailable",
                            "bots": {n: "ok" if r is None else "unavailable" for n, r in zip(names, results)}}
    if not healthy:
        body["reasons"] = {n: r for n, r in zip(names, results) if r is not None}
    return web.Response(status=200 if healthy else 503, content_type="application/json",
                        text=json.dumps(body, ensure_ascii=False, separators=(",", ":")))


async def _check(state: ServiceState, name: str) -> str | None:
    """None when the bot's store answers and takes a write, else why not (cached a second)."""
    now = asyncio.get_running_loop().time()
    cached = state.health.get(name)
    if cached is not None and now - cached[0] < HEALTH_TTL:
        return cached[1]
    store = state.bots[name].bot.store
    reason: str | None = None
    try:
        await asyncio.wait_for(_ping_and_write(store), state.ping_timeout)
    except asyncio.TimeoutError:
        reason = f"the store did not answer within {state.ping_timeout:g} s"
    except Exception as exc:  # any failure is "not healthy"; the reason says which
        reason = logs.redact(str(exc) or type(exc).__name__)
    if reason is not None and (cached is None or cached[1] != reason):
        log.warning("bot=%s store is not healthy: %s", name, reason)  # once per change, not per poll
    elif reason is None and cached is not None and cached[1] is not None:
        log.info("bot=%s store is healthy again", name)
    state.health[name] = (asyncio.get_running_loop().time(), reason)
    return reason


async def _ping_and_write(store: Store) -> None:
    await store.ping()
    await store.probe_write()


async def metrics(request: web.Request) -> web.Response:
    """Every counter and histogram of the service and its bots, in Prometheus text format."""
    state = state_of(request)
    await _gauges(state)
    page = merge(state.metric_sources())
    if state.siblings is not None:
        page = state.siblings.combine(page)
    return web.Response(body=page.render().encode("utf-8"),
                        headers={"Content-Type": PROMETHEUS_CONTENT_TYPE})


async def _gauges(state: ServiceState) -> None:
    """Read at scrape time: what is waiting in each store, turns still running, and customers
    per state (tallies the commits keep, so no scan)."""
    state.metrics.set("turns_in_background", len(state.background))
    if state.spool is not None:
        for name in state.bots:
            try:
                state.metrics.set("spool_pending", state.spool.size(name), persona=name)
            except SpoolError:
                break
    for name, mounted in state.bots.items():
        store = mounted.bot.store
        for gauge, read in (("outbox_pending", store.outbox_size), ("timers_pending", store.count_timers)):
            try:
                value = await asyncio.wait_for(read(), state.ping_timeout)
            except Exception:  # a scrape must not fail because one store is slow
                continue
            state.metrics.set(gauge, value, persona=name)
        try:
            counts = await asyncio.wait_for(census.per_state(store), state.ping_timeout)
        except Exception:
            continue
        for customer_state in dict.fromkeys([*type(mounted.bot.persona).states, *counts]):
            state.metrics.set("customers", counts.get(customer_state, 0), persona=name, state=customer_state)


