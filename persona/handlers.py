"""The decorators a bot author writes: what happens on a message, an event or a timer.

::

    @on.text("你好", "hi")                 # the whole message, trimmed, case-insensitive
    @on.keyword("多少钱", "价格")            # the message contains one of the words
    @on.regex(r"订单\\s*(\\d+)")             # turn.match holds the match
    @on.text()                            # any other text
    @on.wechat("subscribe")               # a WeChat/WeCom event; key= for a menu click
    @on.event("order_placed")             # a business event from the brand's systems
    @on.timer("brief", daily="10:00")     # the clock (see persona.timers.TimerSpec)
    @on.rule                              # after every input: real-time tagging

Each decorator takes ``states=`` to limit the handler to some states. A handler is a method
``(self, turn)``, plain or async.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from .timers import TimerSpec

Handler = Callable[..., Any]
ATTR = "__persona_handlers__"


@dataclass(frozen=True)
class Route:
    """One way a handler is reached."""

    kind: str  # text | keyword | regex | any_text | media | wechat | event | timer | rule
    values: tuple[str, ...] = ()
    pattern: re.Pattern[str] | None = None
    key: str | None = None
    states: frozenset[str] | None = None
    timer: TimerSpec | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def allows(self, state: str) -> bool:
        return self.states is None or state in self.states


def _states(states: str | Iterable[str] | None) -> frozenset[str] | None:
    if states is None:
        return None
    return frozenset([states] if isinstance(states, str) else states)


def _mark(route: Route) -> Callable[[Handler], Handler]:
    def decorate(fn: Handler) -> Handler:
        routes = list(getattr(fn, ATTR, ()))
        routes.append(route)
        setattr(fn, ATTR, routes)
        return fn
    return decorate


class _On:
    def text(self, *words: str, states: str | Iterable[str] | None = None) -> Callable[[Handler], Handler]:
        """The whole message equals one of ``words`` (trimmed, case-insensitive); none = any text."""
        if not words:
            return _mark(Route("any_text", states=_states(states)))
        return _mark(Route("text", tuple(w.strip().casefold() for w in words), states=_states(states)))

    def keyword(self, *words: str, states: str | Iterable[str] | None = None) -> Callable[[Handler], Handler]:
        """The message contains one of ``words`` (case-insensitive)."""
        return _mark(Route("keyword", tuple(w.casefold() for w in words), states=_states(states)))

    def regex(self, pattern: str, states: str | Iterable[str] | None = None) -> Callable[[Handler], Handler]:
        """The message matches ``pattern`` (``re.search``); ``turn.match`` holds the match."""
        return _mark(Route("regex", pattern=re.compile(pattern), states=_states(states)))

    def media(self, *types: str, states: str | Iterable[str] | None = None) -> Callable[[Handler], Handler]:
        """The customer sent an image, voice, video, location... (all media if none named)."""
        return _mark(Route("media", tuple(types), states=_states(states)))

    def wechat(self, *names: str, key: str | None = None,
               states: str | Iterable[str] | None = None) -> Callable[[Handler], Handler]:
        """A platform event (``subscribe``, ``click`` with ``key=``, ``add_external_contact``...)."""
        return _mark(Route("wechat", tuple(n.lower() for n in names), key=key, states=_states(states)))

    def event(self, *names: str, states: str | Iterable[str] | None = None) -> Callable[[Handler], Handler]:
        """A business event posted by the brand's systems."""
        return _mark(Route("event", tuple(names), states=_states(states)))

    def timer(self, name: str, *, states: str | Iterable[str] | None = None, **schedule: Any) -> Callable[[Handler], Handler]:
        """A timer fires; with schedule arguments the timer arms itself (see :class:`TimerSpec`)."""
        spec = TimerSpec.build(name, **schedule)
        return _mark(Route("timer", (name,), states=_states(states) or _states(spec.state), timer=spec))

    def rule(self, fn: Handler) -> Handler:
        """Runs after every input's handler, on every customer: real-time tagging rules."""
        return _mark(Route("rule"))(fn)


on = _On()
