"""The salon bot after its first change (see the package docstring)."""

from __future__ import annotations

from persona import Persona, Policy, Turn, on
from persona.migrate import Migration


class SalonV2(Persona):
    name = "salon"
    states = ["new", "greeted", "member"]
    transitions = [["welcome", "new", "greeted"], ["join", "greeted", "member"]]
    policy = Policy(daily_cap=20, weekly_cap=100, quiet_start="23:59", quiet_end="00:00")
    scripts_dir = "scripts_v2"
    migrations = [Migration(states={"welcomed": "greeted"}, timers={"nudge": None},
                            attrs={"fav": "favourite"}, backfill=("day30",))]

    @on.wechat("subscribe")
    async def subscribed(self, turn: Turn) -> None:
        await turn.trigger("welcome")
        turn.say("welcome")

    @on.keyword("喜欢")
    def likes(self, turn: Turn) -> None:
        turn.set("favourite", turn.text.replace("喜欢", "").strip())
        turn.say("noted")

    @on.event("joined")
    async def joined(self, turn: Turn) -> None:
        await turn.trigger("join")
        turn.say("member")

    @on.timer("day15", days_after_joining=15, at="10:00")
    def day15(self, turn: Turn) -> None:
        turn.say("day15")

    @on.timer("day30", days_after_joining=30, at="10:00")
    def day30(self, turn: Turn) -> None:
        turn.say("day30")
