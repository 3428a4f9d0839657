"""A persona for scale-out tests: a few states, replies, a business event and a short timer.

Each customer's end state and messages depend only on the order of *their own* inputs, never
on which process handled them or when the timer fired relative to the others, so a run
spread over many processes can be compared with a run in one. Its name (and so its store
namespace and URL path) comes from ``PERSONA_SCALE_NAME``.
"""

from __future__ import annotations

import os

from persona import Persona, Policy, Turn, on


class Relay(Persona):
    name = os.environ.get("PERSONA_SCALE_NAME", "relay")
    states = ["new", "talking", "member"]
    initial = "new"
    transitions = [
        ["greet", "new", "talking"],
        ["join", ["new", "talking"], "member"],
    ]
    policy = Policy(daily_cap=50, weekly_cap=100, kf_window_limit=50, kf_burst_limit=50)

    @on.text("hi", "你好")
    async def hello(self, turn: Turn) -> None:
        await turn.trigger("greet")
        turn.incr("hellos")
        turn.say("hello")

    @on.text()
    def chat(self, turn: Turn) -> None:
        said = turn.incr("chats")
        turn.say("echo", said=said)

    @on.event("joined")
    async def joined(self, turn: Turn) -> None:
        await turn.trigger("join")
        turn.incr("points", int(turn.data.get("points", 0)))
        turn.tag("member_since", turn.data.get("day", "?"))
        turn.say("welcome_member", points=turn.customer.counters["points"])

    @on.timer("nudge", after="1s")
    def nudge(self, turn: Turn) -> None:
        turn.incr("nudges")
        turn.say("nudge")
