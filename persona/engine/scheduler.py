"""The clock's side of a persona: claim due timers and fire them through the runtime.

Any number of schedulers (``persona serve`` processes and ``persona worker`` processes) may run
on one store. Each claims due timers in batches with a lease; a timer is deleted by the commit
of the turn that fired it, so a scheduler killed mid-batch loses nothing (the lease runs out
and another claims it) and a timer delivered twice fires once (the second turn finds it gone).
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict

from ..clock import FakeClock
from ..errors import PersonaError, StoreUnavailable
from ..model.inputs import TimerFired
from .outcome import Status
from .runtime import Runtime

log = logging.getLogger(__name__)

#: How many due times :meth:`Scheduler.run_until` steps through before it suspects a loop.
MAX_STEPS = 1_000_000


class Scheduler:
    """Fires due timers for one runtime.

    ``batch`` timers are claimed per store call and hidden from other schedulers for ``lease``
    seconds, which must comfortably exceed the time a batch takes; ``concurrency`` customers
    are processed at once (one customer's timers always one after another, in due order);
    ``idle`` is how long to wait when nothing was due.
    """

    def __init__(self, runtime: Runtime, *, batch: int = 500, lease: float = 60.0,
                 concurrency: int = 64, idle: float = 0.5) -> None:
        if batch < 1 or concurrency < 1:
            raise ValueError("Scheduler: batch and concurrency must be at least 1")
        if lease <= 0:
            raise ValueError("Scheduler: lease must be a positive number of seconds")
        self.runtime = runtime
        self.batch = batch
        self.lease = lease
        self.idle = idle
        self.concurrency = concurrency
        self.fired = 0  # timers whose turn ran in this process (late, guarded and stale ones too)

    async def run_once(self, stop: asyncio.Event | None = None) -> int:
        """Fire every timer due now, batch after batch; returns how many were claimed.

        While a full batch fires, the next one is claimed, so the store's round trip for it
        overlaps the turns. With ``stop``, returns once it is set and the batches in hand
        (the one firing and the one claimed meanwhile) are done.
        """
        store, clock = self.runtime.store, self.runtime.clock
        total = 0
        claimed = await store.claim_timers(clock.now(), self.batch, self.lease)
        while claimed:
            total += len(claimed)
            last = len(claimed) < self.batch or (stop is not None and stop.is_set())
            following = None if last else asyncio.ensure_future(
                store.claim_timers(clock.now(), self.batch, self.lease))
            try:
                await self._fire_all(claimed)
            except BaseException:
                if following is not None:  # its timers come back when their lease runs out
                    following.cancel()
                    await asyncio.gather(following, return_exceptions=True)
                raise
            claimed = await following if following is not None else []
        return total

    async def _fire_all(self, claimed: list[tuple[str, str, float]]) -> None:
        """Fire a batch to the end (even when the store fails on some), then report an outage."""
        per_user: dict[str, list[tuple[float, str]]] = defaultdict(list)
        for user, name, due in claimed:
            per_user[user].append((due, name))
        gate = asyncio.Semaphore(self.concurrency)

        async def fire(user: str, timers: list[tuple[float, str]]) -> None:
            async with gate:
                for due, name in sorted(timers):
                    await self._fire_one(user, name, due)

        results = await asyncio.gather(*(fire(u, t) for u, t in per_user.items()), return_exceptions=True)
        for result in results:
            if isinstance(result, StoreUnavailable):
                raise result
            if isinstance(result, BaseException) and not isinstance(result, Exception):
                raise result

    async def _fire_one(self, user: str, name: str, due: float) -> None:
        runtime = self.runtime
        try:
            outcome = await runtime.handle(TimerFired(user=user, name=name))
        except StoreUnavailable:
            raise  # the lease runs out and the timer is claimed again
        except Exception:
            log.exception("timer %s for %s failed; it will be retried after its lease", name, user)
            runtime.metrics.inc("timer_failures", persona=runtime.name, timer=name)
            return
        self.fired += 1
        if outcome.status is Status.DONE:
            runtime.metrics.inc("timers_fired", persona=runtime.name, timer=name)
            runtime.metrics.observe("timer_lag", max(0.0, runtime.clock.now() - due), persona=runtime.name)
        elif outcome.status is Status.ERROR:
            runtime.metrics.inc("timer_failures", persona=runtime.name, timer=name)
        # "unhandled": cancelled or moved meanwhile, or already fired by another scheduler

    async def run(self, stop: asyncio.Event) -> None:
        """Poll until ``stop`` is set; a batch in hand is finished first. A store outage or an
        unexpected error pauses the loop, never ends it."""
        while not stop.is_set():
            pause = self.idle
            try:
                if await self.run_once(stop):
                    continue
            except StoreUnavailable as exc:
                log.warning("scheduler paused: %s", exc)
                pause = max(self.idle, 1.0)
            except Exception:
                log.exception("scheduler: unexpected error; retrying")
                pause = max(self.idle, 1.0)
            try:
                await asyncio.wait_for(stop.wait(), pause)
            except asyncio.TimeoutError:
                pass

    async def run_until(self, until: float) -> int:
        """On a fake clock: move the clock to each due time up to ``until`` in turn and fire
        what is due there, so "advance 3 hours" fires everything on the way, in order, as the
        real clock would. Leaves the clock at ``until``; returns how many timers were claimed.
        """
        clock = self.runtime.clock
        if not isinstance(clock, FakeClock):
            raise PersonaError("Scheduler.run_until moves the clock: give the Runtime a FakeClock")
        total = await self.run_once()
        for _ in range(MAX_STEPS):
            due = await self.runtime.store.next_timer_due()
            if due is None or due > until:
                break
            if due > clock.now():
                clock.set(due)
            total += await self.run_once()
        else:
            raise PersonaError(f"Scheduler.run_until: more than {MAX_STEPS} steps before {until}; "
                               "does a timer handler schedule itself for now again and again?")
        if until > clock.now():
            clock.set(until)
            total += await self.run_once()
        return total
