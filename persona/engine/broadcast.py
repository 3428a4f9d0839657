"""One script to many customers, each through a turn of their own.

A broadcast is not a mass mailing: every customer gets a turn, like a business event, so
everything that protects customers applies (opt-out, daily and weekly caps, quiet hours, the
platform windows and budgets) and each decision lands in the customer's journal. The persona
decides what is said: its ``broadcast(turn, script)`` method. Each customer's input carries the
broadcast's dedupe key, so a broadcast run again (or by a second worker) reaches nobody twice.
``persona broadcast`` and the campaigns ``persona serve`` runs (:mod:`persona.engine.campaigns`)
both go through here.
"""

from __future__ import annotations

import asyncio
import inspect
import types
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

from ..errors import PersonaError
from ..model.handlers import on
from ..model.inputs import BusinessEvent
from ..model.persona import Persona
from ..model.turn import Turn
from .gate import Action
from .outcome import Outcome, Status
from .runtime import Runtime

#: the business event each customer of a broadcast receives (handled by :func:`broadcasting`)
EVENT = "persona:broadcast"
#: customers whose turns run at once: enough to fill the store's shared round trips
CONCURRENCY = 64


class Steps(Protocol):
    """Told after each customer (a progress bar)."""

    def step(self) -> None: ...

    def done(self) -> None: ...


def dedupe_key(run_id: str) -> str:
    """The key every customer's turn of broadcast ``run_id`` carries."""
    return f"broadcast:{run_id}"


def broadcasting(cls: type[Persona]) -> type[Persona]:
    """``cls`` plus a handler for :data:`EVENT`, the input each customer of a broadcast gets.

    A subclass, so the bot's own class never takes broadcasts from elsewhere; it lives in the
    bot's module (so its scripts are found) and keeps its name (so it reads and writes the same
    store namespace). The handler is the persona's :meth:`~persona.model.persona.Persona.broadcast`.
    """
    if EVENT in cls.routes.event:
        return cls
    sub: type[Persona] = types.new_class(cls.__name__, (cls,), exec_body=lambda ns: ns.update(
        __module__=cls.__module__, __qualname__=cls.__qualname__, __doc__=cls.__doc__))
    sub.register(persona_broadcast, on.event(EVENT).route)
    return sub


def speaker(persona: Persona) -> Persona:
    """``persona`` as campaigns run it: it takes the broadcast event, and shares the scripts
    (their published versions), staffing and form links of the one that answers callbacks."""
    said = broadcasting(type(persona))(persona.scripts)
    said.staffing = persona.staffing
    said.form_links = persona.form_links
    return said


async def persona_broadcast(persona: Persona, turn: Turn) -> None:
    """Say the broadcast's script to this customer as the persona decides."""
    said = persona.broadcast(turn, str(turn.data["script"]))
    if inspect.isawaitable(said):
        await said


@dataclass
class Tally:
    """What a broadcast did, customer by customer."""

    sent: int = 0
    deferred: int = 0
    dropped: Counter[str] = field(default_factory=Counter)
    silent: int = 0  # the persona chose to say nothing to them
    done_before: int = 0  # the same broadcast id reached them already
    errors: Counter[str] = field(default_factory=Counter)

    def add(self, outcome: Outcome) -> None:
        if outcome.status is Status.DUPLICATE:
            self.done_before += 1
            return
        if outcome.status is Status.ERROR:
            self.errors[outcome.error or "error"] += 1
            return
        mine = [d for m, d in outcome.messages if m.to is None]
        if not mine:
            self.silent += 1
        for decision in mine:
            if decision.action is Action.SEND:
                self.sent += 1
            elif decision.action is Action.DEFER:
                self.deferred += 1
            elif decision.action is Action.DROP:
                self.dropped[decision.reason or "dropped"] += 1

    def merge(self, other: "Tally") -> None:
        """Add what another process of the same broadcast did."""
        self.sent += other.sent
        self.deferred += other.deferred
        self.dropped.update(other.dropped)
        self.silent += other.silent
        self.done_before += other.done_before
        self.errors.update(other.errors)

    def counts(self) -> dict[str, int]:
        """Flat counts, as a campaign keeps them in the store: ``sent``, ``deferred``,
        ``dropped:REASON``, ``silent``, ``done_before``, ``error``."""
        out = {"sent": self.sent, "deferred": self.deferred, "silent": self.silent,
               "done_before": self.done_before, "error": sum(self.errors.values())}
        out.update({f"dropped:{reason}": n for reason, n in self.dropped.items()})
        return {k: v for k, v in out.items() if v}

    @classmethod
    def from_counts(cls, counts: dict[str, int]) -> "Tally":
        """The tally :meth:`counts` was read from (errors keep their number, not their text)."""
        tally = cls(sent=counts.get("sent", 0), deferred=counts.get("deferred", 0), silent=counts.get("silent", 0),
                    done_before=counts.get("done_before", 0))
        tally.dropped.update({k.partition(":")[2]: n for k, n in counts.items() if k.startswith("dropped:") and n})
        if counts.get("error"):
            tally.errors["error"] = counts["error"]
        return tally

    @property
    def reached(self) -> int:
        """Customers this run decided for (every one but those done before and the errors)."""
        return self.sent + self.deferred + sum(self.dropped.values()) + self.silent

    def lines(self) -> list[str]:
        out = [f"sent        {self.sent}",
               f"deferred    {self.deferred}" + (" (quiet hours: sent when they end)" if self.deferred else "")]
        dropped = sum(self.dropped.values())
        reasons = ", ".join(f"{reason} {n}" for reason, n in self.dropped.most_common())
        out.append(f"dropped     {dropped}" + (f" ({reasons})" if reasons else ""))
        if self.silent:
            out.append(f"not said    {self.silent} (the persona chose not to)")
        if self.done_before:
            out.append(f"done before {self.done_before} (this broadcast reached them already)")
        if self.errors:
            out.append(f"errors      {sum(self.errors.values())}")
            out += [f"  {n} x {error}" for error, n in self.errors.most_common(5)]
        return out


async def broadcast(runtime: Runtime, users: list[str], script: str | Callable[[str], str], run_id: str,
                    data: dict[str, Any], *, concurrency: int = CONCURRENCY, progress: Steps | None = None,
                    each: Callable[[str, str, Outcome], Any] | None = None,
                    go_on: Callable[[], bool] | None = None) -> Tally:
    """One turn per customer, ``concurrency`` at a time (``runtime.persona`` must come from
    :func:`broadcasting`).

    ``concurrency`` workers walk the list together, so a million customers are never a million
    tasks waiting their turn; the turns in flight together are what lets the store send their
    reads and commits in shared round trips. ``script`` may pick each customer's script (an A/B
    split); ``each`` is told every customer's outcome (a campaign's progress in the store);
    ``go_on`` is asked before each customer (a campaign cancelled meanwhile stops there).
    """
    tally = Tally()
    key = dedupe_key(run_id)
    walk = iter(users)
    pick = script if callable(script) else (lambda user: str(script))

    async def worker() -> None:
        for user in walk:
            if go_on is not None and not go_on():
                return
            said = pick(user)
            inp = BusinessEvent(user=user, name=EVENT, data={**data, "script": said}, dedupe_key=key)
            try:
                outcome = await runtime.handle(inp)
            except PersonaError as exc:  # the store went away for this one: report, carry on
                outcome = Outcome(status=Status.ERROR, error=str(exc))
            tally.add(outcome)
            if each is not None:
                done = each(user, said, outcome)
                if inspect.isawaitable(done):
                    await done
            if progress:
                progress.step()

    await asyncio.gather(*(worker() for _ in range(max(1, min(concurrency, len(users))))))
    if progress:
        progress.done()
    return tally
