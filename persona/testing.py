"""Testing helpers for bot authors: a customer, a fake clock, the fake WeChat API.

The project's own tests use exactly these::

    async with Simulation("bots.xiaowanzi", start="2026-11-23 09:00") as sim:
        await sim.wechat("wm_1", "add_external_contact", welcome_code="WC1", staff="zhang")
        sent = await sim.advance("3h")
        assert sent[0].script == "coupon_reminder"

A ``Simulation`` runs the real runtime, scheduler, delivery loop and channels; only the clock
is fake and WeChat's API is a local fake server, so what passes here runs in production.

Scripts are what the store says is live, as in a served bot: the versions published in it when
the simulation starts, and a version published during it from the next input or timer (a served
bot polls every second of wall time; on a fake clock that would depend on how fast the test
runs, so the simulation looks at the store, one cheap read, before each input and timer pass).
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from collections.abc import Awaitable, Callable
from typing import Any
from zoneinfo import ZoneInfo

from .engine.bot import Bot
from .engine.desk import Desk
from .clock import DEFAULT_TZ, FakeClock, parse_duration
from .model.customer import Customer
from .errors import EventDataError
from .engine.gate import Action, explain
from .model.inputs import BURST_EVENTS, BusinessEvent, Door, Input, MediaMessage, Platform, PlatformEvent, TextMessage
from .model.messages import Message
from .model.persona import Persona
from .engine.outcome import Outcome, ReplySlot, Status

#: credentials the simulator gives the channels; the fake API accepts exactly these
FAKE_ENV = {
    "WECHAT_TOKEN": "persona-sim-token",
    "WECHAT_APPID": "wx00000000sim",
    "WECHAT_APPSECRET": "sim-secret",
    "WECOM_CORPID": "ww00000000sim",
    "WECOM_SECRET": "sim-wecom-secret",
    "WECOM_AGENTID": "1000002",
    # form links (``form_link()`` in scripts) as ``persona serve`` on this machine would sign them
    "PERSONA_PUBLIC_URL": "http://127.0.0.1:8080",
    "PERSONA_FORM_SECRET": "persona-sim-form-secret",
}


@dataclass
class Sent:
    """One message that left the bot: a passive reply or a send-API call the fake API accepted."""

    at: float
    to: str
    kind: str
    text: str = ""
    fields: dict[str, Any] = field(default_factory=dict)
    script: str = ""
    via: str = ""
    tz: str = DEFAULT_TZ

    @property
    def when(self) -> str:
        return datetime.fromtimestamp(self.at, ZoneInfo(self.tz)).strftime("%Y-%m-%d %H:%M")

    def summary(self) -> str:
        return Message(kind=self.kind, text=self.text, fields=self.fields).summary()

    def __str__(self) -> str:
        return f"[{self.when}] ({self.to}) {self.summary()}"


@dataclass
class Dropped:
    """A message the gate dropped: to whom, when, which script and why."""

    at: float
    to: str
    script: str
    reason: str
    tz: str = DEFAULT_TZ

    def __str__(self) -> str:
        when = datetime.fromtimestamp(self.at, ZoneInfo(self.tz)).strftime("%Y-%m-%d %H:%M")
        return f"[{when}] ({self.to}) {self.script} not sent: {explain(self.reason)}"


class Simulation:
    """A bot on a fake clock, a store of your choice and the fake WeChat API."""

    def __init__(self, persona: type[Persona] | str, *, start: str | float = "2026-11-23 09:00",
                 store: str = "memory://", namespace: str | None = None, tz: str = DEFAULT_TZ,
                 report_drops: bool = True) -> None:
        self.clock = FakeClock(start, tz)
        self._persona, self._store_url, self._namespace, self.tz = persona, store, namespace, tz
        self.sent: list[Sent] = []
        #: every message the gate dropped, as ``Dropped``; with ``report_drops`` each is also
        #: printed as it happens, so a test that misses a message shows why in its output
        self.dropped: list[Dropped] = []
        self.report_drops = report_drops
        self._ids = itertools.count(1)
        self.bot: Bot

    async def __aenter__(self) -> "Simulation":
        from .wechat.fake import FakeWeChat

        self.api = FakeWeChat(clock=self.clock.now)
        self.base_url = await self.api.start()
        env = {**FAKE_ENV, "WECHAT_API_BASE": self.base_url, "WECOM_API_BASE": self.base_url}
        env.update({k: v for k, v in os.environ.items() if k.startswith("PERSONA_")})
        self.bot = Bot(self._persona, self._store_url, clock=self.clock, environ=env, namespace=self._namespace)
        self.runtime, self.store = self.bot.runtime, self.bot.store
        self.runtime.outcome_hooks.append(self._note_drops)
        self.bot.campaigns.runtime.outcome_hooks.append(self._note_drops)  # what a campaign dropped, too
        self._seen_api = 0
        await self._follow_scripts()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.bot.stop()
        await self.api.stop()

    def _note_drops(self, inp: Input, outcome: Outcome) -> None:
        for message, decision in outcome.messages:
            if decision.action == Action.DROP:
                dropped = Dropped(self.clock.now(), message.to or inp.user, message.script or message.kind,
                                  decision.reason, self.tz)
                self.dropped.append(dropped)
                if self.report_drops:
                    print(f"persona: {dropped}")

    # -- inputs ----------------------------------------------------------------------------
    async def text(self, user: str, text: str, *, platform: Platform | str | None = None,
                   door: Door | str = Door.CUSTOMER) -> list[Sent]:
        """The customer types ``text`` (``door="staff", platform="wecom"``: a staff member writes
        to the WeCom app)."""
        n = next(self._ids)
        return await self.send(TextMessage(user=user, dedupe_key=f"m:{n}", text=text, msg_id=str(n),
                                           platform=_platform(platform), door=Door(door)))

    async def media(self, user: str, media_type: str = "image", **payload: Any) -> list[Sent]:
        n = next(self._ids)
        return await self.send(MediaMessage(user=user, dedupe_key=f"m:{n}", media_type=media_type,
                                            payload=payload, msg_id=str(n)))

    async def wechat(self, user: str, event: str, key: str | None = None, *,
                     platform: Platform | str | None = None, door: Door | str = Door.CUSTOMER,
                     **data: Any) -> list[Sent]:
        """A platform event: ``subscribe``, ``click`` (key=), ``add_external_contact`` (welcome_code=)...

        ``platform=`` and ``door=`` say where it came from, as the protocol layer would: a staff
        member following the WeCom app is ``wechat(uid, "subscribe", platform="wecom", door="staff")``.
        """
        n = next(self._ids)
        if data.get("welcome_code"):  # WeCom issues the code with the add event
            self.api.register_welcome_code(str(data["welcome_code"]), user, str(data.get("staff", "staff")))
        return await self.send(PlatformEvent(user=user, dedupe_key=f"e:{int(self.clock.now())}:{event}:{n}",
                                             platform=_platform(platform), door=Door(door),
                                             name=event.lower(), key=key, data=dict(data)))

    async def event(self, user: str, name: str, data: dict[str, Any] | None = None,
                    id: str | None = None) -> list[Sent]:
        """A business event from the brand's systems (``id`` makes it idempotent).

        Data that does not match the event's ``data=`` declaration, or that the handler refuses,
        raises :class:`~persona.errors.EventDataError`, as the service would answer 422."""
        type(self.bot.persona).check_event(name, data or {})
        return await self.send(BusinessEvent(user=user, name=name, data=data or {},
                                             dedupe_key=f"biz:{id or next(self._ids)}"))

    async def send(self, inp: Input) -> list[Sent]:
        """Any input, answered like a callback: one reply may go back passively."""
        start = len(self.sent)
        # WeChat lets a callback carry a reply to a message or an Official Account event;
        # WeCom's contact and group changes come from the system and cannot be answered
        replyable = isinstance(inp, (TextMessage, MediaMessage)) or (
            isinstance(inp, PlatformEvent) and inp.name in BURST_EVENTS)
        await self._follow_scripts()
        outcome = await self.runtime.handle(inp, ReplySlot() if replyable else None)
        if outcome.status is Status.REFUSED:
            raise EventDataError(outcome.error or "the handler refused the event's data", fields=outcome.fields)
        self._passive(inp, outcome)
        await self._deliver()
        return self.sent[start:]

    async def agent(self, user: str, agent: str, text: str) -> list[Sent]:
        """A human ``agent`` answers ``user`` through the agents' desk (风控 and the gate apply;
        a blocked word raises :class:`~persona.engine.desk.DeskError`)."""
        return await self._at_desk(lambda desk: desk.send(user, agent, text))

    async def close(self, user: str, agent: str) -> list[Sent]:
        """``agent`` gives ``user``'s conversation back to the bot."""
        return await self._at_desk(lambda desk: desk.close(user, agent))

    async def _at_desk(self, act: Callable[[Desk], Awaitable[object]]) -> list[Sent]:
        start = len(self.sent)
        await act(Desk(self.runtime))
        await self._deliver()
        return self.sent[start:]

    # -- time ------------------------------------------------------------------------------
    async def advance(self, duration: str | timedelta | float) -> list[Sent]:
        """Move the clock, firing every timer and delivering every deferred message on the way,
        in order."""
        if isinstance(duration, str):
            duration = parse_duration(duration)
        seconds = duration.total_seconds() if isinstance(duration, timedelta) else float(duration)
        return await self.advance_to(self.clock.now() + seconds)

    async def advance_to(self, target: float | str) -> list[Sent]:
        if isinstance(target, str):
            target = datetime.fromisoformat(target).replace(tzinfo=ZoneInfo(self.tz)).timestamp()
        start = len(self.sent)
        for _ in range(1_000_000):
            campaign = await self.bot.campaigns.next_due()  # one due now was tried at the last step
            due = [d for d in (await self.store.next_timer_due(), await self.store.next_outbox_due(),
                               campaign if campaign is not None and campaign > self.clock.now() else None)
                   if d is not None]
            step = min(due) if due else None
            if step is None or step > target:
                break
            self.clock.set(max(self.clock.now(), step))
            await self._follow_scripts()
            await self.bot.scheduler.run_once()
            await self.bot.campaigns.run_once()
            await self._deliver()
        else:  # pragma: no cover - a persona that schedules timers in a zero-delay loop
            raise RuntimeError("the simulation did not settle: a timer keeps rescheduling itself at once")
        self.clock.set(max(self.clock.now(), target))
        await self._follow_scripts()
        await self.bot.scheduler.run_once()
        await self.bot.campaigns.run_once()
        await self._deliver()
        return self.sent[start:]

    # -- looking -----------------------------------------------------------------------------
    async def customer(self, user: str) -> Customer | None:
        return await self.runtime.customer(user)

    async def journal(self, user: str) -> list[str]:
        return await self.store.journal(user)

    def to(self, recipient: str) -> list[Sent]:
        """Everything sent to one recipient so far."""
        return [s for s in self.sent if s.to == recipient]

    # -- plumbing ----------------------------------------------------------------------------
    async def _follow_scripts(self) -> None:
        """Install what the store says is live if it changed (a served bot's poller, on demand)."""
        if self.bot.script_poller is not None:
            await self.bot.script_poller.refresh()

    def _passive(self, inp: Input, outcome: Outcome) -> None:
        if outcome.passive is not None and outcome.status is not Status.DUPLICATE:
            m = outcome.passive
            self.sent.append(Sent(self.clock.now(), inp.user, m.kind, m.text, m.fields, m.script, "passive", self.tz))

    async def _deliver(self) -> None:
        while await self.bot.deliverer.run_once():
            pass
        self._collect()

    def _collect(self) -> None:
        for record in self.api.messages[self._seen_api:]:
            self.sent.append(Sent(record.at, record.to, record.kind, record.text, record.fields,
                                  record.script, record.via, self.tz))
        self._seen_api = len(self.api.messages)


def _platform(value: Platform | str | None) -> Platform | None:
    return Platform(value) if value is not None else None
