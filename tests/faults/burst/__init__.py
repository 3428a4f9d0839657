"""A persona for process-signal fault tests: each text is counted and answered with two
service notices (template messages, so both go through the send API with WeChat's own
idempotency key). Its name comes from ``PERSONA_BURST_NAME`` (a namespace per test run)."""

from __future__ import annotations

import os

from persona import Persona, Policy, Turn, on


class Burst(Persona):
    name = os.environ.get("PERSONA_BURST_NAME", "burst")
    states = ["new", "talking"]
    initial = "new"
    transitions = [["talk", ["new", "talking"], "talking"]]
    policy = Policy(daily_cap=1000, weekly_cap=1000, quiet_start="23:59", quiet_end="00:00")

    @on.text()
    async def counted(self, turn: Turn) -> None:
        await turn.trigger("talk")
        n = turn.incr("messages")
        turn.say("receipt", n=n, category="service")
        turn.say("points", n=n, category="service")
