"""A third version on top of the second: a timer renamed, and customers two versions behind."""

from __future__ import annotations

from persona import Persona, Policy, Runtime, Turn, on
from persona.migrate import Migration
from persona.migrate.plan import run
from tests.migrate.salon.v2 import SalonV2


class SalonV3(Persona):
    """Version 3: the day-15 note moves to day 14 under a new name."""

    name = "salon"
    states = ["new", "greeted", "member"]
    transitions = [["welcome", "new", "greeted"], ["join", "greeted", "member"]]
    policy = Policy(daily_cap=20, weekly_cap=100, quiet_start="23:59", quiet_end="00:00")
    scripts_dir = "salon/scripts_v2"
    migrations = [*SalonV2.migrations, Migration(timers={"day15": "day14"})]

    @on.wechat("subscribe")
    async def subscribed(self, turn: Turn) -> None:
        await turn.trigger("welcome")
        turn.say("welcome")

    @on.timer("day14", days_after_joining=14, at="10:00")
    def day14(self, turn: Turn) -> None:
        turn.say("day15")

    @on.timer("day30", days_after_joining=30, at="10:00")
    def day30(self, turn: Turn) -> None:
        turn.say("day30")


async def test_customers_go_through_exactly_the_steps_they_missed(fleet):
    before = await fleet.records()
    half = fleet.users[: len(fleet.users) // 2]
    for user in half:  # these met version 2 already
        await fleet.v2().amend(user)
    pending15 = sorted(u for u, c in before.items() if "day15" in c.timers)
    assert pending15

    v3 = Runtime(SalonV3(), fleet.store, fleet.clock)
    dry = await run(v3, apply=False)
    assert dry.renamed[("day15", "day14")].count == len(pending15)
    assert dry.renamed[("day15", "day14")].examples == pending15[:5]
    behind = [u for u in fleet.users if u not in half]
    assert dry.armed["day30"].count == len(behind)  # backfilled by step 1 only for those it had not reached
    assert dry.states[("welcomed", "greeted")].count == sum(1 for u in behind if before[u].state == "welcomed")

    await run(v3, apply=True)
    after = await fleet.records()
    for user, customer in after.items():
        assert customer.generation == 2 and "day15" not in customer.timers
        if user in pending15:
            assert customer.timers["day14"].due == before[user].timers["day15"].due  # renamed, not moved
        stored = await fleet.store.pending_timers(user)
        assert set(stored) == set(customer.timers)
