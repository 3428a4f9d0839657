"""The smallest persona worth measuring: one state change and one rendered reply per message.

Every text flips the customer between ``a`` and ``b`` and answers with ``scripts/reply.j2``;
the ``tick`` timer does nothing at all (the timer benchmark measures the machinery, not a
handler); ``sale`` is the script a broadcast says (as marketing, the default). Its name comes from ``PERSONA_BENCH_NAME`` when set, so two servers in one run can
keep their customers apart on one Redis.
"""

from __future__ import annotations

import os

from persona import Persona, Policy, Turn, on


class Bench(Persona):
    name = os.environ.get("PERSONA_BENCH_NAME", "bench")
    states = ["a", "b"]
    initial = "a"
    transitions = [
        ["flip", "a", "b"],
        ["flip", "b", "a"],
    ]
    #: the state is indexed (segment queries need it); tags are not
    indexed_tags = frozenset()
    policy = Policy(daily_cap=1000, weekly_cap=1000)
    broadcasts = frozenset({"sale"})  # benchmarks.broadcast: persona broadcast ... state:a sale

    @on.text()
    async def talk(self, turn: Turn) -> None:
        await turn.trigger("flip")
        turn.say("reply", said=turn.text[:20])

    @on.timer("tick")
    def tick(self, turn: Turn) -> None:
        """A no-op: firing it still loads, decides and commits the customer."""
