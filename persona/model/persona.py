"""The ``Persona`` base class: a bot's states, transitions, handlers and scripts in one class.

The class is checked and compiled when it is defined: one ``transitions`` machine per Persona
class, shared by every customer (a Machine per message would cost ~10x more), and routing
tables for messages, events and timers. Mistakes — an unknown state, a timer bound to a state
that does not exist, a script folder that does not compile — fail at import with a message
that says what to fix.
"""

from __future__ import annotations

import inspect
import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Awaitable, Callable, ClassVar, Mapping, Self, Sequence

from transitions.extensions.asyncio import AsyncMachine

from ..clock import DEFAULT_TZ
from ..errors import DefinitionError
from .handlers import Route, RouteKind, Routes, marked
from .migrations import Migration
from .migrations import check as check_migrations
from .moves import compile_moves
from .formlinks import FormLinks
from .forms import Form
from .forms import check as check_forms
from .staffing import HandoffSpec
from .templates import ScriptBook
from .timers import TimerSpec

if TYPE_CHECKING:
    from .customer import Customer
    from .turn import Turn


def _quiet_machine_log() -> None:
    """The machine library logs two INFO lines per state change ("Finished processing state ...
    callbacks"); the journal and the runtime already say what moved, so a served bot's log
    would be mostly these. Its warnings stay, and a level set on ``transitions`` is kept."""
    machine_log = logging.getLogger("transitions")
    if machine_log.level == logging.NOTSET:
        machine_log.setLevel(logging.WARNING)


_quiet_machine_log()


@dataclass
class Policy:
    """How politely this persona treats customers; enforced by the gate on every message.

    Caps count proactive messages (a reply to the customer's own message is not proactive).
    Quiet hours are local to the customer's time zone: proactive messages are deferred to the
    end of them, or dropped when they would be older than ``stale_after`` by then.
    """

    daily_cap: int = 3
    weekly_cap: int = 10
    quiet_start: str = "22:00"
    quiet_end: str = "08:00"
    stale_after: float = 12 * 3600
    opt_out_words: tuple[str, ...] = ("退订", "TD", "取消", "unsubscribe")
    opt_in_words: tuple[str, ...] = ("订阅", "恢复推送")
    kf_window: float = 48 * 3600
    kf_window_limit: int = 5
    kf_burst_limit: int = 3  # within a minute after a menu click, follow or scan
    wecom_mass_per_month: int = 4
    wecom_mass_per_day: int = 1
    fallback_template: str | None = None  # a template-message script to use outside the window
    #: a message that is exactly one of these words hands the customer to a human agent
    handoff_words: tuple[str, ...] = ("人工", "转人工")
    #: hand every text no handler took to a human agent
    handoff_unhandled: bool = False
    #: seconds without a message either way after which a held conversation returns to the bot
    handoff_idle: float = 30 * 60
    #: a script the bot says (as a service message) when it hands a customer over
    handoff_script: str | None = None

    def __post_init__(self) -> None:
        """A typo here would otherwise surface on the first message to a customer."""
        for name in ("quiet_start", "quiet_end"):
            value = getattr(self, name)
            try:
                hour, minute = str(value).split(":")
                if not (0 <= int(hour) <= 23 and 0 <= int(minute) <= 59):
                    raise ValueError
            except ValueError:
                raise DefinitionError(f"Policy.{name}={value!r}: write it as HH:MM, e.g. 22:00") from None
        for name in ("daily_cap", "weekly_cap", "kf_window_limit", "kf_burst_limit",
                     "wecom_mass_per_month", "wecom_mass_per_day", "stale_after", "kf_window", "handoff_idle"):
            if getattr(self, name) < 0:
                raise DefinitionError(f"Policy.{name} cannot be negative (got {getattr(self, name)!r})")


class Persona:
    """Subclass me. Class attributes declare the flow; decorated methods handle inputs."""

    name: ClassVar[str] = ""
    states: ClassVar[list[str]] = []
    initial: ClassVar[str] = ""
    transitions: ClassVar[list[Any]] = []
    scripts_dir: ClassVar[str] = "scripts"
    timezone: ClassVar[str] = DEFAULT_TZ
    policy: ClassVar[Policy] = Policy()
    #: tags the store indexes for segment queries (None: all tags)
    indexed_tags: ClassVar[frozenset[str] | None] = None
    #: customer attributes (``attrs``) and tags the brand's data brings in, beyond those the
    #: code sets by name: ``persona lint`` checks what scripts read against these too
    attributes: ClassVar[frozenset[str]] = frozenset()
    tag_names: ClassVar[frozenset[str]] = frozenset()
    #: scripts said only by ``persona broadcast`` (through :meth:`broadcast`): ``persona lint``
    #: counts them as said
    broadcasts: ClassVar[frozenset[str]] = frozenset()
    #: 话术库: scripts written for agents, offered in the WeCom sidebar for the customer in the chat
    agent_scripts: ClassVar[frozenset[str]] = frozenset()
    #: who takes a customer handed to a human, when, and what everyone is told
    #: (:class:`~persona.model.staffing.HandoffSpec`; None: ``Policy.handoff_script`` alone)
    handoff: ClassVar[HandoffSpec | None] = None
    journal_cap: ClassVar[int] = 100
    #: the state whose entry counts as a conversion in the funnel by channel (``persona funnel
    #: --channels``, the studio's 渠道活码); None: the last of ``states``
    converted: ClassVar[str | None] = None
    #: how this persona speaks, in a sentence or two: suggested replies written by a language
    #: model (``persona suggest``) follow it
    voice: ClassVar[str] = ""
    #: the persona's knowledge, beside its module: FAQ entries and free text (``knowledge/*.md``)
    faq_file: ClassVar[str] = "faq.yaml"
    #: 风控: the words and patterns no message may say, beside the persona (persona.content.risk)
    risk_file: ClassVar[str] = "risk.yaml"
    knowledge_dir: ClassVar[str] = "knowledge"
    #: how customers stored by earlier versions map onto this one, oldest change first (see
    #: persona.migrate); their number is the generation every record is stamped with
    migrations: ClassVar[Sequence[Migration]] = ()
    #: 信息采集: forms served to customers behind signed links (``{{ form_link("name") }}``), each
    #: submission becoming the business event its :class:`~persona.model.forms.Form` names
    forms: ClassVar[Sequence[Form]] = ()
    #: one customer across the Official Account and WeCom: an openid and an external_userid
    #: with the same unionid are one customer (see persona.engine.identity); the bot asks the
    #: platforms for unionids, so it is for a bot on both accounts, bound to one Open Platform
    link_by_unionid: ClassVar[bool] = False

    machine: ClassVar[AsyncMachine]
    #: ``(trigger, source) -> destination`` for transitions that call nothing (see :mod:`.moves`)
    moves: ClassVar[dict[tuple[str, str], str]]
    routes: ClassVar[Routes]
    timer_specs: ClassVar[dict[str, TimerSpec]]
    triggers: ClassVar[frozenset[str]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not cls.states:
            return  # an abstract intermediate class
        if not cls.name:
            module = cls.__module__.split(".")
            cls.name = module[-2] if module[-1] in ("persona", "bot", "__init__") and len(module) > 1 else module[-1]
        cls._check_states()
        cls._check_tag_names()
        cls.machine = cls._build_machine()
        cls.triggers = frozenset(cls.machine.events)
        cls.moves = compile_moves(cls.machine)
        cls._collect_routes()
        check_migrations(cls)
        check_forms(cls)

    # -- compile-time checks ---------------------------------------------------------------
    @classmethod
    def _check_states(cls) -> None:
        known = set(cls.states)
        if len(known) != len(cls.states):
            raise DefinitionError(f"{cls.__name__}.states lists a state twice: {cls.states}")
        if not cls.initial:
            cls.initial = cls.states[0]
        if cls.initial not in known:
            raise DefinitionError(f"{cls.__name__}.initial {cls.initial!r} is not one of its states {sorted(known)}")
        if cls.converted is not None and cls.converted not in known:
            raise DefinitionError(f"{cls.__name__}.converted {cls.converted!r} is not one of its states "
                                  f"({', '.join(cls.states)})")
        for t in cls.transitions:
            spec = transition_spec(t, cls.__name__)
            sources = spec["source"] if isinstance(spec["source"], list) else [spec["source"]]
            for state in [*sources, spec["dest"]]:
                if state not in known and state != "*" and state != "=" and state is not None:
                    raise DefinitionError(
                        f"{cls.__name__}: transition {spec['trigger']!r} names unknown state {state!r}; "
                        f"declare it in states = [...] (known: {', '.join(cls.states)})")

    @classmethod
    def _check_tag_names(cls) -> None:
        for where in ("indexed_tags", "tag_names"):
            bad = sorted((repr(t) for t in getattr(cls, where) or () if not isinstance(t, str) or not t or "=" in t))
            if bad:
                raise DefinitionError(f"{cls.__name__}.{where} has {', '.join(bad)}: a tag name is a non-empty string "
                                      "without '=' (segments are written tag:name=value)")

    @classmethod
    def _build_machine(cls) -> AsyncMachine:
        machine = AsyncMachine(model=None, states=list(cls.states), initial=cls.initial,
                               auto_transitions=False, send_event=False,
                               ignore_invalid_triggers=False)
        for t in cls.transitions:
            machine.add_transition(**transition_spec(t, cls.__name__))
        for state in cls.states:
            for moment in ("enter", "exit"):
                method = f"on_{moment}_{state}"
                if callable(getattr(cls, method, None)):
                    machine.get_state(state).add_callback(moment, method)
        return machine

    @classmethod
    def _collect_routes(cls) -> None:
        """Register every method marked by a decorator, base classes' first."""
        cls.routes, cls.timer_specs = Routes(), {}
        seen: set[str] = set()
        for klass in reversed(cls.__mro__):
            for attr, fn in vars(klass).items():
                routes = marked(fn)
                if attr in seen or not routes:
                    continue
                seen.add(attr)
                cls.register(attr, *routes)

    @classmethod
    def register(cls, handler: str | Callable[..., Any], *routes: Route) -> None:
        """Reach ``handler`` through ``routes``: what the ``@on.*`` decorators do, callable from code.

        ``handler`` is the name of a method, or a function ``(persona, turn)`` that becomes one
        under its own name. A route is what a decorator holds: ``on.event("paid").route``. The
        routes join this class's table, checked as at definition (an unknown state, a second
        handler for a timer, a guard that is not a method: :class:`DefinitionError`).
        """
        if callable(handler):
            attr = handler.__name__
            if vars(cls).get(attr, handler) is not handler:
                raise DefinitionError(f"{cls.__name__}.{attr} already exists; name the handler differently")
            setattr(cls, attr, handler)
        else:
            attr = handler
            if not callable(getattr(cls, attr, None)):
                raise DefinitionError(f"{cls.__name__}.{attr} is not a method to handle a route")
        known = set(cls.states)
        for route in routes:
            for state in route.states or ():
                if state not in known:
                    keyword = "state" if route.kind is RouteKind.TIMER else "states"
                    raise DefinitionError(f"{cls.__name__}.{attr}: {keyword}= names unknown state {state!r} "
                                          f"(known: {', '.join(cls.states)})")
            if route.kind is RouteKind.TIMER:
                cls._check_timer(route, attr)
            try:
                cls.routes.add(route, attr)
            except DefinitionError as exc:
                raise DefinitionError(f"{cls.__name__}: {exc}") from None
            if route.timer and route.timer.scheduled:
                cls.timer_specs[route.values[0]] = route.timer

    @classmethod
    def _check_timer(cls, route: Route, attr: str) -> None:
        spec, name = route.timer, route.values[0]
        if spec and spec.state and spec.state not in cls.states:
            raise DefinitionError(f"{cls.__name__}.{attr}: timer {name!r} is bound to unknown "
                                  f"state {spec.state!r} (known: {', '.join(cls.states)})")
        if spec and isinstance(spec.when, str) and not callable(getattr(cls, spec.when, None)):
            raise DefinitionError(f"{cls.__name__}.{attr}: guard when={spec.when!r} is not a method")

    # -- instance ----------------------------------------------------------------------------
    def __init__(self, scripts: ScriptBook | None = None) -> None:
        self.scripts = scripts or ScriptBook(self.folder() / self.scripts_dir)
        #: the handoff this instance follows: the class's, or a brand's own (``HandoffSpec.for_brand``)
        self.staffing: HandoffSpec | None = type(self).handoff
        #: how ``form_link()`` signs links: the brand's (:meth:`FormLinks.from_env`, set by whoever
        #: runs the persona), :meth:`FormLinks.preview` for lint and previews; None: scripts with a
        #: form link refuse to render rather than send a link nobody can open
        self.form_links: FormLinks | None = None

    @classmethod
    def for_brand(cls, environ: Mapping[str, str]) -> Self:
        """An instance set up for the brand whose environment is ``environ``: its own duty list,
        hours and desk address (``HandoffSpec.for_brand``) and its signer of form links. Every
        process that runs the persona (``serve``, ``worker``, the studio, the CLI's commands)
        builds it this way, so a timer turn hands over to the same staff and signs the same links
        as a callback turn."""
        persona = cls()
        if cls.handoff is not None:
            persona.staffing = cls.handoff.for_brand(environ)
        persona.form_links = FormLinks.from_env(environ)
        return persona

    @classmethod
    def folder(cls) -> Path:
        """The folder the persona's module lives in (scripts sit beside it)."""
        module = sys.modules.get(cls.__module__)
        path = getattr(module, "__file__", None) or inspect.getfile(cls)
        return Path(path).resolve().parent

    @classmethod
    def event_names(cls) -> frozenset[str]:
        """Business events this persona handles; others are refused (HTTP 422)."""
        return frozenset(cls.routes.event)

    @classmethod
    def check_event(cls, name: str, data: dict[str, Any]) -> None:
        """Raise :class:`~persona.errors.EventDataError` when ``data`` does not match what event
        ``name`` declared; events declared without ``data=`` take anything."""
        declared = cls.routes.event_data.get(name)
        if declared is not None:
            declared.check(data)

    # -- hooks a persona may replace ---------------------------------------------------------
    def context(self, turn: "Turn") -> dict[str, Any]:
        """Extra variables every script of this persona sees; override to add catalogue data.

        Called for every script rendered, so keep it cheap; ``persona lint`` reads the keys of
        a returned dict literal to know what scripts are given.
        """
        return {}

    def broadcast(self, turn: "Turn", script: str) -> Awaitable[None] | None:
        """What ``persona broadcast ... SCRIPT`` says to one customer of the segment.

        By default the script, as proactive marketing (through the gate like any message).
        Replace it to skip customers the script cannot speak to, or to give it variables;
        plain or async.
        """
        turn.say(script, category="marketing")
        return None

    def merged_state(self, first: "Customer", second: "Customer") -> str:
        """The state of one person's two records once they become one (``persona.engine.merge``):
        by default the further along of the two, the later in ``states``. Replace it when the
        order of ``states`` is not the order customers go through them (a tag can decide)."""
        order = type(self).states
        rank = {state: i for i, state in enumerate(order)}
        return max(first.state, second.state, key=lambda state: rank.get(state, -1))


def transition_spec(t: Any, owner: str) -> dict[str, Any]:
    """A transition as transitions-style keyword arguments, from a dict or ``[trigger, source, dest]``."""
    if isinstance(t, dict):
        spec = dict(t)
    elif isinstance(t, (list, tuple)) and len(t) >= 3:
        spec = {"trigger": t[0], "source": t[1], "dest": t[2]}
        if len(t) > 3 and isinstance(t[3], dict):
            spec.update(t[3])
    else:
        raise DefinitionError(f"{owner}: transition {t!r} must be [trigger, source, dest] or a dict")
    for key in ("trigger", "source", "dest"):
        if key not in spec:
            raise DefinitionError(f"{owner}: transition {t!r} lacks {key!r}")
    return spec


def load_persona(path: str) -> type[Persona]:
    """Import ``bots.xiaowanzi`` (or ``bots.xiaowanzi:Xiaowanzi``) and return its Persona class."""
    import importlib

    module_name, _, attr = path.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise DefinitionError(f"cannot import bot {module_name!r}: {exc}") from None
    if attr:
        found = getattr(module, attr, None)
        if not (inspect.isclass(found) and issubclass(found, Persona)):
            raise DefinitionError(f"{path}: {attr!r} is not a Persona subclass")
        return found
    candidates = [v for v in vars(module).values()
                  if inspect.isclass(v) and issubclass(v, Persona) and v is not Persona and v.states]
    own = [c for c in candidates if c.__module__.startswith(module_name)]
    found_list = own or candidates
    if len(found_list) != 1:
        names = ", ".join(c.__name__ for c in found_list) or "none"
        raise DefinitionError(f"bot {module_name!r} must define exactly one Persona subclass "
                              f"(found: {names}); or name it as {module_name}:ClassName")
    return found_list[0]
