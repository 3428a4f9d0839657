"""The salon bot as first deployed."""

from __future__ import annotations

from persona import Persona, Policy, Turn, on


class SalonV1(Persona):
    name = "salon"
    states = ["new", "welcomed", "member"]
    transitions = [["welcome", "new", "welcomed"], ["join", "welcomed", "member"]]
    policy = Policy(daily_cap=20, weekly_cap=100, quiet_start="23:59", quiet_end="00:00")

    @on.wechat("subscribe")
    async def subscribed(self, turn: Turn) -> None:
        await turn.trigger("welcome")
        turn.say("welcome")

    @on.keyword("喜欢")
    def likes(self, turn: Turn) -> None:
        turn.set("fav", turn.text.replace("喜欢", "").strip())
        turn.say("noted")

    @on.event("joined")
    async def joined(self, turn: Turn) -> None:
        await turn.trigger("join")
        turn.say("member")

    @on.timer("nudge", state="welcomed", after="1d")
    def nudge(self, turn: Turn) -> None:
        turn.say("nudge")

    @on.timer("day15", days_after_joining=15, at="10:00")
    def day15(self, turn: Turn) -> None:
        turn.say("day15")
