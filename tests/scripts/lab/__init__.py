"""A small shop for the live-scripts tests: a pitch said on the first message, a purchase event,
and a sign-up that tells the shop some customers' nickname or city (and not others')."""

from __future__ import annotations

from persona import Persona, Turn, on


class Lab(Persona):
    name = "lab"
    states = ["new", "pitched", "buyer"]
    transitions = [["pitch", "new", "pitched"], ["buy", ["new", "pitched"], "buyer"]]

    @on.text("hi")
    async def hello(self, turn: Turn) -> None:
        await turn.trigger("pitch")
        turn.say("pitch", price=99)

    @on.text("again")
    def again(self, turn: Turn) -> None:
        turn.say("pitch", price=99)

    @on.event("order")
    async def ordered(self, turn: Turn) -> None:
        await turn.trigger("buy")
        turn.say("thanks")

    @on.event("registered", data={"nickname?": str, "city?": str})
    def registered(self, turn: Turn) -> None:
        for key in ("nickname", "city"):
            if turn.data.get(key):
                turn.set(key, turn.data[key])
