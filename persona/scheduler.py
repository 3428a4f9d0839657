"""The clock's side of a persona: claim due timers and fire them through the runtime.

Any number of schedulers (``persona serve`` processes and ``persona worker`` processes) may run
on one store. Each claims due timers in batches with a lease; a timer is deleted by the commit
of the turn that fired it, so a scheduler killed mid-batch loses nothing (the lease runs out
and another claims it) and a timer delivered twice fires once (the second turn finds it gone).
"""

from __future__ import annotations

import asyncio
import logging

from .errors import StoreUnavailable
from .inputs import TimerFired
from .runtime import Runtime

log = logging.getLogger("persona.scheduler")


class Scheduler:
    def __init__(self, runtime: Runtime, *, batch: int = 500, lease: float = 60.0,
                 concurrency: int = 64, idle: float = 0.5) -> None:
        self.runtime = runtime
        self.batch = batch
        self.lease = lease
        self.idle = idle
        self.concurrency = concurrency
        self.fired = 0

    async def run_once(self) -> int:
        """Fire every timer due now (in batches); returns how many were claimed."""
        total = 0
        while True:
            claimed = await self.runtime.store.claim_timers(self.runtime.clock.now(), self.batch, self.lease)
            if not claimed:
                return total
            total += len(claimed)
            await self._fire_all(claimed)
            if len(claimed) < self.batch:
                return total

    async def _fire_all(self, claimed: list[tuple[str, str, float]]) -> None:
        gate = asyncio.Semaphore(self.concurrency)

        async def fire(user: str, name: str) -> None:
            async with gate:
                try:
                    await self.runtime.handle(TimerFired(user=user, name=name))
                    self.fired += 1
                except StoreUnavailable:
                    raise
                except Exception:  # the lease runs out and the timer is tried again
                    log.exception("timer %s for %s failed; it will be retried after its lease", name, user)
                    self.runtime.metrics.inc("timer_failures", persona=self.runtime.name)

        await asyncio.gather(*(fire(u, n) for u, n, _ in claimed))
        self.runtime.metrics.inc("timers_fired", len(claimed), persona=self.runtime.name)

    async def run(self, stop: asyncio.Event) -> None:
        """Poll until ``stop`` is set; a store outage pauses, never ends, the loop."""
        while not stop.is_set():
            try:
                fired = await self.run_once()
            except StoreUnavailable as exc:
                log.warning("scheduler paused: %s", exc)
                fired = 0
                await asyncio.sleep(1.0)
            if not fired:
                try:
                    await asyncio.wait_for(stop.wait(), self.idle)
                except asyncio.TimeoutError:
                    pass
