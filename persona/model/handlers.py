"""Routes: how an input reaches a handler, and the decorators a bot author writes to declare them.

::

    @on.text("你好", "hi")                 # the whole message, trimmed, case-insensitive
    @on.keyword("多少钱", "价格")            # the message contains one of the words
    @on.regex(r"订单\\s*(\\d+)")             # turn.match holds the match (50 ms at most)
    @on.text()                            # any other text
    @on.wechat("subscribe")               # a WeChat/WeCom event; key= for a menu click
    @on.event("order_placed", data={"amount": float})   # a business event, its declared data
    @on.timer("brief", daily="10:00")     # the clock (see persona.model.timers.TimerSpec)
    @on.rule                              # after every input: real-time tagging

Each decorator takes ``states=`` to limit the handler to some states, except ``@on.timer``,
which takes ``state=`` (one state, or a list for a timer set by hand): a scheduled timer is
bound to its state, armed on entering it and cancelled on leaving it. Message and platform
event handlers also take ``platform="wechat"|"wecom"`` (one platform only) and ``door=``: they
answer customers unless ``door="staff"`` (staff using the WeCom app) or ``door="system"``
(WeCom's own ``sys`` events) says otherwise, so a staff member following the app never gets the
customer welcome. A handler is a method ``(self, turn)``, plain or async.

A decorator only builds a :class:`Route` and marks the method with it, because the class does
not exist yet when the decorator runs; the class registers the marked methods when it is
defined, through the same public :meth:`persona.model.persona.Persona.register` that code calls to
add a handler to a class (a subclass gets its own table; registering on a class reaches every
persona object of it, as routes belong to the class). A route decides whether it matches an
input (:meth:`Route.matches`); :class:`Routes` only files routes and picks the first match,
in a fixed order of precedence: exact text, keyword, regex, any text.

A regex route runs an author's pattern on text a customer chose, so it runs with the ``regex``
module's timeout rather than the standard ``re``: a pattern that backtracks catastrophically
(``(\\d+)*x`` on forty digits would hold the event loop, and every other customer, for
minutes) gives up once the message's regex routes together have spent :data:`REGEX_TIMEOUT`
seconds, counts as no match and is logged.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any, Callable, Iterable, Iterator

import regex
from regex import Match, Pattern  # as names too: Routes has a field called regex

from ..errors import DefinitionError
from .inputs import (BusinessEvent, DeliveryReport, Door, Input, MediaMessage, Platform, PlatformEvent,
                     TextMessage, TimerFired)
from .payloads import EventData
from .timers import TimerSpec

log = logging.getLogger(__name__)

#: seconds the regex routes together may spend on one message before they count as no match
REGEX_TIMEOUT = 0.05

Handler = Callable[..., Any]
ATTR = "__persona_handlers__"


class RouteKind(StrEnum):
    """What a route listens to."""

    TEXT = "text"  # the whole message is one of the words
    KEYWORD = "keyword"  # the message contains one of the words
    REGEX = "regex"  # the message matches a pattern
    ANY_TEXT = "any_text"  # any text message
    MEDIA = "media"  # an image, voice, video, location...
    WECHAT = "wechat"  # a platform event
    EVENT = "event"  # a business event
    TIMER = "timer"  # a timer fired
    RULE = "rule"  # after every input's handler


@dataclass(frozen=True)
class Route:
    """One way a handler is reached."""

    kind: RouteKind
    values: tuple[str, ...] = ()
    pattern: Pattern[str] | None = None
    key: str | None = None
    states: frozenset[str] | None = None
    timer: TimerSpec | None = None
    #: who the handler answers (customers unless said otherwise) and on which platform (None: both)
    door: Door = Door.CUSTOMER
    platform: Platform | None = None
    data: EventData | None = None  # a business event's declared fields

    def __post_init__(self) -> None:
        # a route built by hand (``Persona.register``) may hold an ``re`` pattern, which cannot stop
        if self.pattern is not None and not isinstance(self.pattern, Pattern):
            object.__setattr__(self, "pattern", _compile(getattr(self.pattern, "pattern", self.pattern),
                                                         getattr(self.pattern, "flags", 0)))

    def allows(self, state: str) -> bool:
        """Whether the handler runs for a customer in ``state``."""
        return self.states is None or state in self.states

    def hears(self, inp: Input) -> bool:
        """Whether ``inp`` comes through this route's door, on its platform."""
        return inp.door == self.door and (self.platform is None or inp.platform == self.platform)

    def matches(self, inp: Input, state: str, deadline: float | None = None) -> Match[str] | bool:
        """Whether this route takes ``inp`` for a customer in ``state`` (a regex route answers
        with its match, which the handler sees as ``turn.match``). A regex route gives up at
        ``deadline`` (``time.monotonic()``; :data:`REGEX_TIMEOUT` from now by default)."""
        if not (self.allows(state) and self.hears(inp)):
            return False
        if self.kind is RouteKind.REGEX:
            return _regex(self, inp, time.monotonic() + REGEX_TIMEOUT if deadline is None else deadline)
        return _MATCHERS[self.kind](self, inp)


def _compile(pattern: str, flags: int = 0) -> Pattern[str]:
    try:
        return regex.compile(pattern, flags | regex.VERSION0)
    except regex.error as exc:
        raise DefinitionError(f"@on.regex({pattern!r}): not a valid pattern: {exc}") from None


def _regex(route: Route, inp: Input, deadline: float) -> Match[str] | bool:
    if not isinstance(inp, TextMessage) or route.pattern is None:
        return False
    text = inp.text.strip()
    left = deadline - time.monotonic()
    try:
        if left <= 0:
            raise TimeoutError
        return route.pattern.search(text, timeout=left) or False
    except TimeoutError:
        log.warning("regex route %r gave up on a message of %d characters: taken as no match; the message's "
                    "regex routes have %.0f ms together, and a pattern that backtracks catastrophically "
                    "(nested quantifiers such as (a+)+) spends them", route.pattern.pattern, len(text),
                    REGEX_TIMEOUT * 1000)
        return False


#: how each kind of route tells whether it takes an input (a regex route: :func:`_regex`, given a deadline)
_MATCHERS: dict[RouteKind, Callable[[Route, Input], bool]] = {
    RouteKind.TEXT: lambda r, inp: isinstance(inp, TextMessage) and inp.text.strip().casefold() in r.values,
    RouteKind.KEYWORD: lambda r, inp: isinstance(inp, TextMessage) and any(
        w in inp.text.strip().casefold() for w in r.values),
    RouteKind.ANY_TEXT: lambda r, inp: isinstance(inp, TextMessage),
    RouteKind.MEDIA: lambda r, inp: isinstance(inp, MediaMessage) and (not r.values or inp.media_type in r.values),
    RouteKind.WECHAT: lambda r, inp: isinstance(inp, PlatformEvent) and inp.name in r.values and r.key in (None, inp.key),
    RouteKind.EVENT: lambda r, inp: isinstance(inp, BusinessEvent) and inp.name in r.values,
    RouteKind.TIMER: lambda r, inp: isinstance(inp, TimerFired) and inp.name in r.values,
    RouteKind.RULE: lambda r, inp: False,  # rules are not picked: they run after every input
}

#: (route, the persona's attribute that handles it)
Entry = tuple[Route, str]


@dataclass
class Routes:
    """One persona's routes, filed for a quick lookup; :meth:`match` picks the handler."""

    exact: dict[str, list[Entry]] = field(default_factory=dict)
    keyword: list[Entry] = field(default_factory=list)
    regex: list[Entry] = field(default_factory=list)
    any_text: list[Entry] = field(default_factory=list)
    media: list[Entry] = field(default_factory=list)
    wechat: dict[str, list[Entry]] = field(default_factory=dict)
    event: dict[str, list[Entry]] = field(default_factory=dict)
    timer: dict[str, Entry] = field(default_factory=dict)
    rules: list[str] = field(default_factory=list)
    #: each business event's declared fields (an event none of its handlers declares: absent)
    event_data: dict[str, EventData] = field(default_factory=dict)

    def add(self, route: Route, attr: str) -> None:
        """File ``route``, handled by the attribute ``attr``; a timer has one handler only."""
        entry = (route, attr)
        if route.kind is RouteKind.TIMER:
            name = route.values[0]
            if name in self.timer:
                raise DefinitionError(f"timer {name!r} has two handlers ({self.timer[name][1]} and {attr})")
            self.timer[name] = entry
        elif route.kind is RouteKind.RULE:
            self.rules.append(attr)
        elif route.kind in _KEYED:
            if route.data is not None:
                declared = self.event_data.get(route.data.event)
                if declared is not None and declared != route.data:
                    raise DefinitionError(f"{attr}: event {route.data.event!r} declares data= differently "
                                          "from another of its handlers; declare it once")
                self.event_data[route.data.event] = route.data
            table: dict[str, list[Entry]] = getattr(self, _KEYED[route.kind])
            for value in route.values:
                table.setdefault(value, []).append(entry)
        else:
            listed: list[Entry] = getattr(self, route.kind)
            listed.append(entry)

    def timer_spec(self, name: str) -> TimerSpec | None:
        """The spec of timer ``name`` (None when no handler declares one)."""
        entry = self.timer.get(name)
        return entry[0].timer if entry else None

    def entries(self) -> Iterator[Entry]:
        """Every route with its handler, rules excepted."""
        for table in (self.exact, self.wechat, self.event):
            for listed in table.values():
                yield from listed
        yield from self.keyword + self.regex + self.any_text + self.media + list(self.timer.values())

    def reach(self, inp: Input) -> bool:
        """Whether some handler could answer ``inp``'s door for its kind of input (states aside).

        Staff and system inputs no handler answers are not kept at all: no record, no journal.
        """
        if inp.door is Door.CUSTOMER or isinstance(inp, DeliveryReport):
            return True
        return any(route.hears(inp) for group in self._candidates(inp) for route, _ in group)

    def match(self, inp: Input, state: str) -> tuple[Route, str, Match[str] | None] | None:
        """The first route that takes ``inp`` in ``state``: its handler and the regex match."""
        deadline = time.monotonic() + REGEX_TIMEOUT  # for all the regex routes together
        for group in self._candidates(inp):
            for route, attr in group:
                matched = route.matches(inp, state, deadline)
                if matched:
                    return route, attr, matched if isinstance(matched, Match) else None
        return None

    def _candidates(self, inp: Input) -> Iterator[Iterable[Entry]]:
        """The routes that may take ``inp``, in order of precedence."""
        if isinstance(inp, TextMessage):
            yield self.exact.get(inp.text.strip().casefold(), ())
            yield self.keyword
            yield self.regex
            yield self.any_text
        elif isinstance(inp, MediaMessage):
            yield self.media
        elif isinstance(inp, PlatformEvent):
            yield self.wechat.get(inp.name, ())
        elif isinstance(inp, BusinessEvent):
            yield self.event.get(inp.name, ())
        elif isinstance(inp, TimerFired) and inp.name in self.timer:
            yield (self.timer[inp.name],)


#: the routes filed by one of their values
_KEYED = {RouteKind.TEXT: "exact", RouteKind.WECHAT: "wechat", RouteKind.EVENT: "event"}


def _states(states: str | Iterable[str] | None) -> frozenset[str] | None:
    if states is None:
        return None
    return frozenset([states] if isinstance(states, str) else states)


def marked(fn: Any) -> list[Route]:
    """The routes ``fn`` was marked with (none for an unmarked attribute)."""
    return list(getattr(fn, ATTR, ())) if callable(fn) else []


@dataclass(frozen=True)
class Marker:
    """What ``@on.*(...)`` returns: the :attr:`route`, and a decorator that marks a method with it."""

    route: Route

    def __call__(self, fn: Handler) -> Handler:
        setattr(fn, ATTR, [*getattr(fn, ATTR, ()), self.route])
        return fn


def _marker(route: Route, door: Door | str, platform: Platform | str | None) -> Marker:
    """The route, answering ``door`` on ``platform`` (a typo fails at import, naming the choices)."""
    try:
        door, platform = Door(door), Platform(platform) if platform is not None else None
    except ValueError as exc:
        raise DefinitionError(f"{exc}: door= is one of {', '.join(Door)}; "
                              f"platform= one of {', '.join(Platform)}") from None
    return Marker(replace(route, door=door, platform=platform))


States = str | Iterable[str] | None


class _On:
    """The decorators. ``on.event("paid").route`` is the route itself, for ``Persona.register``.

    Message and platform-event decorators take ``door=`` (``customer``, the default; ``staff``;
    ``system``) and ``platform=`` (``wechat`` or ``wecom``; both when not given).
    """

    def text(self, *words: str, states: States = None, door: Door | str = Door.CUSTOMER,
             platform: Platform | str | None = None) -> Marker:
        """The whole message equals one of ``words`` (trimmed, case-insensitive); none = any text."""
        if not words:
            return _marker(Route(RouteKind.ANY_TEXT, states=_states(states)), door, platform)
        return _marker(Route(RouteKind.TEXT, tuple(w.strip().casefold() for w in words), states=_states(states)),
                       door, platform)

    def keyword(self, *words: str, states: States = None, door: Door | str = Door.CUSTOMER,
                platform: Platform | str | None = None) -> Marker:
        """The message contains one of ``words`` (case-insensitive)."""
        return _marker(Route(RouteKind.KEYWORD, tuple(w.casefold() for w in words), states=_states(states)),
                       door, platform)

    def regex(self, pattern: str, states: States = None, door: Door | str = Door.CUSTOMER,
              platform: Platform | str | None = None) -> Marker:
        """The message matches ``pattern`` (``re.search`` syntax, given :data:`REGEX_TIMEOUT`);
        ``turn.match`` holds the match."""
        return _marker(Route(RouteKind.REGEX, pattern=_compile(pattern), states=_states(states)), door, platform)

    def media(self, *types: str, states: States = None, door: Door | str = Door.CUSTOMER,
              platform: Platform | str | None = None) -> Marker:
        """The customer sent an image, voice, video, location... (all media if none named)."""
        return _marker(Route(RouteKind.MEDIA, tuple(types), states=_states(states)), door, platform)

    def wechat(self, *names: str, key: str | None = None, states: States = None,
               door: Door | str = Door.CUSTOMER, platform: Platform | str | None = None) -> Marker:
        """A platform event (``subscribe``, ``click`` with ``key=``, ``add_external_contact``...).

        ``platform="wechat"`` tells an Official Account follow from anything on WeCom;
        ``door="staff"`` answers staff following or using the WeCom app instead of customers.
        """
        return _marker(Route(RouteKind.WECHAT, tuple(n.lower() for n in names), key=key, states=_states(states)),
                       door, platform)

    def event(self, *names: str, states: States = None, data: dict[str, Any] | None = None) -> Marker:
        """A business event posted by the brand's systems.

        ``data`` declares its fields and types (see :mod:`persona.model.payloads`): a posted event
        that does not match is refused with 422 before any handler runs."""
        declared = None
        if data is not None:
            if len(names) != 1:
                raise DefinitionError(f"@on.event{names!r}: declare data= on a handler of one event")
            declared = EventData.build(names[0], data)
        return Marker(Route(RouteKind.EVENT, tuple(names), states=_states(states), data=declared))

    def timer(self, name: str, *, state: States = None, **schedule: Any) -> Marker:
        """A timer fires; with schedule arguments the timer arms itself (see :class:`TimerSpec`).

        ``state`` is one state (a scheduled timer is bound to it) or, for a timer set by hand
        with ``turn.schedule``, a list of the states its handler runs in."""
        where = f"@on.timer({name!r})"
        if "states" in schedule:
            raise DefinitionError(f"{where}: write state= (one state, or a list for a timer set by hand), "
                                  "not states=")
        states = _states(state)
        single = next(iter(states)) if states is not None and len(states) == 1 else None
        spec = TimerSpec.build(name, state=single, **schedule)
        if states is not None and len(states) > 1 and spec.scheduled:
            raise DefinitionError(f"{where}: a scheduled timer is bound to one state (armed on entering it, "
                                  f"cancelled on leaving it), not {sorted(states)}; guard it with when= "
                                  "to limit it further")
        return Marker(Route(RouteKind.TIMER, (name,), states=states, timer=spec))

    def rule(self, fn: Handler) -> Handler:
        """Runs after every input's handler, on every customer: real-time tagging rules."""
        return Marker(Route(RouteKind.RULE))(fn)


on = _On()
