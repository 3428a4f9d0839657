"""Campaigns kept in the store, on its key-value and sorted-set roles only (every backend has them).

Keys, all in the bot's namespace:

* ``campaign:ID`` — the campaign itself (:class:`~.record.Campaign`), written once;
* ``campaigns`` — every campaign id, scored by creation time (the list, newest first);
* ``campaigns:active`` — ids scored 1 while scheduled or running, 0 once done or cancelled
  (what a runner polls: it never reads finished campaigns);
* ``campaign:ID:run`` — status, next due time and how far the walk has got, written only by
  the worker holding ``campaign:ID:lease`` (a key with a TTL, renewed while it runs: a worker
  that dies lets the lease run out and another takes over);
* ``campaign:ID:cancel`` — who cancelled it, set once: a key of its own, so a cancel can never
  be overwritten by the runner's bookkeeping;
* ``campaign:ID:tally`` — counts per gate outcome (``sent``, ``deferred``, ``dropped:REASON``,
  ``silent``, ``done_before``, ``error``) and customers per script (``script:NAME``), moved
  by atomic increments from every worker.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Protocol

from ... import jsonwire
from ...errors import PersonaError
from ...store.base import Boards, KeyValue
from ..broadcast import Tally
from .record import Campaign, Status

#: campaigns the list and the runner look at (the newest; older ones are still in the store)
LIMIT = 500
#: how long a key taken with set_if_absent lives before it is rewritten to be kept for good
CLAIM_TTL = 3600.0


class CampaignStore(KeyValue, Boards, Protocol):
    """What the book needs of a store."""


@dataclass(frozen=True, slots=True)
class Run:
    """Where a campaign stands, as its runner wrote it."""

    status: Status = Status.SCHEDULED
    next: float | None = None  # when it is due again (customers in later time zones)
    upto: float = 0.0  # customers due up to this moment have been walked
    started: float = 0.0
    finished: float = 0.0

    def dump(self) -> str:
        return jsonwire.dump({"s": self.status, "n": self.next, "u": self.upto, "a": self.started,
                              "f": self.finished})

    @classmethod
    def load(cls, raw: str | None) -> "Run":
        if not raw:
            return cls()
        data = jsonwire.load(raw)
        return cls(Status(data["s"]), data.get("n"), float(data.get("u", 0.0)), float(data.get("a", 0.0)),
                   float(data.get("f", 0.0)))


@dataclass(frozen=True, slots=True)
class Progress:
    """A campaign as the CLI and the studio show it."""

    campaign: Campaign
    status: Status
    run: Run
    tally: Tally
    scripts: dict[str, int]  # customers decided for, per script of the split
    cancelled_by: str = ""


class Book:
    """The campaigns of one bot's store."""

    def __init__(self, store: CampaignStore) -> None:
        self.store = store

    async def new_id(self) -> str:
        return f"c{await self.store.incr('campaigns:seq')}"

    async def create(self, campaign: Campaign) -> Campaign:
        """Keep ``campaign``; an id already taken is refused (a campaign is never rewritten)."""
        key = f"campaign:{campaign.id}"
        if not await self.store.set_if_absent(key, campaign.dump(), ttl=CLAIM_TTL):
            raise PersonaError(f"campaign {campaign.id!r} exists already: pick another id")
        await self.store.put(key, campaign.dump())  # claimed: now kept for good
        await self.store.zincr("campaigns", campaign.id, campaign.created or time.time())
        await self.store.zincr("campaigns:active", campaign.id, 1)
        return campaign

    async def keep_sent(self, campaign: Campaign, tally: Tally, started: float, finished: float) -> None:
        """A broadcast sent at once by ``persona broadcast`` itself, kept done so it is listed and
        shown with the others; sent again with the same id, its counts add up."""
        key = f"campaign:{campaign.id}"
        if await self.store.set_if_absent(key, campaign.dump(), ttl=CLAIM_TTL):
            await self.store.put(key, campaign.dump())
            await self.store.zincr("campaigns", campaign.id, campaign.created or started)
        await self.store.put(f"campaign:{campaign.id}:run", Run(Status.DONE, None, finished, started, finished).dump())
        await self.count(campaign.id, tally.counts())

    async def get(self, campaign_id: str) -> Campaign | None:
        raw = await self.store.get(f"campaign:{campaign_id}")
        return Campaign.load(raw) if raw else None

    async def find(self, campaign_id: str) -> Campaign:
        """The campaign, or an error listing the ones there are."""
        found = await self.get(campaign_id)
        if found is None:
            known = [m for m, _ in await self.store.ztop("campaigns", 10)]
            raise PersonaError(f"no campaign {campaign_id!r}" + (f" (latest: {', '.join(known)})" if known else
                                                                 " (there are none yet)"))
        return found

    async def ids(self, limit: int = LIMIT) -> list[str]:
        """Campaign ids, newest first."""
        return [m for m, _ in await self.store.ztop("campaigns", limit)]

    async def active(self) -> list[str]:
        """Campaigns scheduled or running."""
        return [m for m, score in await self.store.ztop("campaigns:active", LIMIT) if score > 0]

    async def run(self, campaign_id: str) -> Run:
        return Run.load(await self.store.get(f"campaign:{campaign_id}:run"))

    async def cancelled(self, campaign_id: str) -> str | None:
        """Who cancelled it (None: nobody)."""
        return await self.store.get(f"campaign:{campaign_id}:cancel")

    async def status(self, campaign_id: str) -> Status:
        run = await self.run(campaign_id)
        if run.status is not Status.DONE and await self.cancelled(campaign_id) is not None:
            return Status.CANCELLED
        return run.status

    async def cancel(self, campaign_id: str, by: str) -> Status:
        """Stop it: before its time, or between two customers. A finished one stays finished."""
        await self.find(campaign_id)
        if (await self.run(campaign_id)).status is Status.DONE:
            raise PersonaError(f"campaign {campaign_id!r} is done already: nothing left to cancel")
        key = f"campaign:{campaign_id}:cancel"
        if await self.store.set_if_absent(key, by or "-", ttl=CLAIM_TTL):
            await self.store.put(key, by or "-")
            await self.store.zincr("campaigns:active", campaign_id, -1)
        return Status.CANCELLED

    async def progress(self, campaign_id: str) -> Progress:
        campaign = await self.find(campaign_id)
        counts = {m: int(n) for m, n in await self.store.ztop(f"campaign:{campaign_id}:tally", 1000)}
        scripts = {m.partition(":")[2]: n for m, n in counts.items() if m.startswith("script:")}
        cancelled = await self.cancelled(campaign_id)
        run = await self.run(campaign_id)
        status = Status.CANCELLED if cancelled is not None and run.status is not Status.DONE else run.status
        return Progress(campaign, status, run, Tally.from_counts(counts), scripts, cancelled or "")

    # -- the runner's side -----------------------------------------------------------------
    async def claim(self, campaign_id: str, worker: str, lease: float) -> bool:
        """Take the campaign for ``lease`` seconds; False when another worker holds it."""
        return await self.store.set_if_absent(f"campaign:{campaign_id}:lease", worker, ttl=lease)

    async def renew(self, campaign_id: str, worker: str, lease: float) -> bool:
        """Keep the lease another ``lease`` seconds; False when it was lost (ran out, taken)."""
        return await self.store.extend(f"campaign:{campaign_id}:lease", worker, lease)

    async def release(self, campaign_id: str, worker: str) -> None:
        await self.store.delete(f"campaign:{campaign_id}:lease", worker)

    async def save_run(self, campaign_id: str, run: Run) -> None:
        await self.store.put(f"campaign:{campaign_id}:run", run.dump())
        if run.status is Status.DONE:
            await self.store.zincr("campaigns:active", campaign_id, -1)

    async def count(self, campaign_id: str, counts: dict[str, int]) -> None:
        for name, n in counts.items():
            await self.store.zincr(f"campaign:{campaign_id}:tally", name, n)
