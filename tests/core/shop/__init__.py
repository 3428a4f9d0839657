"""A tiny shop assistant: the example persona the core tests drive."""

from __future__ import annotations

from persona import MediaMessage, Persona, Policy, Turn, on


class Shop(Persona):
    name = "shop"
    states = ["new", "welcomed", "buyer", "vip"]
    initial = "new"
    transitions = [
        ["welcome", "new", "welcomed"],
        {"trigger": "buy", "source": ["welcomed", "buyer"], "dest": "buyer"},
        {"trigger": "promote", "source": "buyer", "dest": "vip", "conditions": "spent_enough"},
    ]
    policy = Policy(daily_cap=2, quiet_start="23:00", quiet_end="07:00")

    def spent_enough(self, turn: Turn) -> bool:
        return turn.customer.counters.get("spent", 0) >= 1000

    def on_enter_vip(self, turn: Turn) -> None:
        turn.tag("vip")
        turn.say("vip")

    @on.wechat("subscribe")
    async def subscribed(self, turn: Turn) -> None:
        await turn.trigger("welcome")
        turn.tag("source", turn.input.key or "search")
        turn.say("welcome")

    @on.text("价格", "多少钱")
    def price(self, turn: Turn) -> None:
        turn.say("price", price=1299)

    @on.keyword("订单")
    def order_status(self, turn: Turn) -> None:
        turn.say("order", count=turn.customer.counters.get("orders", 0))

    @on.regex(r"^boom")
    def boom(self, turn: Turn) -> None:
        turn.tag("half_written")
        raise RuntimeError("the handler broke")

    @on.text()
    def anything(self, turn: Turn) -> None:
        turn.incr("chats")

    @on.event("order_placed")
    async def ordered(self, turn: Turn) -> None:
        turn.incr("orders")
        turn.incr("spent", int(turn.data["amount"]))
        await turn.trigger("buy")
        await turn.trigger("promote")
        turn.say("thanks", amount=turn.data["amount"])
        turn.say("thanks", amount=turn.data["amount"], to="staff:sales01", category="service")
        turn.schedule("review", after=3 * 3600)
        turn.leaderboard("spend", turn.customer.id, float(turn.data["amount"]))

    @on.timer("review", state=["buyer", "vip"])
    def ask_review(self, turn: Turn) -> None:
        turn.say("review")

    @on.timer("day3", days_after_joining=3, at="10:00")
    def day3(self, turn: Turn) -> None:
        turn.say("day3")

    @on.rule
    def big_spender(self, turn: Turn) -> None:
        if turn.customer.counters.get("spent", 0) >= 500:
            turn.tag("spend", "high")

    @on.rule
    def photo_sender(self, turn: Turn) -> None:
        if isinstance(turn.input, MediaMessage) and turn.input.media_type == "image":
            turn.tag("sends_photos")
