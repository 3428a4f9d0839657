"""``persona replay``: a real customer's history, then and now."""

from __future__ import annotations

from persona import BusinessEvent, FakeClock, PlatformEvent, Runtime, TextMessage
from persona.migrate.replay import replay, sample
from persona.engine.scheduler import Scheduler
from persona.store import open_store
from tests.cli.conftest import run_persona
from tests.migrate.salon.v1 import SalonV1
from tests.migrate.salon.v2 import SalonV2


async def advance(runtime: Runtime, clock: FakeClock, seconds: float) -> None:
    """Move the clock, firing each timer at its time, as a running scheduler would."""
    scheduler, end = Scheduler(runtime), clock.now() + seconds
    while (due := await runtime.store.next_timer_due()) is not None and due <= end:
        clock.set(max(clock.now(), due))
        await scheduler.run_once()
    clock.set(end)


async def live_history(store) -> None:
    """Two customers live three weeks with version 1: subscribe, chat, a nudge, the day-15 note."""
    clock = FakeClock("2026-11-01 09:00")
    v1 = Runtime(SalonV1(), store, clock)
    await v1.handle(PlatformEvent(user="amy", dedupe_key="e:1", name="subscribe"))
    await advance(v1, clock, 3600)
    await v1.handle(TextMessage(user="amy", dedupe_key="m:1", text="喜欢 美甲"))
    await v1.handle(PlatformEvent(user="bo", dedupe_key="e:2", name="subscribe"))
    await v1.handle(BusinessEvent(user="bo", dedupe_key="b:1", name="joined"))
    await advance(v1, clock, 21 * 86400)


async def test_replaying_against_the_same_version_changes_nothing(store):
    await live_history(store)
    result = await replay(SalonV1, store, "amy")
    assert result.complete and [s.input for s in result.steps] == [
        "wechat subscribe", "text '喜欢 美甲'", "timer nudge", "timer day15"]
    assert result.differences == []
    assert [s.script for s in result.steps[1].now] == ["noted"]
    assert result.steps[1].now[0].text == "记住啦：你喜欢美甲。"


async def test_replay_shows_what_the_new_version_would_say(store):
    await live_history(store)
    result = await replay(SalonV2, store, "amy")
    by_input = {s.input: s for s in result.steps}
    day15 = by_input["timer day15"]
    assert day15.differs and day15.then[0].script == day15.now[0].script == "day15"
    assert day15.now[0].text == "两周多没见啦，这周护理八折。"
    nudge = by_input["timer nudge"]
    assert nudge.then and nudge.now is None  # the removed timer no longer fires
    assert not by_input["text '喜欢 美甲'"].differs  # same words from a renamed attribute
    summary = await sample(SalonV2, store, 5, seed=1)
    assert sorted(r.user for r in summary) == ["amy", "bo"] and all(r.differences for r in summary)


def test_the_replay_command_prints_then_and_now_side_by_side(tmp_path):
    import asyncio

    url = f"sqlite:///{tmp_path}/salon.db"

    async def setup() -> None:
        store = open_store(url, "salon")
        await live_history(store)
        await store.close()

    asyncio.run(setup())
    out = run_persona("replay", "tests.migrate.salon.v2", "amy", "--store", url)
    assert out.returncode == 0, out.stderr
    assert "timer day15   ≠" in out.stdout
    assert "day15 (drop): 两周多没见啦，这周护理八折。" in out.stdout  # the 48-hour window had closed, then as now
    assert "(no such turn)" in out.stdout
    many = run_persona("replay", "tests.migrate.salon.v2", "--sample", "10", "--store", url)
    assert many.returncode == 0, many.stderr
    assert many.stdout.startswith("2 customers replayed, 2 with differences")
    missing = run_persona("replay", "tests.migrate.salon.v2", "nobody", "--store", url)
    assert missing.returncode == 1 and "no journal for 'nobody'" in missing.stdout
    assert run_persona("replay", "tests.migrate.salon.v2", "--store", url).returncode == 2



def test_every_journaled_kind_of_input_comes_back_as_it_was():
    from persona.model.inputs import AgentAction, AgentInput, Door, MediaMessage, Platform, from_record, to_record
    import dataclasses
    import json

    inputs = [
        TextMessage(user="u", dedupe_key="m:1", text="你好", msg_id="1", platform=Platform.WECOM),
        MediaMessage(user="u", dedupe_key="m:2", media_type="image", payload={"media_id": "M1"}),
        PlatformEvent(user="u", dedupe_key="e:1", name="click", key="MENU_1", data={"x": 1},
                      platform=Platform.WECHAT, door=Door.STAFF),
        BusinessEvent(user="u", dedupe_key="b:1", name="joined", data={"plan": "gold"}),
        AgentInput(user="u", dedupe_key="a:1", agent="zhang", action=AgentAction.CLOSE),
    ]
    for inp in inputs:
        raw = json.loads(json.dumps(to_record(inp)))  # as the journal keeps it
        back = from_record("u", raw, inp.dedupe_key)
        if hasattr(inp, "msg_id"):  # WeChat's id of the original message is not the replay's
            inp = dataclasses.replace(inp, msg_id=None)
        assert back == inp, raw
    from persona import TimerFired
    assert to_record(TimerFired(user="u", name="day15")) is None
