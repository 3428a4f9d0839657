"""What every studio request can reach: the bots, their stores, and the studio's own records."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import urlencode

from aiohttp import web

from ..clock import Clock
from ..model.persona import Persona
from ..service.context import bot_environ
from ..engine.runtime import Runtime
from ..store import Store, open_store
from .accounts import Accounts
from .audit import AuditLog
from .sessions import Sessions

#: the store namespace for accounts, sessions, lockouts and the audit log
NAMESPACE = "persona-studio"


@dataclass
class StudioBot:
    """One bot as the studio sees it: its class, a persona instance and its store."""

    cls: type[Persona]
    persona: Persona
    store: Store
    runtime: Runtime

    @property
    def name(self) -> str:
        return self.cls.name


@dataclass
class Studio:
    store_url: str
    store: Store
    bots: dict[str, StudioBot]
    accounts: Accounts = field(init=False)
    sessions: Sessions = field(init=False)
    audit: AuditLog = field(init=False)

    def __post_init__(self) -> None:
        self.accounts = Accounts(self.store)
        self.sessions = Sessions(self.store)
        self.audit = AuditLog(self.store)

    @classmethod
    def open(cls, personas: Sequence[type[Persona]], store_url: str) -> "Studio":
        bots: dict[str, StudioBot] = {}
        for persona_cls in personas:
            if persona_cls.name in bots:
                raise ValueError(f"two bots are named {persona_cls.name!r}")
            store = open_store(store_url, persona_cls.name)
            persona = persona_cls.for_brand(bot_environ(os.environ, persona_cls.name))
            bots[persona_cls.name] = StudioBot(persona_cls, persona, store, Runtime(persona, store, Clock()))
        return cls(store_url, open_store(store_url, NAMESPACE), bots)

    def bot(self, name: str) -> StudioBot:
        """The bot named in a URL, or 404."""
        found = self.bots.get(name)
        if found is None:
            raise web.HTTPNotFound(text=f"no bot {name!r} in this studio")
        return found

    async def close(self) -> None:
        for bot in self.bots.values():
            await bot.store.close()
        await self.store.close()


STUDIO = web.AppKey("studio", Studio)


def requested_bot(request: web.Request) -> StudioBot:
    """The bot the request's path names (``{bot}``); an unknown one is the studio's 404."""
    return request.app[STUDIO].bot(request.match_info["bot"])


def back_to(page: str, bot: str, **query: str) -> web.HTTPSeeOther:
    """The redirect to a bot's page (``/{page}/{bot}``) after a form, with a notice or an error."""
    return web.HTTPSeeOther(f"/{page}/{bot}?{urlencode(query)}")
