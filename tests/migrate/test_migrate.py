"""Changing a live bot: a state renamed, a timer removed, a day-30 timer added, on every store."""

from __future__ import annotations

import asyncio
import json
import random
from datetime import datetime, timedelta

import pytest

from persona import BusinessEvent, DefinitionError, Persona, Runtime, TextMessage, on
from persona.engine import census
from persona.errors import ShapeError
from persona.migrate import Late, Migration
from persona.migrate.plan import run
from persona.migrate.shape import KEY, Shape, ensure_compatible, recorded
from persona.engine.scheduler import Scheduler
from persona.model.timers import zone
from tests.migrate.salon.v1 import SalonV1
from tests.migrate.salon.v2 import SalonV2


def day30(first_seen: float) -> float:
    tz = zone(SalonV2.timezone)
    joined = datetime.fromtimestamp(first_seen, tz).date() + timedelta(days=30)
    return datetime(joined.year, joined.month, joined.day, 10, 0, tzinfo=tz).timestamp()


async def test_dry_run_counts_what_the_apply_will_do_and_writes_nothing(fleet):
    before = await fleet.records()
    welcomed = sorted(u for u, c in before.items() if c.state == "welcomed")
    members = sorted(u for u, c in before.items() if c.state == "member")
    nudged = sorted(u for u, c in before.items() if "nudge" in c.timers)
    liked = sorted(u for u, c in before.items() if "fav" in c.attrs)
    assert welcomed and members and nudged and liked and len(nudged) < len(welcomed)

    report = await run(fleet.v2(), apply=False, batch=7)

    assert report.customers == len(fleet.users) and report.current == 0 and not report.uncovered
    assert {k: t.count for k, t in report.states.items()} == {
        ("welcomed", "greeted"): len(welcomed), ("member", "member"): len(members)}
    assert report.states[("welcomed", "greeted")].examples == welcomed[:5]
    assert report.cancelled["nudge"].count == len(nudged) and report.cancelled["nudge"].examples == nudged[:5]
    assert report.armed["day30"].count == len(fleet.users)
    assert report.attrs[("fav", "favourite")].count == len(liked)
    assert not report.renamed
    after = await fleet.records()
    assert {u: c.version for u, c in after.items()} == {u: c.version for u, c in before.items()}
    assert await fleet.store.get(KEY) is None


async def test_apply_under_concurrent_callbacks_leaves_every_customer_consistent(fleet):
    before = await fleet.records()
    v2 = fleet.v2()
    rng = random.Random(3)
    stop = asyncio.Event()

    async def traffic(lane: int) -> int:
        """Callbacks that follow the apply through the customers, as live traffic would."""
        n = 0
        while not stop.is_set():
            for user in fleet.users[lane::4]:
                n += 1
                if rng.random() < 0.5:
                    await v2.handle(TextMessage(user=user, dedupe_key=f"live:{lane}:{n}", text="喜欢 做头发"))
                else:
                    await v2.handle(BusinessEvent(user=user, dedupe_key=f"live:{lane}:{n}", name="joined"))
                await asyncio.sleep(0)
                if stop.is_set():
                    break
        return n

    # a second runtime, as `persona migrate --apply` runs beside `persona serve`
    tasks = [asyncio.create_task(traffic(lane)) for lane in range(4)]
    migrator = fleet.v2()
    report = await run(migrator, apply=True, batch=5, concurrency=4)
    stop.set()
    sent = sum(await asyncio.gather(*tasks))
    assert sent > 10

    after = await fleet.records()
    assert report.migrated + report.current == len(fleet.users)
    for user, customer in after.items():
        assert customer.generation == 1
        assert customer.state in SalonV2.states
        assert "fav" not in customer.attrs
        assert "nudge" not in customer.timers
        stored = await fleet.store.pending_timers(user)
        assert set(stored) == set(customer.timers), user
        for name, timer in customer.timers.items():
            assert abs(stored[name] - timer.due) < 0.01
        assert customer.timers["day15"].due == before[user].timers["day15"].due
        assert customer.timers["day30"].due == day30(before[user].first_seen)
        journal = [json.loads(line) for line in await fleet.store.journal(user)]
        assert sum(1 for line in journal if line["k"] == "migrated") == 1
    assert await census.per_state(fleet.store) == await census.scan(fleet.store)
    assert await recorded(fleet.store) == Shape.of(SalonV2)


async def test_an_interrupted_apply_resumes_where_it_stopped(fleet):
    class Interrupted(Exception):
        pass

    calls = []

    def progress(done: int, total: int) -> None:
        calls.append(done)
        if len(calls) == 2:
            raise Interrupted

    with pytest.raises(Interrupted):
        await run(fleet.v2(), apply=True, batch=6, progress=progress)
    halfway = await fleet.records()
    assert sum(1 for c in halfway.values() if c.generation == 1) == 12
    assert await recorded(fleet.store) is None

    report = await run(fleet.v2(), apply=True, batch=6)
    assert report.resumed_after == fleet.users[11] and report.skipped == 12
    assert report.migrated == len(fleet.users) - 12 and report.current == 0
    after = await fleet.records()
    assert all(c.generation == 1 and c.state != "welcomed" for c in after.values())
    for user, customer in after.items():
        journal = [json.loads(line) for line in await fleet.store.journal(user)]
        assert sum(1 for line in journal if line["k"] == "migrated") == 1
    again = await run(fleet.v2(), apply=True)
    assert again.current == len(fleet.users) and again.migrated == 0


async def test_migrated_timers_fire_under_their_new_names_and_removed_ones_never(fleet):
    await run(fleet.v2(), apply=True)
    v2 = fleet.v2()
    scheduler = Scheduler(v2)
    end = fleet.clock.now() + 40 * 86400
    while (due := await fleet.store.next_timer_due()) is not None and due <= end:
        fleet.clock.set(max(fleet.clock.now(), due))
        await scheduler.run_once()
    fired = {}
    for user in fleet.users:
        for line in await fleet.store.journal(user, 200):
            entry = json.loads(line)
            if entry["k"] == "in" and entry.get("input", "").startswith("timer"):
                fired.setdefault(user, []).append(entry["input"])
            assert entry["k"] != "timer_unknown"
    assert all(f.count("timer day30") == 1 for f in fired.values())
    assert len(fired) == len(fleet.users)
    assert await fleet.store.count_timers() == 0


async def test_a_turn_on_the_new_version_migrates_its_customer_first(fleet):
    before = await fleet.records()
    user = next(u for u, c in before.items() if c.state == "welcomed" and "fav" in c.attrs)
    outcome = await fleet.v2().handle(TextMessage(user=user, dedupe_key="m:new", text="你好"))
    assert outcome.status in ("done", "unhandled")
    customer = (await fleet.records())[user]
    assert customer.state == "greeted" and customer.generation == 1
    assert customer.attrs["favourite"] == before[user].attrs["fav"] and "day30" in customer.timers
    counts = await census.per_state(fleet.store)
    assert counts == await census.scan(fleet.store)
    report = await run(fleet.v2(), apply=False)
    assert report.current == 1


class SalonV2Careless(Persona):
    """Version 2 deployed without saying where the old state and timer went."""

    name = "salon"
    states = ["new", "greeted", "member"]
    transitions = [["welcome", "new", "greeted"]]
    scripts_dir = "salon/scripts_v2"

    @on.timer("day15", days_after_joining=15)
    def day15(self, turn) -> None:
        pass


async def test_serve_refuses_a_persona_that_strands_customers(fleet):
    await ensure_compatible(SalonV1, fleet.store)  # the first start records the shape
    assert await recorded(fleet.store) == Shape.of(SalonV1)
    before = await fleet.records()
    welcomed = sum(1 for c in before.values() if c.state == "welcomed")
    nudged = sum(1 for c in before.values() if "nudge" in c.timers)
    with pytest.raises(ShapeError) as caught:
        await ensure_compatible(SalonV2Careless, fleet.store)
    message = str(caught.value)
    assert f"state 'welcomed' with {welcomed} customers" in message
    assert f"timer 'nudge' with {nudged} pending timers" in message
    await ensure_compatible(SalonV2, fleet.store)  # covered: starts, migrates as it goes
    assert await recorded(fleet.store) == Shape.of(SalonV1)
    await run(fleet.v2(), apply=True)
    assert await recorded(fleet.store) == Shape.of(SalonV2)
    await ensure_compatible(SalonV2, fleet.store)


async def test_migrate_lists_customers_a_careless_version_would_strand(fleet):
    before = await fleet.records()
    welcomed = sorted(u for u, c in before.items() if c.state == "welcomed")
    nudged = sorted(u for u, c in before.items() if "nudge" in c.timers)
    careless = Runtime(SalonV2Careless(), fleet.store, fleet.clock)
    report = await run(careless, apply=True)
    assert report.uncovered["state welcomed"].count == len(welcomed)
    assert report.uncovered["state welcomed"].examples == welcomed[:5]
    assert report.uncovered["timer nudge"].count == len(nudged)
    assert {u: c.version for u, c in (await fleet.records()).items()} == {u: c.version for u, c in before.items()}
    assert await recorded(fleet.store) is None  # nothing recorded: customers are still stranded


async def test_a_store_written_before_tallies_is_counted_once_on_request(fleet, caplog):
    await fleet.store.reset_tallies(census.STATE, {})
    await ensure_compatible(SalonV1, fleet.store)  # a start does not read every record ...
    assert await census.per_state(fleet.store) == {}
    assert "persona funnel BOT --store URL --recount" in caplog.text  # ... it says what to run
    with pytest.raises(ShapeError, match="state 'welcomed' with [1-9]"):  # uncounted, still refused
        await ensure_compatible(SalonV2Careless, fleet.store)
    await census.recount(fleet.store)
    assert await census.per_state(fleet.store) == await census.scan(fleet.store)


class SalonV2Late(SalonV2):
    """Version 2 declaring that a day 30 already gone still goes out, at once."""

    migrations = [Migration(states={"welcomed": "greeted"}, timers={"nudge": None},
                            attrs={"fav": "favourite"}, backfill=("day30",), late="fire")]


async def test_a_backfilled_moment_already_passed_is_skipped_or_fired_at_once_as_declared(fleet):
    fleet.clock.advance(25 * 86400)  # the first half of the customers are past day 30, the rest not yet
    now = fleet.clock.now()
    first_seen = {u: c.first_seen for u, c in (await fleet.records()).items()}
    gone = sorted(u for u, seen in first_seen.items() if day30(seen) <= now)
    ahead = sorted(u for u, seen in first_seen.items() if day30(seen) > now)
    assert gone and ahead

    skipped = await run(fleet.v2(), apply=False)
    assert skipped.late_skipped["day30"].count == len(gone) and not skipped.late_fired
    assert skipped.armed["day30"].count == len(ahead)

    overridden = await run(fleet.v2(), apply=False, late=Late.FIRE)
    assert overridden.late_fired["day30"].count == len(gone) and not overridden.late_skipped

    late = Runtime(SalonV2Late(), fleet.store, fleet.clock)
    declared = await run(late, apply=False)
    assert declared.late_fired["day30"].count == len(gone)
    assert not (await run(late, apply=False, late=Late.SKIP)).late_fired

    await run(late, apply=True)
    for user in gone:
        assert (await fleet.store.pending_timers(user))["day30"] == pytest.approx(now)
    for user in ahead:
        assert (await fleet.store.pending_timers(user))["day30"] == pytest.approx(day30(first_seen[user]))
    fired = await Scheduler(late).run_once()
    assert fired >= len(gone)
    for user in gone:
        assert "day30" not in await fleet.store.pending_timers(user)


def test_a_migration_with_an_unknown_late_choice_fails_at_import():
    with pytest.raises(DefinitionError, match="late='later'.*'skip', 'fire'"):
        Migration(backfill=("day30",), late="later")


def test_a_migration_to_a_state_that_does_not_exist_fails_at_import():
    with pytest.raises(DefinitionError, match="'greted'.*did you mean 'greeted'"):
        class Broken(SalonV2):
            migrations = [Migration(states={"welcomed": "greted"})]
    with pytest.raises(DefinitionError, match="backfill 'day15' is not a scheduled timer|no @on.timer"):
        class Broken2(SalonV2):
            migrations = [Migration(timers={"nudge": "day16"})]


class RaceOnCommit:
    """A store that lets ``other`` run to completion just before the first commit goes in:
    the worst moment for a migration and a callback to meet."""

    def __init__(self, store, other) -> None:
        self._store, self._other = store, other

    def __getattr__(self, name: str):
        return getattr(self._store, name)

    async def commit(self, commit):
        if self._other is not None:
            other, self._other = self._other, None
            await other()
        return await self._store.commit(commit)


async def assert_consistent(fleet, user: str) -> None:
    customer = (await fleet.records())[user]
    assert customer.generation == 1 and customer.state in SalonV2.states
    stored = await fleet.store.pending_timers(user)
    assert set(stored) == set(customer.timers) and "nudge" not in stored
    journal = [json.loads(line) for line in await fleet.store.journal(user)]
    assert sum(1 for line in journal if line["k"] == "migrated") == 1
    assert await census.per_state(fleet.store) == await census.scan(fleet.store)


async def test_a_callback_landing_inside_a_migration_wins_and_the_migration_retries(fleet):
    user = next(u for u, c in (await fleet.records()).items() if c.state == "welcomed")
    callback = fleet.v2()
    migrator = Runtime(SalonV2(), RaceOnCommit(fleet.store, lambda: callback.handle(
        TextMessage(user=user, dedupe_key="m:race", text="喜欢 染发"))), fleet.clock)
    change = await migrator.amend(user)
    assert change is None  # on its retry the customer was already migrated, by the callback's turn
    assert migrator.metrics.total("conflicts") == 1
    await assert_consistent(fleet, user)
    assert (await fleet.records())[user].attrs["favourite"] == "染发"


async def test_a_migration_landing_inside_a_callback_wins_and_the_callback_is_decided_again(fleet):
    user = next(u for u, c in (await fleet.records()).items() if c.state == "welcomed")
    migrator = fleet.v2()
    callback = Runtime(SalonV2(), RaceOnCommit(fleet.store, lambda: migrator.amend(user)), fleet.clock)
    outcome = await callback.handle(BusinessEvent(user=user, dedupe_key="b:race", name="joined"))
    assert outcome.transitions == [("join", "greeted", "member")]
    assert callback.metrics.total("conflicts") == 1
    await assert_consistent(fleet, user)
    assert (await fleet.records())[user].state == "member"
