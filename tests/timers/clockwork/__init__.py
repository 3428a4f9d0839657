"""A persona that does everything on the clock: the example the timer tests drive.

Every timer handler only counts (``turn.incr(<timer name>)``); the tests read when each one
fired from the customer's journal.
"""

from __future__ import annotations

from persona import Persona, Policy, Turn, on


def session_time(customer) -> str | None:
    """The training session time the customer chose, e.g. "20:00"."""
    return customer.attrs.get("session")


def training_days(customer) -> list[int] | None:
    """ISO weekdays the customer trains on, e.g. [1, 3, 5]."""
    return customer.attrs.get("training_days")


class Clockwork(Persona):
    name = "clockwork"
    states = ["new", "trial", "member", "left"]
    initial = "new"
    transitions = [
        ["start_trial", "new", "trial"],
        ["join", ["new", "trial"], "member"],
        ["leave", ["trial", "member"], "left"],
    ]
    policy = Policy(daily_cap=100, weekly_cap=500)
    journal_cap = 1000

    # -- inputs ------------------------------------------------------------------------------
    @on.event("signup")
    async def signup(self, turn: Turn) -> None:
        await turn.trigger("start_trial")

    @on.event("join")
    async def joined(self, turn: Turn) -> None:
        await turn.trigger("join")

    @on.event("leave")
    async def left(self, turn: Turn) -> None:
        await turn.trigger("leave")

    @on.event("coupon_claimed")
    def coupon_claimed(self, turn: Turn) -> None:
        turn.tag("coupon_claimed")

    @on.event("profile")
    def profile(self, turn: Turn) -> None:
        for key, value in turn.data.items():
            turn.set(key, value)

    @on.event("remind_me")
    def remind_me(self, turn: Turn) -> None:
        turn.schedule("manual", after=turn.data.get("after", 3600), bound=turn.data.get("bound", True))

    @on.text()
    def chat(self, turn: Turn) -> None:
        turn.incr("chats")

    def coupon_unclaimed(self, turn: Turn) -> bool:
        return not turn.customer.has("coupon_claimed")

    # -- the clock ---------------------------------------------------------------------------
    @on.timer("coupon_nudge", after="3h", state="trial", when="coupon_unclaimed")
    @on.timer("prep", daily=session_time, offset="-3h", weekdays=training_days, state="member")
    @on.timer("brief", daily="10:00", weekdays=training_days, state="member")
    @on.timer("payday", monthly=8, at="09:00", state="member")
    @on.timer("statement", monthly=31, at="18:00", state="member")
    @on.timer("instalment", monthly=lambda c: c.attrs.get("pay_day"), at="09:30", service=True)
    @on.timer("birthday", yearly="birthday", at="09:00")
    @on.timer("day7", days_after_joining=7, at="10:00")
    @on.timer("day15", days_after_joining=15, at="10:00")
    @on.timer("day30", days_after_joining=30, at="10:00")
    @on.timer("recall", inactive="14d", grace="1d")
    @on.timer("appointment_eve", relative_to="appointment", offset="-1d", at="09:00")
    @on.timer("chair_ready", relative_to="appointment", offset="-2h")
    @on.timer("manual", state=["trial", "member"])
    def tick(self, turn: Turn) -> None:
        turn.incr(turn.input.name)

    @on.timer("flaky", daily="12:00", state="member")
    def flaky(self, turn: Turn) -> None:
        turn.incr("flaky")
        if turn.customer.attrs.get("break_flaky"):
            raise RuntimeError("the flaky timer broke")
