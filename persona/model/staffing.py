"""Who takes a customer the bot hands over, when they can, and what everyone is told.

A persona declares it once (``handoff = HandoffSpec(...)``); :mod:`persona.model.handoff`
follows it on every handover and handback:

- **assignment**: the customer's own WeCom staff member first (``follow_user``: whoever added
  them, which the framework keeps in ``attrs.follow_user`` from the add-contact event), then a
  table by tag (``by_tag={"product": {"lipstick": "lisi"}}``), then the on-duty ``agents``,
  spread by a stable hash of the customer (one customer keeps one agent, and the agents share
  customers evenly without a shared counter);
- **business hours** in the persona's time zone (``hours="09:00-21:00"``, ``weekdays``): inside
  them the customer gets the ``ack`` script, outside the ``offline`` script (离线自动回复), and
  the conversation waits in the queue either way;
- **who is told**: the assigned staff member gets the ``notify`` script (a WeCom app message to
  ``staff:<userid>``) with the customer's name, state, what they wrote and a link to the desk;
  on handback the customer gets ``back`` and the agent ``back_notify``.

Every script is the writers' like any other (said as service messages, through the gate).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, time
from typing import TYPE_CHECKING

from ..errors import DefinitionError

if TYPE_CHECKING:
    from .customer import Customer

#: what each script of a handoff is given (lint checks the scripts against these)
ACK_VARIABLES = frozenset({"agent", "open", "reason", "hours"})
NOTIFY_VARIABLES = frozenset({"customer_name", "customer_id", "state", "text", "reason", "link", "open"})
BACK_VARIABLES = frozenset({"why", "agent"})
BACK_NOTIFY_VARIABLES = frozenset({"why", "customer_name", "customer_id", "held_minutes"})


def _clock(text: str, what: str) -> time:
    try:
        hour, minute = text.split(":")
        return time(int(hour), int(minute))
    except ValueError:
        raise DefinitionError(f"HandoffSpec.{what}={text!r}: write HH:MM-HH:MM, e.g. 09:00-21:00") from None


@dataclass(frozen=True)
class HandoffSpec:
    """A persona's handoff: see the module docstring."""

    agents: tuple[str, ...] = ()
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
            start, sep, end = self.hours.partition("-")
            if not sep:
                raise DefinitionError(f"HandoffSpec.hours={self.hours!r}: write HH:MM-HH:MM, e.g. 09:00-21:00")
            if _clock(start, "hours") == _clock(end, "hours"):
                raise DefinitionError(f"HandoffSpec.hours={self.hours!r}: the start and the end are the same; "
                                      "leave hours=None for all day")
        if not set(self.weekdays) <= set(range(7)):
            raise DefinitionError(f"HandoffSpec.weekdays={self.weekdays!r}: days are 0 (Monday) to 6 (Sunday)")

    def scripts(self) -> dict[str, frozenset[str]]:
        """Each script this handoff says, with what it is given."""
        kinds = {self.ack: ACK_VARIABLES, self.offline: ACK_VARIABLES, self.notify: NOTIFY_VARIABLES,
                 self.back: BACK_VARIABLES, self.back_notify: BACK_NOTIFY_VARIABLES}
        return {name: given for name, given in kinds.items() if name}

    def assign(self, customer: "Customer") -> str | None:
        """The staff member who takes ``customer`` (None: nobody in particular)."""
        own = customer.attrs.get("follow_user")
        if self.follow_user and isinstance(own, str) and own:
            return own
        for tag, table in self.by_tag.items():
            value = customer.tags.get(tag)
            if value is not None and value in table:
                return table[value]
        if self.agents:
            digest = hashlib.blake2b(customer.id.encode(), digest_size=8).digest()
            return self.agents[int.from_bytes(digest, "big") % len(self.agents)]
        return None

    def open_at(self, local: datetime) -> bool:
        """Whether someone is on duty at ``local`` (the persona's time). A shift past midnight
        (``21:00-09:00``) belongs to the day it started on: Saturday 02:00 is Friday's shift."""
        if self.hours is None:
            return local.weekday() in self.weekdays
        start, _, end = self.hours.partition("-")
        now, first, last = local.time(), _clock(start, "hours"), _clock(end, "hours")
        if first < last:
            return first <= now < last and local.weekday() in self.weekdays
        if now >= first:
            return local.weekday() in self.weekdays
        return now < last and (local.weekday() - 1) % 7 in self.weekdays

    def link(self, bot: str, user: str) -> str:
        return self.desk_url.format(bot=bot, user=user) if self.desk_url else ""

    def for_brand(self, environ: Mapping[str, str]) -> "HandoffSpec":
        """This spec with a brand's own settings from its environment: ``PERSONA_HANDOFF_AGENTS``
        (comma-separated userids), ``PERSONA_HANDOFF_HOURS`` (``HH:MM-HH:MM``; empty: all day on
        the spec's weekdays) and ``PERSONA_HANDOFF_DESK_URL`` (each also as ``<BOTNAME>_PERSONA_HANDOFF_...``)."""
        changes: dict[str, object] = {}
        if environ.get("PERSONA_HANDOFF_AGENTS") is not None:
            changes["agents"] = tuple(a.strip() for a in environ["PERSONA_HANDOFF_AGENTS"].split(",") if a.strip())
        if environ.get("PERSONA_HANDOFF_HOURS") is not None:
            changes["hours"] = environ["PERSONA_HANDOFF_HOURS"].strip() or None
        if environ.get("PERSONA_HANDOFF_DESK_URL") is not None:
            changes["desk_url"] = environ["PERSONA_HANDOFF_DESK_URL"].strip()
        return replace(self, **changes) if changes else self  # type: ignore[arg-type]
