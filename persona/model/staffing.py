"""Who takes a customer the bot hands over, when they can, and what everyone is told.

A persona declares it once (``handoff = HandoffSpec(...)``); :mod:`persona.model.handoff`
follows it on every handover and handback:

- **assignment**: the customer's own WeCom staff member first (``follow_user``: whoever added
  them, which the framework keeps in ``attrs.follow_user`` from the add-contact event), then a
  table by tag (``by_tag={"product": {"lipstick": "lisi"}}``), then the ``agents`` on duty
  (each one's ``shifts``, else the bot's hours) in turn: round-robin, the next one being whoever
  the store's rotation count says has taken the fewest handovers today, ties in list order;
- **business hours** in the persona's time zone (``hours="09:00-21:00"``, ``weekdays``): inside
  them the customer gets the ``ack`` script, outside the ``offline`` script (离线自动回复), and
  the conversation waits in the queue either way;
- **who is told**: the assigned staff member gets the ``notify`` script (a WeCom app message to
  ``staff:<userid>``) with the customer's name, state, their last lines and a link to the desk;
  on handback the customer gets ``back`` and the agent ``back_notify``.

Every script is the writers' like any other (said as service messages, through the gate).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, time
from typing import TYPE_CHECKING

from ..errors import DefinitionError

if TYPE_CHECKING:
    from .customer import Customer

#: what each script of a handoff is given (lint checks the scripts against these)
ACK_VARIABLES = frozenset({"agent", "open", "reason", "hours"})
NOTIFY_VARIABLES = frozenset({"customer_name", "customer_id", "state", "text", "recent", "reason", "link", "open"})
#: how many of the customer's last lines a notification carries
RECENT_LINES = 5
BACK_VARIABLES = frozenset({"why", "agent"})
BACK_NOTIFY_VARIABLES = frozenset({"why", "customer_name", "customer_id", "held_minutes"})


def _span(text: str, what: str) -> tuple[time, time]:
    """``"09:00-21:00"`` as its two bounds; raises :class:`DefinitionError` naming ``what``."""
    start, sep, end = text.partition("-")
    try:
        if not sep:
            raise ValueError
        bounds = tuple(time(int(h), int(m)) for h, m in (start.split(":"), end.split(":")))
    except ValueError:
        raise DefinitionError(f"HandoffSpec.{what}={text!r}: write HH:MM-HH:MM, e.g. 09:00-21:00") from None
    if bounds[0] == bounds[1]:
        raise DefinitionError(f"HandoffSpec.{what}={text!r}: the start and the end are the same; "
                              "leave it out for all day")
    return bounds[0], bounds[1]


def _within(hours: str | None, weekdays: tuple[int, ...], local: datetime) -> bool:
    """Whether ``local`` falls in ``hours`` on ``weekdays``. A span past midnight (``21:00-09:00``)
    belongs to the day it started on: Saturday 02:00 is Friday's."""
    if hours is None:
        return local.weekday() in weekdays
    first, last = _span(hours, "hours")
    now = local.time()
    if first < last:
        return first <= now < last and local.weekday() in weekdays
    if now >= first:
        return local.weekday() in weekdays
    return now < last and (local.weekday() - 1) % 7 in weekdays


@dataclass(frozen=True)
class HandoffSpec:
    """A persona's handoff: see the module docstring."""

    agents: tuple[str, ...] = ()
    #: an agent's own hours (``{"lisi": "09:00-18:00"}``, on the spec's weekdays); others keep ``hours``
    shifts: Mapping[str, str] = field(default_factory=dict)
    by_tag: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    follow_user: bool = True
    hours: str | None = None  # "09:00-21:00" in the persona's time zone; None: always staffed
    weekdays: tuple[int, ...] = (0, 1, 2, 3, 4, 5, 6)  # Monday is 0
    ack: str | None = None
    offline: str | None = None
    notify: str | None = None
    back: str | None = None
    back_notify: str | None = None
    #: the desk's address in a notification: ``{bot}`` and ``{user}`` are filled in
    desk_url: str = ""

    def __post_init__(self) -> None:
        if self.hours is not None:
            _span(self.hours, "hours")
        for agent, hours in self.shifts.items():
            _span(hours, f"shifts[{agent!r}]")
            if agent not in self.agents:
                raise DefinitionError(f"HandoffSpec.shifts names {agent!r}, who is not in agents={self.agents!r}")
        if not set(self.weekdays) <= set(range(7)):
            raise DefinitionError(f"HandoffSpec.weekdays={self.weekdays!r}: days are 0 (Monday) to 6 (Sunday)")

    def scripts(self) -> dict[str, frozenset[str]]:
        """Each script this handoff says, with what it is given."""
        kinds = {self.ack: ACK_VARIABLES, self.offline: ACK_VARIABLES, self.notify: NOTIFY_VARIABLES,
                 self.back: BACK_VARIABLES, self.back_notify: BACK_NOTIFY_VARIABLES}
        return {name: given for name, given in kinds.items() if name}

    def owner(self, customer: "Customer") -> str | None:
        """The staff member ``customer`` belongs to: their own (``follow_user``), else the one
        their tag names; None: whoever's turn it is on the duty list (:meth:`next_on_duty`)."""
        own = customer.attrs.get("follow_user")
        if self.follow_user and isinstance(own, str) and own:
            return own
        for tag, table in self.by_tag.items():
            value = customer.tags.get(tag)
            if value is not None and value in table:
                return table[value]
        return None

    def on_duty(self, local: datetime) -> tuple[str, ...]:
        """The agents working at ``local`` (the persona's time); all of them when nobody is, so
        the conversation waits for whoever comes on first."""
        working = tuple(a for a in self.agents if _within(self.shifts.get(a, self.hours), self.weekdays, local))
        return working or self.agents

    def next_on_duty(self, local: datetime, taken: Mapping[str, int]) -> str | None:
        """Round-robin: of the agents on duty, the one who has ``taken`` the fewest handovers
        (ties in the order of :attr:`agents`); None without a duty list."""
        working = self.on_duty(local)
        if not working:
            return None
        return min(working, key=lambda a: (taken.get(a, 0), working.index(a)))

    def open_at(self, local: datetime) -> bool:
        """Whether the bot's desk is open at ``local`` (the persona's time)."""
        return _within(self.hours, self.weekdays, local)

    def link(self, bot: str, user: str) -> str:
        return self.desk_url.format(bot=bot, user=user) if self.desk_url else ""

    def for_brand(self, environ: Mapping[str, str]) -> "HandoffSpec":
        """This spec with a brand's own settings from its environment: ``PERSONA_HANDOFF_AGENTS``
        (comma-separated userids), ``PERSONA_HANDOFF_SHIFTS`` (``lisi=09:00-18:00,...``),
        ``PERSONA_HANDOFF_HOURS`` (``HH:MM-HH:MM``; empty: all day on the spec's weekdays) and
        ``PERSONA_HANDOFF_DESK_URL`` (each also as ``<BOTNAME>_PERSONA_HANDOFF_...``). A brand's
        own duty list keeps the spec's shifts of the agents still on it."""
        changes: dict[str, object] = {}
        agents: tuple[str, ...] | None = None
        if environ.get("PERSONA_HANDOFF_AGENTS") is not None:
            agents = tuple(a.strip() for a in environ["PERSONA_HANDOFF_AGENTS"].split(",") if a.strip())
            changes["agents"] = agents
        if environ.get("PERSONA_HANDOFF_HOURS") is not None:
            changes["hours"] = environ["PERSONA_HANDOFF_HOURS"].strip() or None
        if environ.get("PERSONA_HANDOFF_SHIFTS") is not None:
            pairs = (pair.partition("=") for pair in environ["PERSONA_HANDOFF_SHIFTS"].split(",") if pair.strip())
            changes["shifts"] = {agent.strip(): hours.strip() for agent, _, hours in pairs}
        elif agents is not None:
            changes["shifts"] = {a: h for a, h in self.shifts.items() if a in agents}
        if environ.get("PERSONA_HANDOFF_DESK_URL") is not None:
            changes["desk_url"] = environ["PERSONA_HANDOFF_DESK_URL"].strip()
        return replace(self, **changes) if changes else self  # type: ignore[arg-type]
