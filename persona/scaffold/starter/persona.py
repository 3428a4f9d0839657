"""Starter: a small persona to grow from. Replace this flow with yours.

A customer follows the Official Account (or adds you on WeCom) and is welcomed. Asking the
price gets an answer; anything else gets a short menu. A day after the welcome, someone who
has not signed up yet hears from you once more. When the brand's systems post the
``signed_up`` event, the customer is thanked and becomes a member.

The words live in ``scripts/*.j2``; ``persona lint starter`` checks them against this file.
"""

from __future__ import annotations

from typing import Any

from persona import Persona, PlatformEvent, Policy, Turn, on

PRICE = 199


class Starter(Persona):
    name = "starter"
    states = ["new", "welcomed", "member"]
    initial = "new"
    transitions = [
        ["welcome", "new", "welcomed"],
        ["sign_up", ["new", "welcomed"], "member"],
    ]
    # at most 2 proactive messages a day and 6 a week; nothing between 22:00 and 08:00; a service
    # message to a follower who has not written within 48 h goes as the template message "notice"
    policy = Policy(daily_cap=2, weekly_cap=6, fallback_template="notice")

    def context(self, turn: Turn) -> dict[str, Any]:
        """Variables every script gets, besides customer, tags, attrs, counters, now, data, state."""
        return {"brand": "Starter", "price": PRICE}

    # -- the customer arrives --------------------------------------------------------------
    @on.wechat("subscribe", "add_external_contact")
    async def arrived(self, turn: Turn) -> None:
        assert isinstance(turn.input, PlatformEvent)
        turn.tag("source", turn.input.key or "search")  # the QR code's scene, if any
        await turn.trigger("welcome")
        # on WeCom the first message must travel as the (single-use) welcome message
        turn.say("welcome", via="welcome" if turn.data.get("welcome_code") else "")

    # -- what the customer types -----------------------------------------------------------
    @on.keyword("价格", "多少钱", "price")
    def price(self, turn: Turn) -> None:
        turn.say("price", category="service")

    @on.text()
    def anything_else(self, turn: Turn) -> None:
        turn.say("help", category="service")

    # -- the brand's systems -----------------------------------------------------------------
    @on.event("signed_up", data={"plan?": str})  # a bad payload is refused (422) before this runs
    async def signed_up(self, turn: Turn) -> None:
        turn.set("plan", str(turn.data.get("plan") or "basic"))
        await turn.trigger("sign_up")
        turn.say("thanks", category="service", plan=turn.customer.attrs["plan"])

    # -- the clock -----------------------------------------------------------------------------
    @on.timer("nudge", after="1d", state="welcomed")
    def nudge(self, turn: Turn) -> None:
        """Bound to ``welcomed``: signing up before it is due cancels it."""
        turn.say("nudge")
