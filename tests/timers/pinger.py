"""The smallest persona with a timer, for worker processes: ``python -m persona.worker
tests.timers.pinger``. The handler counts and tags who fired it (``WORKER_TAG``), taking
``WORKER_DELAY`` seconds over each timer when set (a slow worker)."""

from __future__ import annotations

import asyncio
import os

from persona import Persona, Turn, on


class Pinger(Persona):
    name = "pinger"
    states = ["idle"]
    scripts_dir = "no_scripts"

    @on.timer("ping")
    async def ping(self, turn: Turn) -> None:
        delay = float(os.environ.get("WORKER_DELAY") or 0)
        if delay:
            await asyncio.sleep(delay)
        turn.incr("pings")
        turn.tag("pinged_by", os.environ.get("WORKER_TAG", "?"))
