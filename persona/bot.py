"""A deployed bot: one persona wired to its store, clock, scheduler and delivery.

``persona serve`` builds one ``Bot`` per bot path; the simulator and tests build the same
object on a fake clock, so what is tested is what runs.
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any, Mapping

from .channels.router import Router
from .clock import Clock
from .delivery import Deliverer
from .errors import StoreUnavailable
from .inputs import BusinessEvent
from .metrics import Metrics
from .persona import Persona, load_persona
from .runtime import Runtime
from .scheduler import Scheduler
from .scripts.live import ScriptPoller
from .store import Store, open_store
from .store.base import OutboxItem
from .store.versions import ScriptVersionStore
from .turn import EffectType

log = logging.getLogger(__name__)

EFFECT_TTL = 30 * 86400


class Bot:
    """Everything one persona needs at run time."""

    def __init__(self, persona: type[Persona] | str, store: Store | str = "sqlite:///./persona.db", *,
                 clock: Clock | None = None, metrics: Metrics | None = None,
                 environ: Mapping[str, str] | None = None, namespace: str | None = None,
                 script_poll: float | None = 1.0, accounts: Store | None = None) -> None:
        cls = load_persona(persona) if isinstance(persona, str) else persona
        self.persona = cls()
        self.name = cls.name
        self.clock = clock or Clock()
        self.metrics = metrics or Metrics()
        self.environ = dict(os.environ if environ is None else environ)
        self.store = open_store(store, namespace or self.name) if isinstance(store, str) else store
        #: where the access tokens live: one store namespace for all bots on the same accounts
        self.accounts = accounts
        self.runtime = Runtime(self.persona, self.store, self.clock, metrics=self.metrics)
        self.scheduler = Scheduler(self.runtime)
        self.deliverer = self._deliverer()
        self.runtime.commit_hooks.append(self._wake_delivery)
        #: keeps the scripts on the versions published in the store (None: the files only)
        self.script_poller = self._script_poller(script_poll)
        self._tasks: list[asyncio.Task[None]] = []
        self._stop = asyncio.Event()

    def _deliverer(self) -> Deliverer:
        router = Router.from_env(self.environ, self.store, token_store=self.accounts)
        return Deliverer(self.store, router, self.clock, metrics=self.metrics,
                         handlers={EffectType.DISPATCH: self._dispatch, EffectType.ZINCR: self._zincr})

    def _script_poller(self, interval: float | None) -> ScriptPoller | None:
        if interval is None or not isinstance(self.store, ScriptVersionStore):
            return None
        return ScriptPoller(self.persona.scripts, self.store, interval=interval, name=self.name)

    async def load_scripts(self, *, check: bool = True) -> None:
        """Install the versions published in the store and, with ``check``, refuse to go on
        (:class:`~persona.errors.ScriptRejected`) when the scripts in use fail lint."""
        if self.script_poller is not None:
            try:
                await self.script_poller.refresh()
            except StoreUnavailable as exc:  # the poller picks them up once the store answers
                log.warning("bot=%s cannot read published scripts yet (%s)", self.name, exc)
        if check:
            from .scripts.checking import check_scripts

            check_scripts(type(self.persona), self.persona.scripts,
                          f"bot {self.name!r} does not start: its scripts fail lint")

    def _wake_delivery(self, items: list[OutboxItem]) -> None:
        if any(item.due <= self.clock.now() for item in items):
            self.deliverer.wake()

    # -- effects on others, exactly once ---------------------------------------------------
    async def _dispatch(self, payload: dict[str, Any], item: OutboxItem) -> None:
        """An event for another customer; the outbox item id is its dedupe key."""
        await self.runtime.handle(BusinessEvent(user=payload["user"], name=payload["event"],
                                                data=payload.get("data", {}), dedupe_key=f"fx:{item.id}"))

    async def _zincr(self, payload: dict[str, Any], item: OutboxItem) -> None:
        if await self.store.set_if_absent(f"fx:{item.id}", "1", EFFECT_TTL):
            ttl = payload.get("ttl")
            await self.store.zincr(payload["key"], payload["member"], float(payload["amount"]),
                                   ttl=float(ttl) if ttl else None)

    # -- lifecycle -------------------------------------------------------------------------
    async def start(self, *, scheduler: bool = True, delivery: bool = True) -> None:
        """Run the scheduler, the delivery loop and the published-scripts poller in the background."""
        self._stop.clear()
        if self.script_poller is not None:
            self._tasks.append(asyncio.create_task(self.script_poller.run(self._stop), name=f"{self.name}-scripts"))
        if scheduler:
            self._tasks.append(asyncio.create_task(self.scheduler.run(self._stop), name=f"{self.name}-scheduler"))
        if delivery:
            self._tasks.append(asyncio.create_task(self.deliverer.run(self._stop), name=f"{self.name}-delivery"))

    async def stop(self) -> None:
        self._stop.set()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        await self.deliverer.close()
        await self.store.close()

    async def __aenter__(self) -> "Bot":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.stop()
