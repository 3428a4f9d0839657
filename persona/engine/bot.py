"""A deployed bot: one persona wired to its store, clock, scheduler and delivery.

``persona serve`` builds one ``Bot`` per bot path; the simulator and tests build the same
object on a fake clock, so what is tested is what runs.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from typing import Any, Mapping

from ..wechat.channels.base import SendResult
from ..wechat.channels.router import Router
from ..clock import Clock
from .delivery import Deliverer, SentLog
from ..errors import ChannelError, StoreUnavailable
from ..model.inputs import BusinessEvent, DeliveryReport
from ..metrics import Metrics
from ..model.persona import Persona, load_persona
from .broadcast import speaker
from .campaigns import CampaignRunner
from .identity import Identity
from .runtime import MASS_CHECKS, Runtime
from .scheduler import Scheduler
from ..content.scripts.live import ScriptPoller
from ..store import Store, open_store
from ..store.base import OutboxItem
from ..store.versions import ScriptVersionStore
from ..model.turn import EffectType

log = logging.getLogger(__name__)

EFFECT_TTL = 30 * 86400


class Bot:
    """Everything one persona needs at run time."""

    def __init__(self, persona: type[Persona] | str, store: Store | str = "sqlite:///./persona.db", *,
                 clock: Clock | None = None, metrics: Metrics | None = None,
                 environ: Mapping[str, str] | None = None, namespace: str | None = None,
                 script_poll: float | None = 1.0, accounts: Store | None = None,
                 sent_log: SentLog | None = None) -> None:
        cls = load_persona(persona) if isinstance(persona, str) else persona
        self.environ = dict(os.environ if environ is None else environ)
        #: with the brand's duty list, hours, desk address and signer of form links
        self.persona = cls.for_brand(self.environ)
        self.name = cls.name
        self.clock = clock or Clock()
        self.metrics = metrics or Metrics()
        self.store = open_store(store, namespace or self.name) if isinstance(store, str) else store
        #: where the access tokens live: one store namespace for all bots on the same accounts
        self.accounts = accounts
        self.runtime = Runtime(self.persona, self.store, self.clock, metrics=self.metrics)
        self.scheduler = Scheduler(self.runtime)
        #: 群发 campaigns due in the store, run beside the timers (see :mod:`persona.engine.campaigns`)
        self.campaigns = CampaignRunner(Runtime(speaker(self.persona), self.store, self.clock, metrics=self.metrics))
        #: where delivery keeps accepted sends until the store takes their ack (``persona serve``:
        #: the spool file), so a store outage between the two never sends a message twice
        self.sent_log = sent_log
        self.deliverer = self._deliverer()
        if cls.link_by_unionid:
            router = self.deliverer.router
            self.runtime.identity = Identity(self.runtime, router.unionid, platforms=frozenset(router.configured))
        self.runtime.commit_hooks.append(self._wake_delivery)
        self.campaigns.runtime.commit_hooks.append(self._wake_delivery)
        #: keeps the scripts on the versions published in the store (None: the files only)
        self.script_poller = self._script_poller(script_poll)
        self._tasks: list[asyncio.Task[None]] = []
        self._stop = asyncio.Event()

    def _deliverer(self) -> Deliverer:
        router = Router.from_env(self.environ, self.store, token_store=self.accounts)
        return Deliverer(self.store, router, self.clock, metrics=self.metrics,
                         handlers={EffectType.DISPATCH: self._dispatch, EffectType.ZINCR: self._zincr,
                                   EffectType.MASS_CHECK: self._mass_check},
                         on_pending=self._mass_pending, sent_log=self.sent_log)

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
            from ..content.scripts.checking import check_scripts

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

    # -- what became of a WeCom mass message ----------------------------------------------
    async def _mass_pending(self, item: OutboxItem, result: SendResult) -> None:
        """A mass message waits for its sender: journal it for the customer (or group) it was
        for; the runtime asks WeCom again later. Only one a sender is on record for can be asked."""
        raw = await self.store.get(f"mass:{result.msgid}")
        if not raw or not json.loads(raw).get("sender"):
            return
        await self.runtime.handle(DeliveryReport(user=item.user, dedupe_key=f"mass:{result.msgid}:0", api="mass",
                                                 msgid=str(result.msgid), status="pending"))

    async def _mass_check(self, payload: dict[str, Any], item: OutboxItem) -> None:
        """Did the sender confirm it? ``confirmed`` once any recipient got it, ``failed`` when
        WeCom gave up on every one, ``pending`` (asked again later) while it waits, and
        ``unconfirmed`` after the last check."""
        msgid, attempt = str(payload["msgid"]), int(payload["attempt"])
        wecom = self.deliverer.router.wecom
        if wecom is None:
            raise ChannelError("asking about a WeCom mass message needs WECOM_CORPID/WECOM_SECRET", retryable=False)
        statuses = {int(row.get("status", 0)) for row in await wecom.mass_result(msgid)}
        if 1 in statuses:
            status = "confirmed"
        elif statuses and statuses <= {2, 3}:
            status = "failed"
        else:
            status = "pending" if attempt < MASS_CHECKS else "unconfirmed"
        await self.runtime.handle(DeliveryReport(user=item.user, dedupe_key=f"mass:{msgid}:{attempt}", api="mass",
                                                 msgid=msgid, status=status, attempt=attempt))

    # -- lifecycle -------------------------------------------------------------------------
    async def start(self, *, scheduler: bool = True, delivery: bool = True) -> None:
        """Run the scheduler (timers and campaigns), the delivery loop and the published-scripts
        poller in the background."""
        self._stop.clear()
        if self.script_poller is not None:
            self._tasks.append(asyncio.create_task(self.script_poller.run(self._stop), name=f"{self.name}-scripts"))
        if scheduler:
            self._tasks.append(asyncio.create_task(self.scheduler.run(self._stop), name=f"{self.name}-scheduler"))
            self._tasks.append(asyncio.create_task(self.campaigns.run(self._stop), name=f"{self.name}-campaigns"))
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
