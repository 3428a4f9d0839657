"""A ``Turn``: what a handler sees and does while one input is processed for one customer.

Handlers never write to the store or call WeChat themselves. They change the customer and
collect effects on the turn (messages, timers, effects on others); the runtime commits all of
it atomically after the handler returns, and delivers messages only after that commit. This is
what lets the runtime re-run a turn when another process committed first.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from functools import partial
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import regex

from .customer import Customer, Timer
from .formlinks import link_for
from ..errors import DefinitionError, HandlerError
from .handoff import Handover, begin as begin_handoff
from .inputs import REPLY_EVENTS, BusinessEvent, Input, MediaMessage, PlatformEvent, TextMessage
from .messages import Message
from .templates import FALLBACK_NOTE, SUFFIX, Fallback
from .variants import choose_variant

if TYPE_CHECKING:
    from .persona import Persona
    from ..store.base import Store


#: How long a leaderboard lives after its first score unless ``leaderboard(ttl=)`` says otherwise.
BOARD_TTL = timedelta(days=90)


class EffectType(StrEnum):
    """What an outbox item does when it is delivered (its payload's ``type``)."""

    MESSAGE = "message"  # a message through the platform's send APIs
    DISPATCH = "dispatch"  # a business event to another customer
    ZINCR = "zincr"  # points on a leaderboard
    MASS_CHECK = "mass_check"  # ask WeCom whether a mass message went out


@dataclass(slots=True)
class Effect:
    """Something for someone other than this customer, done after the commit, exactly once."""

    type: EffectType
    data: dict[str, Any]
    due: float | None = None  # when to do it (None: right after the commit)


class Turn:
    """One input being processed for one customer."""

    def __init__(self, persona: "Persona", customer: Customer, inp: Input, now: float,
                 store: "Store | None" = None) -> None:
        self.persona = persona
        self._store = store
        self.customer = customer
        self.input = inp
        self.now = now
        self.match: regex.Match[str] | None = None
        self.messages: list[Message] = []
        self.effects: list[Effect] = []
        self.notes: list[dict[str, Any]] = []
        self.transitions: list[tuple[str, str, str]] = []
        self.timers_set: dict[str, float] = {}
        self.timers_del: set[str] = set()
        self.entered: float | None = None  # set when the state changed in this turn
        self.timer_data: dict[str, Any] = {}  # the data a firing timer was scheduled with
        #: published versions that failed for this customer, each said as an earlier version
        self.fallbacks: list[Fallback] = []
        #: a handover begun in this turn, assigned and told once the handlers are done
        self.handover: Handover | None = None

    # -- what came in ----------------------------------------------------------------------
    @property
    def state(self) -> str:
        return self.customer.state

    @property
    def text(self) -> str:
        return self.input.text if isinstance(self.input, TextMessage) else ""

    @property
    def data(self) -> dict[str, Any]:
        """The business event's or platform event's data (empty for other inputs)."""
        if isinstance(self.input, (BusinessEvent, PlatformEvent)):
            return self.input.data
        return {}

    @property
    def tz(self) -> str:
        return str(self.customer.attrs.get("tz") or self.persona.timezone)

    @property
    def local(self) -> datetime:
        """Now, in the customer's time zone."""
        return datetime.fromtimestamp(self.now, ZoneInfo(self.tz))

    @property
    def is_reply(self) -> bool:
        """True while answering the customer's own doing — a message, a photo, a click, a
        follow, adding the staff member: replies are not proactive."""
        return isinstance(self.input, (TextMessage, MediaMessage)) or (
            isinstance(self.input, PlatformEvent) and self.input.name in REPLY_EVENTS)

    # -- saying things ---------------------------------------------------------------------
    def say(self, script: str, *, to: str | None = None, via: str = "", category: str | None = None,
            **context: Any) -> Message:
        """Render ``scripts/<script>.j2`` for this customer and queue it.

        ``to`` sends it to someone else (``staff:<id>``, ``group:<chat_id>``, ``user:<openid>``).
        """
        message = self.render(script, **context)
        return self.send(message, to=to, via=via, category=category)

    def render(self, script: str, **context: Any) -> Message:
        """Render a script without sending it.

        A published version that fails for this customer gives way to the newest earlier one
        that renders for them (down to the file); the turn journals it and the runtime counts
        it once the turn commits (see :meth:`~persona.model.templates.ScriptBook.render_with_fallback`).
        """
        variables = self.variables(**context)
        book = self.persona.scripts
        name = script[: -len(SUFFIX)] if script.endswith(SUFFIX) else script
        choices = book.variants(name)
        variant = choose_variant(name, self.customer, choices) if len(choices) > 1 else None
        message, fallback = book.render_with_fallback(name, variables, state=self.state, variant=variant)
        if fallback is not None:
            self.fallbacks.append(fallback)
            self.note(FALLBACK_NOTE, **fallback.note())
        return message

    def variables(self, **context: Any) -> dict[str, Any]:
        """What a script sees in this turn (FAQ answers see the same)."""
        variables = {"customer": self.customer, "tags": self.customer.tags, "attrs": self.customer.attrs,
                     "counters": self.customer.counters, "now": self.local, "data": self.data,
                     "state": self.state, "form_link": partial(link_for, self)}
        variables.update(self.persona.context(self))
        variables.update(context)
        return variables

    def send(self, message: Message, *, to: str | None = None, via: str = "",
             category: str | None = None) -> Message:
        """Queue a message built by hand (or rendered with :meth:`render`)."""
        if to is not None:
            message.to = to
        if via:
            message.via = via
        if category:
            message.category = category
        message.proactive = not (self.is_reply and message.to is None)
        self.messages.append(message)
        return message

    # -- changing the customer -------------------------------------------------------------
    async def trigger(self, name: str, *args: Any, **kwargs: Any) -> bool:
        """Fire a transition; False when it is not allowed from the current state or a guard said no."""
        persona = self.persona
        before = self.state
        dest = persona.moves.get((name, before))
        if dest is not None:  # a plain transition: nothing to call, so no machine to await
            self._moved(name, before, dest)
            return True
        event = persona.machine.events.get(name)
        if event is None:
            raise DefinitionError(f"{type(persona).__name__} has no trigger {name!r} "
                                  f"(known: {', '.join(sorted(persona.triggers))})")
        if self.state not in event.transitions:
            return False
        model = _Model(self)
        done = await event.trigger(model, *args, **kwargs)
        if done:
            self._moved(name, before, model.state)
        return bool(done)

    def _moved(self, trigger: str, before: str, after: str) -> None:
        """Record a fired transition; a reflexive or internal one leaves no trace."""
        if after != before:
            self.customer.state = after
            self.transitions.append((trigger, before, after))
            self.entered = self.now

    def tag(self, name: str, value: Any = "") -> None:
        """Set a tag (``tag("in_group")``, ``tag("source", "parcel")``).

        A name is refused if it is empty or holds ``=``: segments are written ``tag:name=value``,
        so ``tag("a=b")`` and ``tag("a", "b")`` would be one segment."""
        if not isinstance(name, str) or not name or "=" in name:
            raise HandlerError(f"turn.tag({name!r}): a tag name is a non-empty string without '='; "
                               "put what follows '=' in the value: turn.tag(name, value)")
        self.customer.tags[name] = "" if value is None else str(value)

    def untag(self, name: str) -> None:
        self.customer.tags.pop(name, None)

    def set(self, attr: str, value: Any) -> None:
        """Remember a fact about the customer (JSON-serialisable)."""
        if value is None:
            self.customer.attrs.pop(attr, None)
        else:
            self.customer.attrs[attr] = value

    def incr(self, counter: str, amount: int = 1) -> int:
        value = self.customer.counters.get(counter, 0) + amount
        self.customer.counters[counter] = value
        return value

    def handoff(self, reason: str) -> None:
        """Give this customer to a human agent: the bot's automatic replies pause (service
        messages and timers go on) until an agent closes the conversation or it stays idle for
        ``Policy.handoff_idle`` seconds. ``reason`` shows in the agents' queue and the journal."""
        begin_handoff(self, reason)

    # -- the clock -------------------------------------------------------------------------
    def schedule(self, name: str, *, at: float | datetime | None = None,
                 after: timedelta | float | None = None, bound: bool = True,
                 data: dict[str, Any] | None = None) -> float:
        """Set (or move) timer ``name``; bound timers are cancelled when the state changes."""
        if name not in self.persona.routes.timer:
            raise DefinitionError(f"{type(self.persona).__name__}: no @on.timer({name!r}) handler; "
                                  "add one before scheduling it")
        if at is None and after is None:
            raise ValueError("schedule() needs at= or after=")
        if isinstance(at, datetime):
            at = at.timestamp()
        if after is not None:
            at = self.now + (after.total_seconds() if isinstance(after, timedelta) else after)
        assert at is not None
        self.customer.timers[name] = Timer(at, self.state if bound else None, data)
        self.timers_set[name] = at
        self.timers_del.discard(name)
        return at

    def cancel(self, name: str) -> None:
        if self.customer.timers.pop(name, None) is not None:
            self.timers_del.add(name)
            self.timers_set.pop(name, None)

    # -- others ----------------------------------------------------------------------------
    def dispatch(self, user: str, event: str, data: dict[str, Any] | None = None) -> None:
        """Send a business event to another customer, after this turn commits (exactly once)."""
        self.effects.append(Effect(EffectType.DISPATCH, {"user": user, "event": event, "data": data or {}}))

    def leaderboard(self, board: str, member: str, amount: float, *,
                    ttl: timedelta | None = BOARD_TTL) -> None:
        """Add to ``member``'s score on leaderboard ``board`` after this turn commits.

        A board is dropped ``ttl`` after its first score (90 days unless said otherwise; a
        weekly board wants a few weeks), so dated boards do not pile up in the store forever;
        ``ttl=None`` keeps it until :meth:`~persona.store.base.Store.zdelete`.
        """
        data: dict[str, Any] = {"key": board, "member": member, "amount": amount}
        if ttl is not None:
            data["ttl"] = ttl.total_seconds()
        self.effects.append(Effect(EffectType.ZINCR, data))

    # -- reading about others (not part of the atomic turn: a snapshot, good for messages) ---
    async def members(self, *segments: str) -> builtins.set[str]:
        """Customers in all the named segments, e.g. ``members("tag:group=G1")``."""
        return await self._require_store().segment(*segments)

    async def top(self, board: str, n: int = 10) -> list[tuple[str, float]]:
        """The ``n`` best on a leaderboard, best first."""
        return await self._require_store().ztop(board, n)

    async def profile(self, user: str) -> Customer | None:
        """Another customer's record as stored now (read-only)."""
        return await Customer.read(self._require_store(), user)

    def _require_store(self) -> "Store":
        if self._store is None:
            raise RuntimeError("this turn was built without a store")
        return self._store

    def note(self, kind: str, **fields: Any) -> None:
        """Add a line to the customer's journal."""
        self.notes.append({"k": kind, **fields})


class _Model:
    """The object the shared machine moves for one turn (never registered with the machine).

    Condition and callback names resolve to the persona's methods, bound to this turn.
    """

    __slots__ = ("state", "_turn")

    def __init__(self, turn: Turn) -> None:
        self.state = turn.customer.state
        self._turn = turn

    def __getattr__(self, name: str) -> Any:
        turn = object.__getattribute__(self, "_turn")
        method = getattr(turn.persona, name, None)
        if method is None or name.startswith("_"):
            raise AttributeError(f"{type(turn.persona).__name__} has no method {name!r} "
                                 "(named in a transition's conditions or callbacks)")
        return partial(method, turn)
