"""``GET /healthz`` and ``GET /metrics``.

Health means "every store answers": a load balancer should stop sending callbacks to a
process whose store is gone (those callbacks would get 503 anyway). Metrics merge the
service's counters with each bot's (runtime, gate, scheduler, delivery) into one Prometheus
text page, whether the bots share one :class:`~persona.metrics.Metrics` or not.
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
from typing import Any

from aiohttp import web

from .. import census
from ..metrics import Metrics
from ..spool import SpoolError
from . import logs
from .context import ServiceState, state_of

log = logging.getLogger(__name__)

PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


async def healthz(request: web.Request) -> web.Response:
    """200 when every bot's store answers a ping within the timeout, else 503."""
    state = state_of(request)
    names = list(state.bots)
    results = await asyncio.gather(*(_ping(state, name) for name in names))
    report = dict(zip(names, results))
    healthy = all(r == "ok" for r in results)
    body = {"status": "ok" if healthy else "unavailable", "bots": report}
    return web.Response(status=200 if healthy else 503, content_type="application/json",
                        text=json.dumps(body, separators=(",", ":")))


async def _ping(state: ServiceState, name: str) -> str:
    store = state.bots[name].bot.store
    try:
        await asyncio.wait_for(store.ping(), state.ping_timeout)
    except Exception as exc:  # any failure, timeouts included, is "not healthy"
        log.warning("bot=%s store ping failed: %s", name, logs.redact(f"{type(exc).__name__}: {exc}"))
        return "unavailable"
    return "ok"


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


def merge(sources: list[Metrics]) -> Metrics:
    """One Metrics holding the sum of ``sources`` (one TYPE line per name when rendered)."""
    if len(sources) == 1:
        return sources[0]
    merged = Metrics(sources[0].prefix)
    for source in sources:
        for name, series in source.counters.items():
            for labels, value in series.items():
                merged.counters[name][labels] += value
        for name, gauges in source.gauges.items():
            merged.gauges[name].update(gauges)
        merged.bounds.update(source.bounds)
        for name, histograms in source.histograms.items():
            target: dict[Any, list[float]] = merged.histograms[name]
            for labels, buckets in histograms.items():
                if labels in target:
                    target[labels] = [a + b for a, b in zip(target[labels], buckets)]
                else:
                    target[labels] = copy.copy(buckets)
    return merged
