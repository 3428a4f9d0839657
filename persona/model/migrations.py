"""How a persona declares its past: one :class:`Migration` per change of a live bot.

A persona lists its migrations oldest first (``migrations = [Migration(...), ...]``); their
number is the persona's *generation*. Each customer record carries the generation it was last
written under, so a customer stored three changes ago goes through exactly the last three
steps, in order, and a customer created today goes through none: a name that comes back in a
later version is never mistaken for the old one.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Iterable, Mapping

from ..errors import DefinitionError

if TYPE_CHECKING:
    from .persona import Persona


class Late(StrEnum):
    """What a backfilled one-shot timer gets when its moment has already passed."""

    SKIP = "skip"  # not armed: it would come long after its moment
    FIRE = "fire"  # armed for now: it goes out on the scheduler's next pass


@dataclass(frozen=True)
class Migration:
    """What changed in one version, for the customers stored before it.

    ``states``: an old state → the state its customers are in now (a rename, or where the
    customers of a removed state go). ``timers``: an old timer → its new name, or None to
    cancel it (a removed follow-up). ``attrs``: an old attribute name → the new one.
    ``backfill``: one-shot timers this version adds that customers stored before it should get
    too (a new day-30 follow-up for customers who joined ten days ago), armed as if declared
    when the customer joined; without it only new customers get them. ``late``: what a
    customer whose backfilled moment already passed gets (day 30 of someone who joined 40 days
    ago): :attr:`Late.SKIP` (the default) arms nothing, since the message would come long after
    its moment; :attr:`Late.FIRE` arms it for now, so it goes out on the scheduler's next pass.
    ``persona migrate --past-due`` may override it for one apply.
    """

    states: Mapping[str, str] = field(default_factory=dict)
    timers: Mapping[str, str | None] = field(default_factory=dict)
    attrs: Mapping[str, str] = field(default_factory=dict)
    backfill: tuple[str, ...] = ()
    late: "Late | str" = "skip"
    note: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "states", dict(self.states))
        object.__setattr__(self, "timers", dict(self.timers))
        object.__setattr__(self, "attrs", dict(self.attrs))
        object.__setattr__(self, "backfill", tuple(self.backfill))
        try:
            object.__setattr__(self, "late", Late(self.late))
        except ValueError:
            raise DefinitionError(f"Migration(late={self.late!r}): write one of "
                                  f"{', '.join(repr(str(x)) for x in Late)}") from None


def follow(steps: Iterable[Migration], kind: str, name: str) -> str | None:
    """Where ``name`` (a state, timer or attribute) ends after ``steps``; None: cancelled."""
    current: str | None = name
    for step in steps:
        mapping: Mapping[str, Any] = getattr(step, kind)
        if current is not None and current in mapping:
            current = mapping[current]
            if current is None:
                return None
    return current


def check(cls: type["Persona"]) -> None:
    """Fail at import when a migration points at a state or timer the persona does not have."""
    steps = list(cls.migrations)
    for i, step in enumerate(steps):
        if not isinstance(step, Migration):
            raise DefinitionError(f"{cls.__name__}.migrations[{i}] is {step!r}; write Migration(...)")
        later = steps[i + 1:]
        end: str | None
        for old, new in step.states.items():
            end = follow(later, "states", new)
            if end is None or end not in cls.states:
                raise DefinitionError(f"{cls.__name__}.migrations[{i}]: state {old!r} → {new!r}, which is "
                                      f"not a state of {cls.__name__}{_hint(new, cls.states)}")
        timers = cls.routes.timer
        for timer, moved in step.timers.items():
            end = None if moved is None else follow(later, "timers", moved)
            if moved is not None and end is not None and end not in timers:
                raise DefinitionError(f"{cls.__name__}.migrations[{i}]: timer {timer!r} → {moved!r}, which has no "
                                      f"@on.timer handler{_hint(moved, timers)}; use None to cancel it")
        for name in step.backfill:
            spec = cls.timer_specs.get(name)
            if spec is None:
                raise DefinitionError(f"{cls.__name__}.migrations[{i}]: backfill {name!r} is not a scheduled "
                                      f"timer of {cls.__name__}{_hint(name, cls.timer_specs)}")
            if spec.recurring:
                raise DefinitionError(f"{cls.__name__}.migrations[{i}]: backfill {name!r} is recurring; "
                                      "recurring timers are armed for every customer on their next turn "
                                      "anyway, backfill is for one-shot ones")


def _hint(name: str | None, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(str(name), list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""
