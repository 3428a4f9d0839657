"""Processing one input for one customer, atomically.

``Runtime.handle`` loads the customer (and whether the input was seen before) in one round
trip, runs the persona's handler on a :class:`~persona.model.turn.Turn`, passes every message through
the gate, and commits state, tags, timers, outbox and journal together with an optimistic
version check. When another process committed first, the turn is thrown away and decided again
on the fresh record; nothing is sent until the commit succeeded, and everything committed is
delivered later even if this process dies right after.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import random
from typing import Any, AsyncIterator, Awaitable, Callable

from . import acquisition, census, handover, quality
from .identity import Identity, Seen
from .. import jsonwire
from ..content.scripts.failures import ScriptFailure, record_failure
from ..clock import Clock
from ..model.customer import Customer
from ..errors import ConflictError, DefinitionError, EventDataError, PersonaError, StoreUnavailable
from .gate import STAFF_EVENTS, Action, Decision, Gate, OptOut
from ..model.handoff import HandoffRules
from ..model.inputs import ADD_EVENTS, BusinessEvent, DeliveryReport, Door, Input, PlatformEvent, TimerFired, to_record
from ..model.messages import Message
from ..metrics import Metrics
from ..model.migrations import Late
from .upgrade import Amendment, Change, strays, upgrade
from .outcome import Outcome, ReplySlot, Status
from ..model.persona import Persona
from ..store.base import Commit, OutboxItem, Store
from ..model.timers import arm_timers
from ..model.turn import Effect, EffectType, Turn

log = logging.getLogger(__name__)

PASSIVE_KINDS = frozenset({"text", "image", "news", "link"})
MAX_ATTEMPTS = 20


CommitHook = Callable[[list[OutboxItem]], Awaitable[None] | None]


class Runtime:
    """One persona on one store: the only way inputs reach customers' state machines."""

    def __init__(self, persona: Persona, store: Store, clock: Clock | None = None, *,
                 gate: Gate | None = None, metrics: Metrics | None = None,
                 dedupe_ttl: int = 3 * 86400) -> None:
        self.persona = persona
        self.store = store
        self.clock = clock or Clock()
        self.gate = gate or Gate()
        self.metrics = metrics or Metrics()
        self.dedupe_ttl = dedupe_ttl
        self.commit_hooks: list[CommitHook] = []
        #: observers called with each input and its outcome once it is handled (the simulator
        #: reports the gate's drops through this); they must not raise and cannot change anything
        self.outcome_hooks: list[Callable[[Input, Outcome], None]] = []
        self.name = type(persona).name
        self._locks: dict[str, _UserLock] = {}
        policy = persona.policy
        self.opt_out = OptOut(policy)
        self.handoff = HandoffRules(policy)
        #: which customer an input's id names: every runtime follows the alias table (ids
        #: linked by hand); a persona that links by unionid (``Persona.link_by_unionid``) also
        #: learns them, the bot giving it the platforms to ask
        self.identity = Identity(self, learns=type(persona).link_by_unionid)

    # -- the one entry point -----------------------------------------------------------------
    async def handle(self, inp: Input, slot: ReplySlot | None = None) -> Outcome:
        """Process ``inp`` exactly once for its customer (retries of it get the first answer).

        Turns for one customer queue behind each other inside this process, so the optimistic
        version check only has to settle races between processes.
        """
        async with self._turns_of(inp.user):
            outcome = await self._handle(inp, slot)
        for hook in self.outcome_hooks:
            hook(inp, outcome)
        return outcome

    @contextlib.asynccontextmanager
    async def _turns_of(self, user: str) -> AsyncIterator[None]:
        lock = self._locks.get(user)
        if lock is None:
            lock = self._locks[user] = _UserLock()
        lock.users += 1
        try:
            async with lock.lock:
                yield
        finally:
            lock.users -= 1
            if not lock.users:
                self._locks.pop(user, None)

    async def amend(self, user: str, *, write: bool = True, late: Late | None = None) -> Change | None:
        """Bring one stored customer onto the persona's current shape (``persona migrate``).

        The same load, change and version-checked commit as a turn, queued behind the
        customer's other turns in this process, so it is safe beside live traffic. None when
        the customer is unknown or already current; ``write=False`` says what would change
        and writes nothing (the dry run is the apply, minus the commit). ``late`` overrides the
        migrations' own choice for backfilled timers whose moment has passed.
        """
        async with self._turns_of(user):
            for attempt in range(MAX_ATTEMPTS):
                loaded = await self.store.load(user)
                if loaded.record is None:
                    return None
                customer = Customer.load(user, loaded.record, loaded.version)
                before_segments = customer.segments(self.persona.indexed_tags)
                before_timers, before_state = dict(customer.timers), customer.state
                turn = Turn(self.persona, customer, Amendment(user), self.clock.now(), self.store)
                change = upgrade(turn, late)
                if change is None:
                    return strays(turn)
                if change.uncovered:
                    return change
                arm_timers(turn, self.persona.timer_specs, False)
                known = {*before_timers, *change.armed, *change.late_fired, *(new for _, new in change.renamed)}
                change.armed += [n for n in turn.timers_set if n not in known]
                if not write:
                    return change
                commit = self._commit(turn, Outcome(Status.DONE, customer=customer), loaded.version,
                                      before_segments, before_timers, before_state)
                try:
                    await self.store.commit(commit)
                except ConflictError:
                    self.metrics.inc("conflicts", persona=self.name)
                    await asyncio.sleep(random.uniform(0, 0.002 * (attempt + 1)))
                    continue
                return change
        raise StoreUnavailable(f"customer {user!r}: {MAX_ATTEMPTS} attempts to migrate all lost a race")

    async def _handle(self, inp: Input, slot: ReplySlot | None) -> Outcome:
        if not self.persona.routes.reach(inp):
            # staff using the WeCom app, or the platform itself: not customers, and this bot
            # has no handler for them, so no record is made and no customer handler runs
            self.metrics.inc("inputs", persona=self.name, kind=inp.kind, outcome=Status.SKIPPED)
            return Outcome(status=Status.SKIPPED)
        dedupe = inp.dedupe_key
        given = inp
        for attempt in range(MAX_ATTEMPTS):
            # the customer the input's id names, or the one it is linked to
            resolved = await self.identity.resolve(given)
            inp, loaded, seen = resolved.input, resolved.loaded, resolved.seen
            if loaded.duplicate is not None:
                self.metrics.inc("dedupe_hits", persona=self.name, kind=inp.kind)
                return Outcome.from_result(loaded.duplicate)
            created = loaded.record is None
            customer = (Customer(inp.user, type(self.persona).initial) if loaded.record is None
                        else Customer.load(inp.user, loaded.record, loaded.version))
            before_segments = set() if created else customer.segments(self.persona.indexed_tags)
            before_timers = dict(customer.timers)
            before_state = None if created else customer.state
            now = self.clock.now()
            turn, outcome = await self._decide(customer, inp, now, created, slot, loaded.record, seen)
            commit = self._commit(turn, outcome, loaded.version, before_segments, before_timers, before_state)
            try:
                result = await self.store.commit(commit)
            except ConflictError:
                self.metrics.inc("conflicts", persona=self.name)
                await asyncio.sleep(random.uniform(0, 0.002 * (attempt + 1)))
                continue
            if not result.ok:
                self.metrics.inc("dedupe_hits", persona=self.name, kind=inp.kind)
                return Outcome.from_result(result.duplicate or "{}")
            self._count(inp, outcome)
            self.handoff.count(turn.notes, self.metrics, self.name)
            await self._fell_back(turn)
            if commit.outbox:
                await self._after_commit(commit.outbox)
            return outcome
        raise StoreUnavailable(f"customer {inp.user!r}: {MAX_ATTEMPTS} attempts all lost a race; "
                               "is something writing this customer in a loop?")

    # -- deciding --------------------------------------------------------------------------
    async def _decide(self, customer: Customer, inp: Input, now: float, created: bool,
                      slot: ReplySlot | None, stored: bytes | None,
                      seen: Seen | None = None) -> tuple[Turn, Outcome]:
        self._bookkeep(customer, inp, now, created, seen)
        turn = Turn(self.persona, customer, inp, now, self.store)
        _arrive(turn)
        self._upgrade(turn, created)
        if created:
            turn.entered = now
        status = Status.DONE
        error: str | None = None
        fields: list[str] = []
        customer_door = inp.door is Door.CUSTOMER  # rules, opt-out and timers are for customers
        try:
            if customer_door:
                self.opt_out.apply(turn)
            handled = await self._dispatch(turn)
            before = None if handled else _footprint(turn)
            for rule in self.persona.routes.rules if customer_door else ():
                await _call(getattr(self.persona, rule), turn)
            if not handled and _footprint(turn) == before:
                status = Status.UNHANDLED  # neither a handler nor a rule did anything with it
                self.handoff.unhandled(turn)
            await handover.complete(turn, self.store)
            if customer_door:
                arm_timers(turn, self.persona.timer_specs, created)
        except StoreUnavailable:  # a handler that reads the store met an outage: retried, not a bug
            raise
        except Exception as exc:  # a bot's bug must not stop other customers
            error = _describe(exc)
            if isinstance(exc, EventDataError) and isinstance(inp, BusinessEvent):
                # the handler refused a value of the event's data that no declaration could say
                # is wrong: bad input, not a bug, so no traceback and no handler error
                status, fields = Status.REFUSED, exc.fields
                log.warning("persona=%s user=%s input=%s refused its data: %s", self.name, inp.user,
                            inp.describe(), exc)
            else:
                status = Status.ERROR
                log.exception("persona=%s user=%s input=%s handler failed", self.name, inp.user, inp.describe())
                self.metrics.inc("handler_errors", persona=self.name, kind=inp.kind)
            version = customer.version
            customer = (Customer(inp.user, type(self.persona).initial) if stored is None
                        else Customer.load(inp.user, stored, version))
            self._bookkeep(customer, inp, now, created, seen)  # the visit counts; the handler's work does not
            turn = Turn(self.persona, customer, inp, now, self.store)
            _arrive(turn)
            self._upgrade(turn, created)
            turn.note("error", input=inp.describe(), error=error)
            if isinstance(inp, TimerFired):  # a broken timer must not fire again and again
                turn.cancel(inp.name)
                turn.timers_del.add(inp.name)
                try:  # ... but a recurring one still comes back at its next time
                    arm_timers(turn, self.persona.timer_specs, created)
                except Exception:
                    log.exception("persona=%s user=%s: re-arming timers failed", self.name, inp.user)
        outcome = Outcome(status=status, transitions=turn.transitions, customer=customer, error=error,
                          fields=fields)
        self._review(turn, outcome, slot)
        return turn, outcome

    def _upgrade(self, turn: Turn, created: bool) -> None:
        """A new customer starts at the persona's generation; a stored one is migrated first."""
        if created:
            turn.customer.generation = len(type(self.persona).migrations)
        else:
            upgrade(turn)

    def _bookkeep(self, customer: Customer, inp: Input, now: float, created: bool,
                  seen: Seen | None = None) -> None:
        if seen is not None:
            seen.note(customer)
        if created:
            customer.first_seen = now
        customer.last_seen = now
        if inp.inbound:
            customer.last_inbound = now
            if isinstance(inp, PlatformEvent) and inp.name in ADD_EVENTS:
                customer.attrs.setdefault("platform", "wecom")
                staff = inp.data.get("staff")
                if isinstance(staff, str) and staff:  # whoever added them: the first to hand them to
                    customer.attrs["follow_user"] = staff

    async def _dispatch(self, turn: Turn) -> bool:
        if self.handoff.intercept(turn):
            return True
        inp = turn.input
        if isinstance(inp, TimerFired):
            return await self._fire(turn, inp)
        if isinstance(inp, DeliveryReport):
            _report(turn, inp)
            return True
        if isinstance(inp, BusinessEvent) and inp.name in STAFF_EVENTS:
            return True  # the framework's own, done by OptOut; a bot does not handle it
        routes = self.persona.routes
        if isinstance(inp, BusinessEvent) and inp.name not in routes.event:
            raise DefinitionError(f"{type(self.persona).__name__} has no handler for event {inp.name!r}")
        found = routes.match(inp, turn.state)
        if found is None:
            turn.note("in", input=inp.describe(), handler=None)
            return False
        _, attr, turn.match = found
        turn.note("in", input=inp.describe(), handler=attr)
        await _call(getattr(self.persona, attr), turn)
        return True

    async def _fire(self, turn: Turn, inp: TimerFired) -> bool:
        timer = turn.customer.timers.get(inp.name)
        if timer is None or timer.due > turn.now + 0.001:  # the record keeps due to the millisecond
            if timer is None:
                turn.timers_del.add(inp.name)  # cancelled meanwhile: clean up the store's entry
            return False
        turn.cancel(inp.name)
        entry = self.persona.routes.timer.get(inp.name)
        if entry is None:  # the bot dropped this timer's handler since it was set
            turn.note("timer_unknown", timer=inp.name)
            return False
        route, attr = entry
        spec = route.timer
        if spec and turn.now - timer.due > spec.grace.total_seconds():
            turn.note("timer_late", timer=inp.name, late=int(turn.now - timer.due))
            self.metrics.inc("timers_late", persona=self.name, timer=inp.name)
            return True
        if not route.allows(turn.state):
            turn.note("timer_skipped", timer=inp.name, state=turn.state)
            return True
        if turn.customer.opted_out and not (spec and spec.service):
            turn.note("timer_skipped", timer=inp.name, reason="opted_out")
            return True
        if spec and spec.when is not None:
            guard = getattr(self.persona, spec.when) if isinstance(spec.when, str) else spec.when
            allowed = await _call(guard, turn) if isinstance(spec.when, str) else await _call(guard, self.persona, turn)
            if not allowed:
                turn.note("timer_guard", timer=inp.name, allowed=False)
                return True
        turn.note("in", input=inp.describe(), handler=attr, due=int(timer.due))
        turn.timer_data = timer.data or {}
        await _call(getattr(self.persona, attr), turn)
        return True

    def _review(self, turn: Turn, outcome: Outcome, slot: ReplySlot | None) -> None:
        """Gate every message; claim the passive reply when there is exactly one reply."""
        messages = turn.messages
        mine = [m for m in messages if m.to is None]
        passive: Message | None = None
        if (slot is not None and len(messages) == 1 and len(mine) == 1 and not mine[0].proactive
                and mine[0].kind in PASSIVE_KINDS
                and not (turn.customer.opted_out and mine[0].category == "marketing")
                and slot.claim(mine[0])):
            passive = mine[0]
        decisions = [Decision(Action.SEND, "passive_reply") if m is passive else None for m in messages]
        reviewable = [m for m, d in zip(messages, decisions) if d is None]
        turn.messages = reviewable
        reviewed = iter(self.gate.review(turn))
        turn.messages = messages
        outcome.passive = passive
        outcome.messages = [(m, d if d is not None else next(reviewed)) for m, d in zip(messages, decisions)]
        for message, decision in outcome.messages:
            turn.note("out", script=message.script or message.kind, variant=message.variant or None,
                      v=message.version or None, to=message.to, action=decision.action, h=message.digest(),
                      reason=decision.reason or None, due=int(decision.due) if decision.action is Action.DEFER else None)
            self.metrics.inc("gate_decisions", persona=self.name, action=decision.action,
                             reason=decision.reason or "ok")
            if message.variant:
                self.metrics.inc("script_variant_messages", persona=self.name, script=message.script,
                                 variant=message.variant, action=decision.action)
            if decision.action is not Action.DROP and message.to is None:
                turn.customer.last_outbound = turn.now

    # -- committing ------------------------------------------------------------------------
    def _commit(self, turn: Turn, outcome: Outcome, version: int, before_segments: set[str],
                before_timers: dict[str, Any], before_state: str | None) -> Commit:
        customer = turn.customer
        segments = customer.segments(self.persona.indexed_tags)
        outbox: list[OutboxItem] = []
        new_version = version + 1
        for i, (message, decision) in enumerate(outcome.messages):
            if decision.action is Action.DROP or message is outcome.passive:
                continue
            payload = {"type": EffectType.MESSAGE, "user": customer.id, "message": message.to_dict()}
            address, platform = customer.address()
            if platform is not None:  # a linked customer: the id and platform of the conversation
                payload["user"], payload["platform"] = address, platform
            if isinstance(turn.input, PlatformEvent) and "welcome_code" in turn.input.data:
                payload["welcome_code"] = turn.input.data["welcome_code"]
            outbox.append(OutboxItem(f"{customer.id}:{new_version}:{i}", customer.id, decision.due,
                                     jsonwire.dump(payload)))
        for j, effect in enumerate(turn.effects):
            payload = {"type": effect.type, "from": customer.id, **effect.data}
            outbox.append(OutboxItem(f"{customer.id}:{new_version}:e{j}", customer.id,
                                     turn.now if effect.due is None else effect.due,
                                     jsonwire.dump(payload)))
        recorded = to_record(turn.input)  # the input itself, on its "in" line, for persona replay
        journal = []
        for note in turn.notes:
            line = {"t": int(turn.now), **{k: v for k, v in note.items() if v is not None}}
            if recorded is not None and note["k"] in ("in", "error"):
                line["i"], recorded = recorded, None
            journal.append(jsonwire.dump(line))
        journal += [jsonwire.dump({"t": int(turn.now), "k": "transition", "trigger": t, "from": a, "to": b})
                    for t, a, b in turn.transitions]
        timers_set = {n: t.due for n, t in customer.timers.items() if before_timers.get(n) is not t}
        timers_del = [n for n in turn.timers_del if n not in customer.timers]
        return Commit(
            user=customer.id, expected_version=version, record=customer.dump(),
            dedupe_key=self._dedupe_key(turn.input, outcome), dedupe_result=outcome.result(),
            dedupe_ttl=self.dedupe_ttl,
            outbox=outbox, timers_set=timers_set, timers_del=timers_del,
            segments_add=sorted(segments - before_segments), segments_del=sorted(before_segments - segments),
            journal=journal, journal_cap=self.persona.journal_cap,
            tallies={**census.moves(before_state, customer.state,
                                    [type(self.persona).initial] * (before_state is None)
                                    + [b for _, _, b in turn.transitions], turn.now, self.persona.timezone),
                     **quality.moves(turn.notes, turn.now, self.persona.timezone),
                     **acquisition.moves(turn, any(m.to is None and d.action is not Action.DROP
                                                   for m, d in outcome.messages))})

    @staticmethod
    def _dedupe_key(inp: Input, outcome: Outcome) -> str | None:
        """A business event whose handler failed or refused it keeps its id free: the brand fixes
        the payload (or the bot) and posts it again. The journal keeps the error either way."""
        if outcome.status in (Status.ERROR, Status.REFUSED) and isinstance(inp, BusinessEvent):
            return None
        return inp.dedupe_key

    async def _fell_back(self, turn: Turn) -> None:
        """Count each published version that failed in this committed turn, and keep it for the
        writer (:mod:`persona.content.scripts.failures`); the turn's journal already has it."""
        for fallback in turn.fallbacks:
            self.metrics.inc("script_fallbacks", persona=self.name, script=fallback.script,
                             version=fallback.version)
            log.warning("persona=%s user=%s script %s v%d failed, v%d said instead: %s", self.name,
                        turn.customer.id, fallback.script, fallback.version, fallback.used, fallback.error)
            try:
                await record_failure(self.store, ScriptFailure(turn.customer.id, turn.now, fallback))
            except Exception:  # committed already: the studio misses a row, the journal has it
                log.exception("persona=%s user=%s: keeping a script failure for the studio failed",
                              self.name, turn.customer.id)

    async def _after_commit(self, items: list[OutboxItem]) -> None:
        for hook in self.commit_hooks:
            try:
                result = hook(items)
                if inspect.isawaitable(result):
                    await result
            except Exception:  # delivery will pick the items up from the store anyway
                log.exception("persona=%s commit hook failed", self.name)

    def _count(self, inp: Input, outcome: Outcome) -> None:
        self.metrics.inc("inputs", persona=self.name, kind=inp.kind, outcome=outcome.status)
        for trigger, source, dest in outcome.transitions:
            self.metrics.inc("transitions", persona=self.name, source=source, dest=dest)

    # -- reading ---------------------------------------------------------------------------
    async def customer(self, user: str) -> Customer | None:
        """The customer as stored now (None if never seen)."""
        return await Customer.read(self.store, user)


class _UserLock:
    __slots__ = ("lock", "users")

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.users = 0


async def _call(fn: Callable[..., Any], *args: Any) -> Any:
    result = fn(*args)
    if inspect.isawaitable(result):
        result = await result
    return result


#: how often, and how many times, WeCom is asked whether a mass message's sender confirmed it
MASS_CHECK_EVERY = 3600.0
MASS_CHECKS = 24


def _report(turn: Turn, inp: DeliveryReport) -> None:
    """Journal what became of a sent message; while a mass message waits, ask again later."""
    turn.note("delivery", api=inp.api, msgid=inp.msgid, status=inp.status, attempt=inp.attempt or None)
    if inp.status == "pending" and inp.attempt < MASS_CHECKS:
        turn.effects.append(Effect(EffectType.MASS_CHECK, {"msgid": inp.msgid, "attempt": inp.attempt + 1},
                                   due=turn.now + MASS_CHECK_EVERY))


def _footprint(turn: Turn) -> tuple[Any, ...]:
    """What a turn has done so far, to tell whether a rule acted on an input no handler took."""
    return (len(turn.messages), len(turn.effects), len(turn.transitions), len(turn.timers_set),
            len(turn.timers_del), turn.customer.dump())


def _arrive(turn: Turn) -> None:
    """Credit a customer who arrives through a channel to it (the first touch keeps it)."""
    channel = acquisition.attribute(turn.customer, turn.input)
    if channel is not None:
        turn.note("channel", channel=channel, staff=turn.customer.attrs.get("follow_user"))


def _describe(exc: BaseException) -> str:
    if isinstance(exc, PersonaError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"
