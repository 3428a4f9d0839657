"""The smallest persona with a timer, for worker processes: ``python -m persona.worker
tests.timers.pinger``. The handler counts and tags who fired it (``WORKER_TAG``)."""

from __future__ import annotations

import os

from persona import Persona, Turn, on


class Pinger(Persona):
    name = "pinger"
    states = ["idle"]
    scripts_dir = "no_scripts"

    @on.timer("ping")
    def ping(self, turn: Turn) -> None:
        turn.incr("pings")
        turn.tag("pinged_by", os.environ.get("WORKER_TAG", "?"))
