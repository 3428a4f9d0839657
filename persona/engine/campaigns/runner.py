"""Running due campaigns, once across every worker on the store.

``persona serve`` runs one :class:`CampaignRunner` per bot beside its timer scheduler. Each
poll it reads the active campaigns; one that is due is claimed with a lease in the store
(renewed while it runs), so however many workers poll, one walks it. The walk is one turn per
customer through the gate (:func:`~persona.engine.broadcast.broadcast`), each carrying the
campaign's dedupe key: a worker killed mid-walk leaves the lease to run out, the next worker
walks the audience again, and the customers reached already come back as duplicates — nobody
gets it twice. A cancel is seen between two customers (the lease keeper reads it every second).
Progress per gate outcome is counted in memory and added to the store's counts every second
and at the end of the walk; a worker killed in between loses those counts, never a message.

A campaign in each customer's own time zone is walked in passes: each pass takes the customers
whose own moment has come since the last pass, and the campaign is due again at the next one.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
from collections import Counter
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ...errors import PersonaError, StoreUnavailable
from ...model.audience import Kind, Leaf, Node, parse_audience
from ...model.customer import Customer
from ...model.persona import Persona
from ..audience import Selector
from ..broadcast import CONCURRENCY, Tally, broadcast
from ..outcome import Outcome, Status as TurnStatus
from ..runtime import Runtime
from .book import Book, Run
from .record import Campaign, Moment, Status

log = logging.getLogger(__name__)


class CampaignRunner:
    """Runs the due campaigns of one bot. ``runtime.persona`` must come from
    :func:`~persona.engine.broadcast.broadcasting` (it takes the broadcast event).

    ``lease``: seconds a claim holds without renewal (renewed every ``beat`` seconds while a
    campaign runs); ``interval``: seconds between polls when nothing is due.
    """

    def __init__(self, runtime: Runtime, *, lease: float = 30.0, beat: float = 1.0, interval: float = 1.0,
                 concurrency: int = CONCURRENCY, worker: str | None = None) -> None:
        if beat >= lease:
            raise ValueError("CampaignRunner: beat must be shorter than the lease")
        self.runtime, self.lease, self.beat, self.interval = runtime, lease, beat, interval
        self.concurrency = concurrency
        self.book = Book(runtime.store)
        self.worker = worker or f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self._known: dict[str, Campaign] = {}  # campaigns never change: read each once
        self._broken: set[str] = set()  # audiences the persona refuses: said once in the log

    @property
    def cls(self) -> type[Persona]:
        return type(self.runtime.persona)

    async def _pending(self) -> list[tuple[float, Campaign]]:
        """Active campaigns nobody cancelled, with when each is due next."""
        out = []
        for campaign_id in await self.book.active():
            campaign = self._known.get(campaign_id) or await self.book.get(campaign_id)
            if campaign is None or await self.book.cancelled(campaign_id) is not None:
                continue
            self._known[campaign_id] = campaign
            run = await self.book.run(campaign_id)
            if run.status is Status.DONE:
                continue
            out.append((run.next if run.status is Status.RUNNING and run.next is not None
                        else campaign.when.first_due(), campaign))
        return out

    async def next_due(self) -> float | None:
        """When the next campaign is due (a simulation steps its fake clock to it)."""
        return min((due for due, _ in await self._pending()), default=None)

    async def run_once(self) -> int:
        """A pass of every campaign due now that no other worker holds; how many were walked."""
        walked = 0
        now = self.runtime.clock.now()
        for due, campaign in await self._pending():
            campaign_id = campaign.id
            if due > now:
                continue
            try:
                if await self.run_campaign(campaign) is not None:
                    walked += 1
            except PersonaError as exc:  # the persona no longer has what the audience names
                if isinstance(exc, StoreUnavailable):
                    raise
                if campaign_id not in self._broken:
                    self._broken.add(campaign_id)
                    log.error("campaign %s of %s cannot run (cancel it, or fix the bot): %s", campaign_id,
                              self.runtime.name, exc)
        return walked

    async def run_campaign(self, campaign: Campaign) -> Tally | None:
        """Walk ``campaign``'s customers due now; None when another worker holds it or it is over."""
        book = self.book
        node = parse_audience(campaign.audience, self.cls)  # a persona that changed since: refused here
        if not await book.claim(campaign.id, self.worker, self.lease):
            return None
        stop, finished = asyncio.Event(), asyncio.Event()
        counts: Counter[str] = Counter()
        keeper = asyncio.create_task(self._keep(campaign.id, stop, finished, counts))
        try:
            run = await book.run(campaign.id)
            if run.status is Status.DONE or await book.cancelled(campaign.id) is not None:
                return None
            now = self.runtime.clock.now()
            await book.save_run(campaign.id, Run(Status.RUNNING, run.next, run.upto, run.started or now))
            users, later = await self._due(campaign, node, run.upto, now)
            tally = await broadcast(self.runtime, users, lambda user: campaign.split.pick(campaign.id, user),
                                    campaign.id, campaign.data, concurrency=self.concurrency,
                                    each=lambda user, script, outcome: counts.update(_counts(script, outcome)),
                                    go_on=lambda: not stop.is_set())
            finished.set()
            await keeper
            await self._flush(campaign.id, counts)
            if stop.is_set():  # cancelled, or the lease was lost: whoever holds it now goes on
                return tally
            done = later is None
            await book.save_run(campaign.id, Run(Status.DONE if done else Status.RUNNING, later, now,
                                                 run.started or now, now if done else 0.0))
            log.info("campaign %s of %s: %s", campaign.id, self.runtime.name, ", ".join(tally.lines()))
            return tally
        finally:
            finished.set()
            await asyncio.gather(keeper, return_exceptions=True)
            await book.release(campaign.id, self.worker)

    async def _keep(self, campaign_id: str, stop: asyncio.Event, finished: asyncio.Event,
                    counts: Counter[str]) -> None:
        """Until the walk ends: every ``beat``, write the progress counted meanwhile, renew the
        lease and look for a cancel (``stop`` is set when the lease is lost or it is cancelled)."""
        while not finished.is_set():
            try:
                await asyncio.wait_for(finished.wait(), self.beat)
                return
            except asyncio.TimeoutError:
                pass
            try:
                await self._flush(campaign_id, counts)
                if not await self.book.renew(campaign_id, self.worker, self.lease):
                    log.warning("campaign %s: lease lost; another worker finishes it", campaign_id)
                    stop.set()
                elif await self.book.cancelled(campaign_id) is not None:
                    stop.set()
            except StoreUnavailable as exc:  # the lease may run out: the dedupe key keeps it once
                log.warning("campaign %s: cannot renew the lease now (%s)", campaign_id, exc)

    async def _flush(self, campaign_id: str, counts: Counter[str]) -> None:
        """Add the counts kept since the last flush to the store's (kept for the next one on an outage)."""
        taken = {name: n for name, n in counts.items() if n}
        counts.clear()
        if not taken:
            return
        try:
            await self.book.count(campaign_id, taken)
        except StoreUnavailable as exc:
            counts.update(taken)
            log.warning("campaign %s: progress not written yet (%s)", campaign_id, exc)

    async def _due(self, campaign: Campaign, node: Node, upto: float, now: float) -> tuple[list[str], float | None]:
        """The customers to walk now, and when the campaign is due again (None: never)."""
        cls = self.cls
        selector = Selector(self.runtime.store, now, cls.timezone)
        users = await selector.select(node)
        if campaign.when.moment is not Moment.LOCAL:
            return users, None
        walk, later = [], None
        for customer in await selector.matching(Leaf(Kind.ALL), users):
            due = campaign.when.due(_zone(customer, cls.timezone))
            if due <= now:
                if due > upto:
                    walk.append(customer.id)
            elif later is None or due < later:
                later = due
        return walk, later

    async def run(self, stop: asyncio.Event) -> None:
        """Poll until ``stop`` is set; a store outage or an error pauses the loop, never ends it."""
        while not stop.is_set():
            try:
                await self.run_once()
            except StoreUnavailable as exc:
                log.warning("campaigns paused: %s", exc)
            except Exception:
                log.exception("campaigns: unexpected error; retrying")
            try:
                await asyncio.wait_for(stop.wait(), self.interval)
            except asyncio.TimeoutError:
                pass


def _counts(script: str, outcome: Outcome) -> dict[str, int]:
    """What one customer's turn adds to the campaign's progress."""
    tally = Tally()
    tally.add(outcome)
    counts = tally.counts()
    if outcome.status not in (TurnStatus.DUPLICATE, TurnStatus.ERROR):
        counts[f"script:{script}"] = 1
    return counts


def _zone(customer: Customer, default: str) -> str:
    """The customer's own time zone (``attrs["tz"]``, as turns read it), or the brand's."""
    tz = str(customer.attrs.get("tz") or default)
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        return default
    return tz
