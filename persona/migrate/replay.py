"""Replaying a customer's journal against the persona as it is now.

Each turn journals its input (``i`` on the turn's first line, for inputs from outside: timers
are not replayed, they fire again by themselves) and every message with the gate's decision and
a digest of what it said. :func:`replay` feeds those inputs, at their original times, to the
current persona on a memory store with a fake clock, firing its timers on the way, and pairs
each turn then with the turn now: how a writer or developer sees what a change does to real
histories before deploying it. Nothing is written to the real store and nothing is sent.

The journal keeps each customer's most recent lines only (``Persona.journal_cap``): when it no
longer reaches back to the customer's first turn, the replay starts from a new customer at the
oldest kept input, and says so.

Scripts: each turn speaks with the versions that were live at its time
(:class:`~persona.content.scripts.ScriptTimeline`; a rollback is a version too), except that a
script the turn's journal names speaks with the version its line records (none: the file),
which is what that process had even in the second a publish took to reach it. So a publish
made after a turn is no difference in it. ``ScriptsAt.NOW`` replays every turn with the
versions live now instead: what today's scripts would have said. A customer gets the A/B
variant the journal says they got (while it runs in the set replayed); a message journaled
without one gets the stable hash pick, which, replayed over the same history with the same
weights, is theirs too.
"""

from __future__ import annotations

import json
import os
import random
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from ..clock import FakeClock
from ..content.scripts.timeline import ScriptTimeline
from ..model.customer import Customer
from ..model.formlinks import FormLinks
from ..model.inputs import TimerFired, from_record
from ..engine.outcome import Outcome, ReplySlot
from ..engine.runtime import Runtime
from ..model.templates import LiveScript, ScriptBook
from ..store.base import Store
from ..store.memory import MemoryStore
from ..store.versions import ScriptVersionStore

if TYPE_CHECKING:
    from ..model.persona import Persona

TIMER_BATCH = 100


class ScriptsAt(StrEnum):
    """Which published versions of the scripts a replayed turn speaks with."""

    THEN = "then"  # those live at the turn's time: only changes of code and files show
    NOW = "now"  # those live now, for every turn: what today's scripts would have said


@dataclass
class Said:
    """One message of a turn: then from the journal, now from the replayed turn."""

    script: str
    action: str  # the gate's decision: send | defer | drop
    digest: str | None = None
    text: str = ""  # now only: the journal does not keep the text
    to: str | None = None
    variant: str | None = None  # the A/B variant, for a script with several
    version: int | None = None  # the published version (None: the file)

    def label(self) -> str:
        return self.script + ("" if self.action == "send" else f" ({self.action})")


@dataclass
class Step:
    """One turn, then and now (either may be missing: a timer that no longer exists, a new one)."""

    at: float
    input: str
    then: list[Said] | None
    now: list[Said] | None

    @property
    def differs(self) -> bool:
        if self.then is None or self.now is None:
            return bool(self.then or self.now)
        if [(s.script, s.action, s.to) for s in self.then] != [(s.script, s.action, s.to) for s in self.now]:
            return True
        return any(a.digest is not None and a.digest != b.digest for a, b in zip(self.then, self.now))


@dataclass
class Replay:
    user: str
    steps: list[Step] = field(default_factory=list)
    complete: bool = True  # the journal reaches back to the customer's first turn
    scripts: ScriptsAt = ScriptsAt.THEN

    @property
    def differences(self) -> list[Step]:
        return [s for s in self.steps if s.differs]


@dataclass
class _Then:
    at: float
    input: str
    record: dict[str, Any] | None
    said: list[Said]


def _turns(lines: list[str]) -> list[_Then]:
    """The journal as turns: each starts at its input's line (``in``, or ``error`` when the
    handler failed) and owns the messages journaled after it."""
    turns: list[_Then] = []
    for raw in lines:
        entry = json.loads(raw)
        kind = entry.get("k")
        if kind in ("in", "error"):
            turns.append(_Then(entry["t"], entry.get("input", ""), entry.get("i"), []))
        elif kind == "out" and turns:
            turns[-1].said.append(Said(entry.get("script", ""), entry.get("action", ""), entry.get("h"),
                                       to=entry.get("to"), variant=entry.get("variant"), version=entry.get("v")))
        elif "i" in entry:  # a turn whose first note is not its input (an opt-out, a migration)
            turns.append(_Then(entry["t"], "", entry["i"], []))
    return turns


def _said(outcome: Outcome) -> list[Said]:
    return [Said(m.script or m.kind, d.action, m.digest(), m.summary(), m.to, m.variant, m.version or None)
            for m, d in outcome.messages]


class _Books:
    """The replayed persona's scripts for each turn: the set live at its time (or now), with the
    versions and variants its journal lines record. Each set is compiled once per replay."""

    def __init__(self, persona: "Persona", timeline: ScriptTimeline, scripts: ScriptsAt) -> None:
        self.persona = persona
        self.timeline = timeline
        self.scripts = scripts
        # no published version and no variant: the persona's own book, as before any publish
        self._books: dict[frozenset[tuple[str, LiveScript]], ScriptBook] = {frozenset(): persona.scripts}

    def use(self, at: float, said: list[Said]) -> None:
        """Put the scripts of a turn at ``at`` that journaled ``said`` in the persona's place."""
        live = self.timeline.live_at(at) if self.scripts is ScriptsAt.THEN else self.timeline.live_now()
        for s in said:
            if self.scripts is ScriptsAt.THEN and s.script in self.timeline:
                # what the message used, as its process had it (a publish reaches a process
                # within a poll): no number is the file
                used = self.timeline.version(s.script, s.version or 0)
                if used is not None:
                    live[s.script] = used.live()
                elif not s.version:
                    live.pop(s.script, None)
            if s.variant and s.script in live:
                live[s.script] = _pinned(live[s.script], s.variant)
        key = frozenset(live.items())
        book = self._books.get(key)
        if book is None:  # lenient: a version today's code cannot render fails its own turn only
            book = self._books[key] = ScriptBook.draft(self.persona.scripts.folder, live)
        self.persona.scripts = book


def _pinned(script: LiveScript, variant: str) -> LiveScript:
    """``script`` with only ``variant`` running, so the replayed customer is given it; unchanged
    when that variant does not run in ``script``."""
    if not any(v.name == variant and v.weight > 0 for v in script.variants):
        return script
    return LiveScript(script.version, tuple(v if v.name == variant else replace(v, weight=0.0)
                                            for v in script.variants))


async def timeline_of(store: Store) -> ScriptTimeline:
    """The published versions in ``store`` (none when it cannot keep versions)."""
    return await ScriptTimeline.load(store) if isinstance(store, ScriptVersionStore) else ScriptTimeline({})


async def replay(persona: type["Persona"], store: Store, user: str, *, scripts: ScriptsAt = ScriptsAt.THEN,
                 timeline: ScriptTimeline | None = None) -> Replay:
    """Re-run ``user``'s journaled inputs against ``persona`` and pair each turn then and now.

    ``timeline``: the store's published versions, when the caller read them already."""
    journal = await store.journal(user, 1_000_000)
    loaded = await store.load(user)
    then = _turns(journal)
    result = Replay(user, scripts=scripts)
    if not then:
        return result
    if loaded.record is not None:
        first_seen = int(Customer.load(user, loaded.record, loaded.version).first_seen)
        result.complete = int(then[0].at) <= first_seen
    clock = FakeClock(float(then[0].at) - 1)
    bot = persona()
    bot.form_links = FormLinks.from_env(os.environ) or FormLinks.preview()  # the links as served, if it can
    runtime = Runtime(bot, MemoryStore(namespace=persona.name), clock)
    books = _Books(runtime.persona, timeline if timeline is not None else await timeline_of(store), scripts)
    journaled = {(int(turn.at), turn.input): turn.said for turn in then}
    now: list[tuple[float, str, list[Said]]] = []
    for n, turn in enumerate(then):
        if turn.record is None:
            continue
        now += await _fire_timers(runtime, clock, turn.at, books, journaled)
        clock.set(max(clock.now(), float(turn.at)))
        inp = from_record(user, turn.record, f"replay:{n}")
        books.use(turn.at, turn.said)
        outcome = await runtime.handle(inp, ReplySlot() if inp.inbound else None)
        now.append((turn.at, inp.describe(), _said(outcome)))
    now += await _fire_timers(runtime, clock, then[-1].at, books, journaled)
    result.steps = _pair(then, now)
    return result


async def _fire_timers(runtime: Runtime, clock: FakeClock, until: float, books: _Books,
                       journaled: dict[tuple[int, str], list[Said]]) -> list[tuple[float, str, list[Said]]]:
    """Fire every timer due up to ``until`` in order, as the scheduler would have, each with the
    scripts of its time (and what the journal says the same timer said then)."""
    fired: list[tuple[float, str, list[Said]]] = []
    store = runtime.store
    while (due := await store.next_timer_due()) is not None and due <= until:
        clock.set(max(clock.now(), due))
        for user, name, _ in await store.claim_timers(clock.now(), TIMER_BATCH, lease=60):
            books.use(clock.now(), journaled.get((int(clock.now()), f"timer {name}"), []))
            outcome = await runtime.handle(TimerFired(user=user, name=name))
            if outcome.status != "unhandled" or outcome.messages:
                fired.append((int(clock.now()), f"timer {name}", _said(outcome)))
    return fired


def _pair(then: list[_Then], now: list[tuple[float, str, list[Said]]]) -> list[Step]:
    """Line turns up by time and input; one present on a side only stands alone."""
    steps: list[Step] = []
    waiting = list(now)
    for turn in then:
        label = turn.input
        match = next((i for i, (at, what, _) in enumerate(waiting) if at == turn.at and what == label), None)
        if match is None:
            steps.append(Step(turn.at, label, turn.said, None))
            continue
        for at, what, said in waiting[:match]:
            steps.append(Step(at, what, None, said))
        at, what, said = waiting[match]
        steps.append(Step(turn.at, label or what, turn.said, said))
        waiting = waiting[match + 1:]
    steps += [Step(at, what, None, said) for at, what, said in waiting]
    return steps


async def sample(persona: type["Persona"], store: Store, n: int, *, seed: int | None = None,
                 scripts: ScriptsAt = ScriptsAt.THEN) -> list[Replay]:
    """Replays of ``n`` customers picked at random (all of them when there are fewer)."""
    users = await store.users()
    picked = random.Random(seed).sample(users, min(n, len(users)))
    timeline = await timeline_of(store)
    return [await replay(persona, store, user, scripts=scripts, timeline=timeline) for user in sorted(picked)]
