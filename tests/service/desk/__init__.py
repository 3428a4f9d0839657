"""A help-desk persona the service tests drive over HTTP.

Its name comes from ``PERSONA_TEST_DESK_NAME`` when set, so tests that start ``persona serve``
processes on a shared Redis get a namespace (and URL path) of their own.
"""

from __future__ import annotations

import asyncio
import os

from persona import EventDataError, Message, Persona, Turn, on


class Desk(Persona):
    name = os.environ.get("PERSONA_TEST_DESK_NAME", "desk")
    states = ["new", "greeted", "member"]
    initial = "new"
    transitions = [
        ["greet", "new", "greeted"],
        ["join", ["new", "greeted"], "member"],
    ]
    #: how long the "slow" handler thinks (tests shorten the service deadline below it)
    slow_seconds = float(os.environ.get("PERSONA_TEST_DESK_SLOW", "0.6"))

    @on.wechat("subscribe")
    async def subscribed(self, turn: Turn) -> None:
        await turn.trigger("greet")
        turn.say("welcome")

    @on.text("hi", "你好")
    async def hello(self, turn: Turn) -> None:
        await turn.trigger("greet")
        turn.incr("hellos")
        turn.say("hello")

    @on.text("hi", door="staff")  # a staff member writing to the WeCom app
    def staff_hello(self, turn: Turn) -> None:
        turn.say("hello")

    @on.text("two")
    def two(self, turn: Turn) -> None:
        turn.say("hello")
        turn.say("more")

    @on.text("slow")
    async def slow(self, turn: Turn) -> None:
        await asyncio.sleep(self.slow_seconds)
        turn.incr("slow")
        turn.say("hello")

    @on.text("picture")
    def picture_please(self, turn: Turn) -> None:
        # an image without a media_id: it cannot ride in a passive reply
        turn.send(Message(kind="image", fields={"path": "/nonexistent/card.png"}, category="service"))

    @on.text()
    def chat(self, turn: Turn) -> None:
        turn.incr("chats")

    @on.media("image")
    def picture(self, turn: Turn) -> None:
        turn.incr("pictures")

    @on.wechat("add_external_contact")
    async def added(self, turn: Turn) -> None:
        await turn.trigger("greet")
        turn.say("welcome")

    @on.event("joined")
    async def joined(self, turn: Turn) -> None:
        await turn.trigger("join")
        turn.incr("points", int(turn.data.get("points", 0)))

    @on.event("booked", data={"when": str, "chair": int, "fee?": float, "note?": str})
    def booked(self, turn: Turn) -> None:
        turn.set("appointment", turn.data["when"])
        turn.incr("bookings")

    @on.event("broken")
    async def broken(self, turn: Turn) -> None:
        if turn.data.get("code") == "":  # a value no declaration refuses, refused by the handler
            raise EventDataError("'code' is empty", fields=["code"])
        if not turn.data.get("fixed"):
            raise RuntimeError("the handler broke")
        await turn.trigger("join")
