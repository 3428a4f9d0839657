"""A persona that says whatever the test asks it to, so the gate's decisions can be watched.

``say`` (a business event) queues the scripts in ``data["scripts"]``; texts and media are
answered; platform events open the windows they open.
"""

from __future__ import annotations

from persona import Persona, Policy, Turn, on


class Polite(Persona):
    name = "polite"
    states = ["known"]
    policy = Policy(daily_cap=2, weekly_cap=5, fallback_template="fallback")
    journal_cap = 500

    @on.event("say")
    def say(self, turn: Turn) -> None:
        for script in turn.data["scripts"]:
            turn.say(script)

    @on.event("profile")
    def profile(self, turn: Turn) -> None:
        for key, value in turn.data.items():
            turn.set(key, value)

    @on.text("hi")
    def hi(self, turn: Turn) -> None:
        turn.say("answer")  # a reply, in the default (marketing) category

    @on.text("订单")
    def order(self, turn: Turn) -> None:
        turn.say("notice")  # a service reply

    @on.text()
    def chat(self, turn: Turn) -> None:
        turn.incr("chats")

    @on.media()
    def photo(self, turn: Turn) -> None:
        turn.say("answer")

    @on.wechat("subscribe", "click", "scan", "unsubscribe", "del_follow_user")
    def platform_event(self, turn: Turn) -> None:
        turn.incr(turn.input.name)

    @on.wechat("add_external_contact")
    def added(self, turn: Turn) -> None:
        for script in turn.data.get("say", ["welcome"]):
            turn.say(script)

    @on.timer("promo_daily", daily="10:00")
    def promo_daily(self, turn: Turn) -> None:
        turn.say("promo")

    @on.timer("instalment", monthly=8, at="09:00", service=True)
    def instalment(self, turn: Turn) -> None:
        turn.say("notice")
