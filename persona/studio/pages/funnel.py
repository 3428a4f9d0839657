"""Funnel: customers per state now and who moved where over a chosen window."""

from __future__ import annotations

import time

from aiohttp import web

from ...clock import parse_duration
from ...engine import acquisition, census
from ..context import STUDIO
from ..funnel import funnel
from ..render import render
from ..roles import Permission
from ..security import Route

WINDOWS = ("1d", "7d", "30d", "90d")


async def funnel_page(request: web.Request) -> web.StreamResponse:
    studio = request.app[STUDIO]
    bot = studio.bot(request.match_info["bot"])
    window = request.query.get("since", "7d")
    try:
        span = parse_duration(window).total_seconds()
        if span <= 0:
            raise ValueError(window)
    except ValueError:
        raise web.HTTPBadRequest(text=f"since={window!r}: write a span such as 7d, 24h or 30d")
    result = await funnel(bot.store, bot.cls, time.time() - span)
    peak = max(result.now.values(), default=0) or 1
    goal = acquisition.goal(bot.cls)
    rows = await acquisition.by_channel(bot.store, goal, census.day_of(time.time() - span, bot.cls.timezone))
    return render(request, "funnel.html", bot=bot.name, window=window, windows=WINDOWS, result=result,
                  peak=peak, states=bot.cls.states, journal_cap=bot.cls.journal_cap, rows=rows, goal=goal)


ROUTES = [Route("GET", "/funnel/{bot}", funnel_page, Permission.VIEW_BOT)]
