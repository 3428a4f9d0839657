"""What every store offers, as small roles, and the one class each backend implements.

One customer's turn is one ``commit``: state record, dedupe marker, outbox items, timer
changes, segment index changes and journal lines are written together or not at all, and
only if the record's version is still the one that was loaded (optimistic concurrency).

The rest of the interface is split by who uses it, so each consumer depends on the role it
needs and nothing more: :class:`Customers` (the runtime), :class:`Timers` (the scheduler),
:class:`Outbox` and :class:`DeadLetters` (the delivery loop), :class:`KeyValue` (the token and
media caches, pacing, locks), :class:`Boards` (leaderboards) and :class:`~persona.store.tallies.Tallies`
(counters the commits move: customers per state, entries per day). A backend subclasses
:class:`Store`, which is all of them, and implements the abstract methods; operations built on
others (``ack_all``, ``count``, ``bury``) are written once here, and a backend may replace one
with a single round trip.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Any, Protocol, Sequence

from .tallies import Tallies

#: The key :meth:`Store.probe_write` rewrites, and how long it lives.
PROBE_KEY = "health:write-probe"
PROBE_TTL = 60.0


@dataclass(slots=True)
class Loaded:
    """A customer as read from the store, before a turn."""

    record: bytes | None
    version: int
    duplicate: str | None = None  # the stored result when the input's dedupe key was seen


@dataclass(slots=True)
class OutboxItem:
    """A message (or a deferred effect) committed with a turn and waiting to be delivered."""

    id: str
    user: str
    due: float
    payload: str  # JSON
    attempts: int = 0


@dataclass(slots=True)
class Commit:
    """Everything one turn writes for one customer."""

    user: str
    expected_version: int
    record: bytes
    dedupe_key: str | None = None
    dedupe_result: str = ""
    dedupe_ttl: int = 86400
    outbox: list[OutboxItem] = field(default_factory=list)
    timers_set: dict[str, float] = field(default_factory=dict)  # name -> due (epoch seconds)
    timers_del: list[str] = field(default_factory=list)
    segments_add: list[str] = field(default_factory=list)
    segments_del: list[str] = field(default_factory=list)
    journal: list[str] = field(default_factory=list)
    journal_cap: int = 100
    journal_ttl: int = 90 * 86400
    tallies: dict[str, int] = field(default_factory=dict)  # counter name -> delta, see store.tallies
    #: the customer is gone (merged into another, see persona.engine.identity): the record and
    #: its segment entries are deleted instead of written; timers, tallies and journal as above
    retire: bool = False


@dataclass(slots=True)
class CommitResult:
    ok: bool
    duplicate: str | None = None  # set when the dedupe key was taken meanwhile


class Customers(Protocol):
    """Customer records and what a turn writes with them (the runtime's role)."""

    @abc.abstractmethod
    async def load(self, user: str, dedupe_key: str | None = None) -> Loaded:
        """Read a customer record and, in the same round trip, whether ``dedupe_key`` was seen."""

    @abc.abstractmethod
    async def commit(self, commit: Commit) -> CommitResult:
        """Write a turn atomically.

        Raises :class:`~persona.errors.ConflictError` when the record's version moved since
        it was loaded; returns ``CommitResult(ok=False, duplicate=...)`` when the dedupe key
        was taken by a concurrent attempt (nothing written).
        """

    @abc.abstractmethod
    async def journal(self, user: str, limit: int = 100) -> list[str]:
        """The customer's most recent journal lines, oldest first."""

    @abc.abstractmethod
    async def users(self) -> list[str]:
        """Every customer id (for tools and tests; never on a hot path)."""

    @abc.abstractmethod
    async def segment(self, *names: str) -> set[str]:
        """Customers in every one of the named segments (``state:welcomed``, ``tag:in_group``)."""


class Timers(Protocol):
    """Due timers, claimed with a lease (the scheduler's role); a turn's commit sets and deletes them."""

    @abc.abstractmethod
    async def claim_timers(self, now: float, limit: int, lease: float) -> list[tuple[str, str, float]]:
        """Claim up to ``limit`` timers due at ``now`` as ``(user, name, due)``.

        A claimed timer is hidden from other claimers for ``lease`` seconds; the turn that
        fires it deletes it in its commit. If the claimer dies, the timer is claimable again
        when the lease runs out.
        """

    @abc.abstractmethod
    async def pending_timers(self, user: str) -> dict[str, float]:
        """The customer's timers as ``name -> due`` (including leased ones)."""

    @abc.abstractmethod
    async def next_timer_due(self) -> float | None:
        """The earliest time a pending timer becomes claimable (the simulator steps to it)."""

    @abc.abstractmethod
    async def count_timers(self) -> int:
        """How many timers are pending in this namespace."""


class Outbox(Protocol):
    """Committed messages and effects waiting to be delivered (the delivery loop's role)."""

    @abc.abstractmethod
    async def claim_outbox(self, now: float, limit: int, lease: float) -> list[OutboxItem]:
        """Claim up to ``limit`` outbox items due at ``now``, hidden for ``lease`` seconds."""

    @abc.abstractmethod
    async def ack_outbox(self, item: OutboxItem) -> None:
        """The item was delivered (or dead-lettered): forget it."""

    @abc.abstractmethod
    async def retry_outbox(self, item: OutboxItem, due: float) -> None:
        """Delivery failed for now: try again at ``due`` (``attempts`` is incremented)."""

    @abc.abstractmethod
    async def next_outbox_due(self) -> float | None:
        """The earliest time an outbox item becomes claimable."""

    @abc.abstractmethod
    async def outbox_size(self) -> int:
        """Items waiting for delivery."""

    async def ack_all(self, items: Sequence[OutboxItem]) -> None:
        """Forget every one of ``items`` (one send that delivered several)."""
        for item in items:
            await self.ack_outbox(item)


class DeadLetters(Protocol):
    """What could not be delivered, with the reason, for a person to look at or retry."""

    @abc.abstractmethod
    async def add_dead_letter(self, item: OutboxItem, reason: str) -> None:
        """Keep an undeliverable item with the reason, for a human to look at or retry."""

    @abc.abstractmethod
    async def dead_letters(self) -> list[tuple[OutboxItem, str]]:
        """Every dead letter with its reason."""

    @abc.abstractmethod
    async def remove_dead_letter(self, item_id: str) -> OutboxItem | None:
        """Take one dead letter out (to retry it); None if it is not there."""

    @abc.abstractmethod
    async def requeue_dead_letter(self, item_id: str, due: float) -> OutboxItem | None:
        """Move one dead letter back into the outbox, due at ``due`` with its attempts reset,
        in one atomic step (a crash leaves it in one place or the other, never neither);
        None if it is not there."""


class KeyValue(Protocol):
    """Small atomic keys with a TTL: caches, counters, locks, exactly-once markers."""

    @abc.abstractmethod
    async def set_if_absent(self, key: str, value: str, ttl: float) -> bool:
        """Set ``key`` only if it is not there (or expired); True when this call set it."""

    @abc.abstractmethod
    async def get(self, key: str) -> str | None:
        """The value of a key set with :meth:`set_if_absent` / :meth:`put`, unless expired."""

    @abc.abstractmethod
    async def put(self, key: str, value: str, ttl: float | None = None) -> None:
        """Set a key unconditionally."""

    @abc.abstractmethod
    async def delete(self, key: str, value: str | None = None) -> bool:
        """Delete a key; with ``value``, only if it still holds that value (a lock release)."""

    @abc.abstractmethod
    async def extend(self, key: str, value: str, ttl: float) -> bool:
        """Give ``key`` another ``ttl`` seconds only if it still holds ``value`` (a lease renewal:
        a holder whose lease ran out and was taken never takes it back). True when renewed."""

    @abc.abstractmethod
    async def incr(self, key: str, amount: int = 1, ttl: float | None = None) -> int:
        """Add to a counter and return the new value; ``ttl`` applies when it is created."""

    async def count(self, key: str) -> int:
        """A counter kept with :meth:`incr` (0 when it is not there or expired)."""
        return int(await self.get(key) or 0)


class Boards(Protocol):
    """Sorted sets of scores: leaderboards."""

    @abc.abstractmethod
    async def zincr(self, key: str, member: str, amount: float, ttl: float | None = None) -> float:
        """Add to a member's score in a sorted set (leaderboards); ``ttl`` (seconds) applies
        when the set is created, so a dated board goes away on its own."""

    @abc.abstractmethod
    async def ztop(self, key: str, n: int) -> list[tuple[str, float]]:
        """The ``n`` highest-scored members, highest first."""

    @abc.abstractmethod
    async def zdelete(self, key: str) -> None:
        """Drop a whole sorted set (a new leaderboard week)."""


class Delivery(Outbox, DeadLetters, KeyValue, Protocol):
    """What the delivery loop uses: the outbox, dead letters, and keys for pacing."""

    namespace: str  # whose outbox it is (the ``persona`` label of delivery metrics)

    async def bury(self, item: OutboxItem, reason: str) -> None:
        """Dead-letter ``item`` with ``reason`` and take it out of the outbox."""
        await self.add_dead_letter(item, reason)
        await self.ack_outbox(item)


class Store(Customers, Timers, Delivery, Boards, Tallies, abc.ABC):
    """A namespace (one bot) in one backend: every role. Open with :func:`persona.store.open_store`."""

    url: str
    namespace: str

    # -- lifecycle -------------------------------------------------------------------------
    @abc.abstractmethod
    async def ping(self) -> None:
        """Raise :class:`~persona.errors.StoreUnavailable` unless the backend answers."""

    async def probe_write(self) -> None:
        """Raise :class:`~persona.errors.StoreUnavailable` unless the backend takes a write now
        (``/healthz``): a Redis that answers PING can still refuse every write (full, a
        read-only replica), and a SQLite file can sit on a full disk. One small key, rewritten."""
        await self.put(PROBE_KEY, "1", ttl=PROBE_TTL)

    @abc.abstractmethod
    async def close(self) -> None:
        """Release connections and files."""

    async def __aenter__(self) -> "Store":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()
