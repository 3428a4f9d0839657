"""A beauty counter on both an Official Account and WeCom: the persona the identity tests drive."""

from __future__ import annotations

from persona import Persona, Policy, Turn, on


class Salon(Persona):
    name = "salon"
    states = ["new", "welcomed", "buyer"]
    initial = "new"
    transitions = [
        ["welcome", "new", "welcomed"],
        {"trigger": "buy", "source": ["new", "welcomed", "buyer"], "dest": "buyer"},
    ]
    policy = Policy(daily_cap=2, weekly_cap=10, quiet_start="23:00", quiet_end="07:00")
    link_by_unionid = True

    @on.wechat("subscribe")
    async def followed(self, turn: Turn) -> None:
        await self._welcome(turn, "oa")

    @on.wechat("add_external_contact")
    async def added(self, turn: Turn) -> None:
        await self._welcome(turn, "wecom")

    async def _welcome(self, turn: Turn, source: str) -> None:
        if turn.state == "new":
            await turn.trigger("welcome")
        turn.tag("source", source)
        turn.set("first_channel", turn.customer.attrs.get("first_channel", source))
        turn.say("welcome")

    @on.text("hi", "你好")
    def hello(self, turn: Turn) -> None:
        turn.incr("hellos")
        turn.say("hello")

    @on.event("order_placed")
    async def ordered(self, turn: Turn) -> None:
        await turn.trigger("buy")
        turn.incr("orders")
        turn.tag("bought")
        turn.schedule("review", after=3 * 3600)

    @on.event("promo")
    def promo(self, turn: Turn) -> None:
        turn.say("promo", category="marketing")

    @on.timer("review", state=["buyer"])
    def ask_review(self, turn: Turn) -> None:
        turn.say("review", category="service")

    @on.timer("day3", days_after_joining=3, at="10:00")
    def day3(self, turn: Turn) -> None:
        turn.say("promo", category="marketing")
