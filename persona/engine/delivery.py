"""The delivery loop: takes committed outbox items and sends them through the platform APIs.

Nothing is sent before it is committed, and nothing committed is lost: every item ends as
delivered (acked), retried later with exponential backoff, or dead-lettered with a reason a
person can act on — and each outcome is logged and counted for ``/metrics``.

Any number of deliverers (one per ``persona serve`` process) may share a store: items are
claimed with a lease, so a process that dies mid-send leaves its items to the others.

A send and its ack are two systems: the platform took the message, then the store must forget
the item. With a :class:`SentLog` (``persona serve``'s spool file) each accepted send is on
local disk before its ack is tried, so a store that fails the ack — down, hung, full — or a
process killed in between does not send the message again once the item's lease runs out:
before it claims anything, delivery acks what the log holds (and claims nothing while the store
cannot take those acks), and an item it claims that a log on this machine lists as sent — its
own, a sibling worker's (:attr:`Deliverer.peers`), one left by a worker no longer started — is
acked instead of sent. Where the platform takes an idempotency key (template
``client_msg_id``, WeCom kf ``msgid``) the outbox item id is passed too, for the windows no
local file covers: a process that dies after the platform accepted and before the write, and a
process on another machine claiming an item whose ack failed here once its lease ran out.
Items of one customer are sent one after the other in the order they were committed; the
messages of one turn that answer a WeCom add-contact event travel as one welcome message.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Mapping, Protocol, Sequence

from ..wechat.channels.base import Paced, RouteError, SendResult
from ..wechat.channels.router import WECOM_WELCOME, Route, Router
from ..clock import Clock
from ..errors import ChannelError, ConflictError, PersonaError, StoreUnavailable
from ..model.messages import Message
from ..metrics import Metrics
from ..store.base import Delivery, OutboxItem
from ..model.turn import EffectType

if TYPE_CHECKING:
    from .spool import Sent

log = logging.getLogger(__name__)

#: ``handler(payload, item)`` for an outbox item type other than ``message``.
Handler = Callable[[dict[str, Any], OutboxItem], Awaitable[None]]
#: told of a mass message that waits for its sender (the outbox item it came from, the result)
Pending = Callable[[OutboxItem, SendResult], Awaitable[None]]

PACED_TTL = 7 * 86400


class SentLog(Protocol):
    """Where a deliverer keeps, durably and beside the process, the sends whose ack the store
    has not taken (:class:`~persona.engine.spool.Spool` is one)."""

    def record_sent(self, bot: str, items: Sequence[tuple[str, str]], result: str) -> None:
        """(item id, user) pairs the platform accepted, on disk when this returns."""

    def sent(self, bot: str) -> Sequence["Sent"]:
        """The recorded sends not known to be acked."""

    def holding(self, bot: str, ids: Sequence[str]) -> Sequence["Sent"]:
        """Which of ``ids`` the log lists as sent."""

    def acked(self, bot: str, ids: Sequence[str]) -> None:
        """The store took these acks."""


@dataclass(slots=True)
class _Unit:
    """One send (or one handler call) and the outbox items whose fate it decides."""

    items: list[OutboxItem]
    api: str  # route api, or "handler:<type>"
    route: Route | None = None
    messages: list[Message] = field(default_factory=list)
    welcome_code: str | None = None
    payload: dict[str, Any] = field(default_factory=dict)
    handler: Handler | None = None


class Deliverer:
    """Delivers a store's outbox through a :class:`~persona.wechat.channels.router.Router`.

    ``max_attempts`` failed sends (retryable errors) dead-letter an item; the wait between them
    is ``backoff`` · 2ⁿ seconds, at most ``backoff_cap``. ``handlers`` deliver item types other
    than ``message`` (effects on other customers, leaderboards); an unknown type is dead-lettered.
    ``sent_log``: where accepted sends wait for their ack (see the module docstring); without
    one, a store that fails an ack sends that message again when its lease runs out.
    Counters: :attr:`sent`, :attr:`pending`, :attr:`skipped`, :attr:`handled`, :attr:`retried`,
    :attr:`deferred`, :attr:`dead` (by reason), :attr:`settled` (acks taken from the sent log
    after a failure), and the same in ``metrics`` as
    ``persona_deliveries_total{persona,api,outcome}`` and ``persona_dead_letters_total{persona,reason}``.
    """

    def __init__(self, store: Delivery, router: Router, clock: Clock | None = None, *,
                 metrics: Metrics | None = None, handlers: Mapping[str, Handler] | None = None,
                 batch: int = 100, lease: float = 60.0, concurrency: int = 32, max_attempts: int = 8,
                 backoff: float = 2.0, backoff_cap: float = 600.0, idle: float = 0.5,
                 name: str | None = None, on_pending: Pending | None = None,
                 sent_log: SentLog | None = None) -> None:
        self.store = store
        self.sent_log = sent_log
        #: sent logs this deliverer settles but does not write (those of processes no longer run)
        self.adopted: list[SentLog] = []
        #: sent logs of the sibling processes on this machine (``--workers N``): read at each
        #: claim; an item found there is acked here and forgotten in that file (their own
        #: processes settle the rest)
        self.peers: list[SentLog] = []
        #: acks the store took, per log, not yet forgotten there (kept while forgetting fails)
        self._acked: list[tuple[SentLog, list[str]]] = []
        self._said: set[int] = set()  # logs whose failure was logged already (by id)
        self._counted: set[str] = set()  # sends settled by this process (counted once)
        self.router = router
        self.clock = clock or Clock()
        if clock is not None:
            router.bind_clock(clock)
        self.metrics = metrics or Metrics()
        self.handlers: dict[str, Handler] = dict(handlers or {})
        #: told of each WeCom mass message that waits for its sender's confirmation (the bot
        #: journals it and asks WeCom later whether it went out)
        self.on_pending = on_pending
        self.batch = batch
        self.lease = lease
        self.concurrency = concurrency
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.backoff_cap = backoff_cap
        self.idle = idle
        self.name = name or store.namespace
        self.sent = 0  # delivered to the platform
        self.pending = 0  # WeCom mass messages waiting for the staff member's confirmation
        self.skipped: Counter[str] = Counter()  # deliberately not sent, by note (welcome_code_used)
        self.handled: Counter[str] = Counter()  # non-message items, by type
        self.retried = 0
        self.deferred = 0  # held back by pacing
        self.dead: Counter[str] = Counter()  # by reason
        self.settled = 0  # sends acked from the sent log, never sent twice
        self._woken = asyncio.Event()

    # -- running ---------------------------------------------------------------------------
    def wake(self) -> None:
        """Deliver now rather than at the next poll (called right after a commit)."""
        self._woken.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Poll until ``stop`` is set; a store outage pauses, never ends, the loop."""
        while not stop.is_set():
            self._woken.clear()
            try:
                delivered = await self.run_once()
            except StoreUnavailable as exc:
                log.warning("delivery paused: %s", exc)
                delivered = 0
                await _wait_any(stop, None, 1.0)
            except Exception:  # never let one bad batch stop delivery
                log.exception("delivery batch failed; the items are retried when their lease runs out")
                delivered = 0
                await _wait_any(stop, None, 1.0)
            if not delivered:
                await _wait_any(stop, self._woken, self.idle)

    async def run_once(self) -> int:
        """Deliver everything due now; returns how many items were claimed."""
        await self.settle()
        total = 0
        while True:
            claimed = await self.store.claim_outbox(self.clock.now(), self.batch, self.lease)
            if not claimed:
                return total
            total += len(claimed)
            claimed = await self._unsent(claimed)
            by_user: dict[str, list[OutboxItem]] = defaultdict(list)
            for item in claimed:
                by_user[item.user].append(item)
            gate = asyncio.Semaphore(self.concurrency)

            async def deliver(group: list[OutboxItem]) -> None:
                async with gate:
                    await self._deliver_user(group)

            results = await asyncio.gather(*(deliver(g) for g in by_user.values()), return_exceptions=True)
            for result in results:
                if isinstance(result, StoreUnavailable):
                    raise result
                if isinstance(result, BaseException):
                    log.error("delivery failed unexpectedly", exc_info=result)
            self._forget_acked()
            if len(claimed) < self.batch:
                return total

    async def close(self) -> None:
        """Close the router's HTTP session."""
        self._forget_acked()
        await self.router.close()

    # -- sends the store has not acked -----------------------------------------------------
    def _logs(self) -> list[SentLog]:
        return ([self.sent_log] if self.sent_log is not None else []) + self.adopted

    async def settle(self) -> int:
        """Ack every send the sent logs hold (a store that failed those acks, or a process
        that stopped before them) and follow up on them; returns how many. Raises
        :class:`StoreUnavailable` while the store still cannot take them: nothing is claimed
        until it can."""
        self._forget_acked()  # a batch that raised left the acks it did get unforgotten
        waiting = {item for _, ids in self._acked for item in ids}  # settled, still to forget
        done = 0
        for sent_log in self._logs():
            entries = [e for e in self._read(sent_log, lambda: sent_log.sent(self.store.namespace))
                       if e.item not in waiting]
            done += await self._settle(sent_log, entries, "the store had not taken")
        return done

    async def _unsent(self, claimed: list[OutboxItem]) -> list[OutboxItem]:
        """``claimed`` without the items a sent log on this machine lists as sent (a sibling's
        ack the store failed, whose lease ran out before that sibling settled it): those are
        acked here, never sent twice."""
        ids = [item.id for item in claimed]
        found: set[str] = set()
        for sent_log in self._logs() + self.peers:
            entries = [e for e in self._read(sent_log, lambda: sent_log.holding(self.store.namespace, ids))
                       if e.item not in found]
            if entries:
                await self._settle(sent_log, entries, "claimed again after their lease ran out")
                found.update(e.item for e in entries)
        return [item for item in claimed if item.id not in found] if found else claimed

    def _read(self, sent_log: SentLog, read: Callable[[], Sequence[Sent]]) -> Sequence[Sent]:
        try:
            return read()
        except PersonaError as exc:  # delivery goes on without it, and says so once
            if id(sent_log) not in self._said:
                self._said.add(id(sent_log))
                log.error("cannot read a sent log (%s): sends whose ack it holds may go out again", exc)
            return []

    async def _settle(self, sent_log: SentLog, entries: Sequence[Sent], why: str) -> int:
        if not entries:
            return 0
        items = [OutboxItem(entry.item, entry.user, 0.0, "") for entry in entries]
        await self.store.ack_all(items)
        followed = [entry.item for item, entry in zip(items, entries)
                    if await self._follow_up(item, SendResult(**json.loads(entry.result)))]
        self._acked.append((sent_log, followed))
        self._forget_acked()
        new = [e for e in entries if e.item not in self._counted]  # one kept for its follow-up is not new
        self._counted.update(e.item for e in new)
        self.settled += len(new)
        if new:
            self.metrics.inc("deliveries", len(new), persona=self.name, api="sent_log", outcome="settled")
            log.info("acked %d sends %s (%s); none is sent again", len(new), why,
                     ", ".join(e.item for e in new[:5]) + (", ..." if len(new) > 5 else ""))
        return len(entries)

    def _forget_acked(self) -> None:
        """Forget in each log the sends whose ack the store took; a log that cannot delete
        keeps them here (and they are not settled again) until it can."""
        kept = []
        for sent_log, ids in self._acked:
            if not ids:
                continue
            try:
                sent_log.acked(self.store.namespace, ids)
            except PersonaError as exc:
                if id(sent_log) not in self._said:
                    self._said.add(id(sent_log))
                    log.error("cannot forget acked sends in a sent log (%s); kept in memory until it can", exc)
                kept.append((sent_log, ids))
        self._acked = kept

    # -- one customer's items, in commit order ---------------------------------------------
    async def _deliver_user(self, items: list[OutboxItem]) -> None:
        units: list[_Unit] = []
        for item in sorted(items, key=_order):
            unit = await self._unit(item)
            if unit is None:
                continue
            last = units[-1] if units else None
            if (last is not None and unit.api == WECOM_WELCOME and last.api == WECOM_WELCOME
                    and last.welcome_code == unit.welcome_code):
                last.items += unit.items
                last.messages += unit.messages
                continue
            units.append(unit)
        for unit in units:
            await self._run(unit)

    async def _unit(self, item: OutboxItem) -> _Unit | None:
        """Decode and route an item; dead-letters it (and returns None) when that is impossible."""
        try:
            payload = json.loads(item.payload)
            kind = payload["type"]
        except (ValueError, KeyError, TypeError) as exc:
            await self._dead([item], "bad_payload", "bad_payload", f"outbox payload is not valid: {exc}")
            return None
        if kind != EffectType.MESSAGE:
            handler = self.handlers.get(kind)
            if handler is None:
                known = ", ".join(sorted({EffectType.MESSAGE, *self.handlers}))
                await self._dead([item], f"handler:{kind}", "unknown_type",
                                 f"no handler for outbox type {kind!r} (known: {known})")
                return None
            return _Unit([item], f"handler:{kind}", payload=payload, handler=handler)
        try:
            message = Message.from_dict(payload["message"])
        except (KeyError, TypeError) as exc:
            await self._dead([item], "message", "bad_payload", f"the message in the outbox is not valid: {exc}")
            return None
        code = payload.get("welcome_code") or None
        try:
            route = self.router.route(message, str(payload.get("user") or item.user), welcome_code=code,
                                      platform=payload.get("platform"))
        except RouteError as exc:
            await self._dead([item], "message", "unroutable", str(exc))
            return None
        return _Unit([item], route.api, route=route, messages=[message], welcome_code=code)

    async def _run(self, unit: _Unit) -> None:
        try:
            if unit.handler is not None:
                await unit.handler(unit.payload, unit.items[0])
                result = None
            else:
                assert unit.route is not None
                result = await self.router.send_to(unit.route, unit.messages, welcome_code=unit.welcome_code,
                                                   key=unit.items[0].id)
        except Paced as exc:
            await self._defer(unit, exc)
        except ChannelError as exc:
            reason = _reason(exc)
            if exc.retryable:
                await self._retry(unit, reason, str(exc))
            else:
                await self._dead(unit.items, unit.api, reason, str(exc))
        except (StoreUnavailable, ConflictError) as exc:
            await self._retry(unit, "store", str(exc))
        except Exception as exc:  # a bug in a handler or a channel: retry, then dead-letter
            log.exception("delivering %s (%s) failed", _ids(unit.items), unit.api)
            await self._retry(unit, "error", f"{type(exc).__name__}: {exc}")
        else:
            await self._done(unit, result)

    # -- outcomes --------------------------------------------------------------------------
    async def _done(self, unit: _Unit, result: SendResult | None) -> None:
        recorded = result is not None and self._record(unit, result)
        self._count(unit, result)
        await self.store.ack_all(unit.items)  # a failure leaves the record: settle() acks it later
        followed = result is None or await self._follow_up(unit.items[0], result)
        if recorded and self.sent_log is not None and followed:  # else settle() follows up later
            self._acked.append((self.sent_log, [item.id for item in unit.items]))
        elif not followed and not recorded:
            log.error("the follow-up of %s is lost: the store refused it and no sent log keeps the send",
                      _ids(unit.items))

    def _record(self, unit: _Unit, result: SendResult) -> bool:
        if self.sent_log is None:
            return False
        try:
            self.sent_log.record_sent(self.store.namespace, [(i.id, i.user) for i in unit.items],
                                      json.dumps(asdict(result), separators=(",", ":")))
        except PersonaError as exc:
            log.error("cannot record the send of %s (%s): should the store fail its ack, it is sent again",
                      _ids(unit.items), exc)
            return False
        return True

    async def _follow_up(self, item: OutboxItem, result: SendResult) -> bool:
        """A mass message waits for its sender: tell ``on_pending`` (once the item is acked).
        False when the store could not take the follow-up: the send stays in the sent log,
        and :meth:`settle` follows up again."""
        if result.pending and not result.note and self.on_pending is not None and result.msgid:
            try:
                await self.on_pending(item, result)
            except StoreUnavailable as exc:
                log.warning("following up mass message %s waits for the store: %s", result.msgid, exc)
                return False
            except Exception:  # a bug: the message is sent; only its follow-up is lost
                log.exception("following up mass message %s failed", result.msgid)
        return True

    def _count(self, unit: _Unit, result: SendResult | None) -> None:
        n = len(unit.items)
        if result is None:
            outcome = "handled"
            self.handled[unit.api.split(":", 1)[1]] += n
        elif result.note:
            outcome = "skipped"
            self.skipped[result.note] += n
            log.warning("not sent (%s): %s via %s", result.note, _ids(unit.items), unit.api)
        elif result.pending:
            outcome = "pending_confirmation"
            self.pending += n
            log.info("mass message %s for %s waits for the staff member's confirmation", result.msgid,
                     _ids(unit.items))
        else:
            outcome = "sent"
            self.sent += n
            log.debug("sent %s via %s", _ids(unit.items), unit.api)
        self.metrics.inc("deliveries", n, persona=self.name, api=unit.api, outcome=outcome)

    async def _retry(self, unit: _Unit, reason: str, detail: str) -> None:
        now = self.clock.now()
        for item in unit.items:
            paced = await self.store.count(f"paced:{item.id}") if item.attempts else 0
            failures = item.attempts - paced + 1
            if failures >= self.max_attempts:
                await self._dead([item], unit.api, "retries_exhausted",
                                 f"gave up after {failures} attempts; last error ({reason}): {detail}")
                continue
            delay = min(self.backoff_cap, self.backoff * 2 ** (failures - 1))
            await self.store.retry_outbox(item, now + delay)
            self.retried += 1
            self.metrics.inc("deliveries", persona=self.name, api=unit.api, outcome="retried")
            log.warning("retrying %s in %.0f s (attempt %d of %d): %s", item.id, delay, failures,
                        self.max_attempts, detail)

    async def _defer(self, unit: _Unit, exc: Paced) -> None:
        for item in unit.items:
            await self.store.incr(f"paced:{item.id}", 1, ttl=PACED_TTL)
            await self.store.retry_outbox(item, exc.until)
            self.deferred += 1
            self.metrics.inc("deliveries", persona=self.name, api=unit.api, outcome="deferred")
            log.info("held back %s until %.0f: %s", item.id, exc.until, exc)

    async def _dead(self, items: list[OutboxItem], api: str, reason: str, detail: str) -> None:
        for item in items:
            await self.store.bury(item, f"{reason}: {detail}")
            self.dead[reason] += 1
            self.metrics.inc("deliveries", persona=self.name, api=api, outcome="dead")
            self.metrics.inc("dead_letters", persona=self.name, reason=reason)
            log.error("dead letter %s (%s): %s", item.id, reason, detail)

    def stats(self) -> dict[str, Any]:
        """The counters as plain data (for the CLI and tests)."""
        return {"sent": self.sent, "pending": self.pending, "skipped": dict(self.skipped),
                "handled": dict(self.handled), "retried": self.retried, "deferred": self.deferred,
                "dead": dict(self.dead), "settled": self.settled}


def _reason(exc: ChannelError) -> str:
    if isinstance(exc, RouteError):
        return "unroutable"
    if exc.code:
        return f"errcode_{exc.code}"
    return "transient" if exc.retryable else "rejected"


def _order(item: OutboxItem) -> tuple[Any, ...]:
    """Commit order: ids are ``<user>:<version>:<index>`` (``e<index>`` for effects)."""
    parts = item.id.rsplit(":", 2)
    if len(parts) == 3:
        version, index = parts[1], parts[2]
        effect = index.startswith("e")
        try:
            return (item.due, int(version), effect, int(index.lstrip("e")), item.id)
        except ValueError:
            pass
    return (item.due, 0, False, 0, item.id)


def _ids(items: list[OutboxItem]) -> str:
    return ", ".join(i.id for i in items)


async def _wait_any(stop: asyncio.Event, woken: asyncio.Event | None, timeout: float) -> None:
    waiters = [asyncio.ensure_future(stop.wait())]
    if woken is not None:
        waiters.append(asyncio.ensure_future(woken.wait()))
    try:
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waiters:
            w.cancel()
