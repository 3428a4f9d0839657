"""The studio as an aiohttp application: pages, the security middleware, vendored static files.

It is its own process (``persona studio``), bound to 127.0.0.1 by default and never mounted
on the public callback port: it holds customer data and staff accounts.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from pathlib import Path

from aiohttp import web

from ..model.persona import Persona
from ..service.agents import DESKS, IDENTIFY
from .context import STUDIO, Studio
from .pages import admin, agents, bot, campaigns, codes, customers, funnel, library, login, scripts, sidebar
from .render import ENV, environment
from .security import add_routes, guard, headers

STATIC = Path(__file__).parent / "static"
PAGES = (login, scripts, library, customers, agents, sidebar, bot, funnel, campaigns, codes, admin)


def create_app(personas: Sequence[type[Persona]], store_url: str) -> web.Application:
    """The studio for ``personas`` on the store at ``store_url`` (the one their bots use)."""
    if not personas:
        raise ValueError("the studio needs at least one bot")
    app = web.Application(middlewares=[headers, guard], client_max_size=256 * 1024)
    app[STUDIO] = Studio.open(personas, store_url)
    app[ENV] = environment()
    app[DESKS] = agents.desks(app[STUDIO])
    app[IDENTIFY] = agents.studio_identity
    app[sidebar.CHANNELS] = {}  # each bot's WeCom app, for the sidebar's JS-SDK signature
    for page in PAGES:
        add_routes(app, page.ROUTES)
    app.router.add_static("/static/", STATIC, name="static", append_version=False)
    app.cleanup_ctx.append(_lifecycle)
    return app


async def _lifecycle(app: web.Application) -> AsyncIterator[None]:
    yield
    for channel in app[sidebar.CHANNELS].values():
        await channel.close()
    await app[STUDIO].close()
